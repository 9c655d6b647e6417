#!/usr/bin/env python3
"""Throughput of ``ObjectStore.put`` against raw baselines measured in the same run.

S3 (``MinioObjectStore`` on a one-node Ceph RGW on 127.0.0.1, started here with
``deploy/s3_test_server.py``, or the server named by ``S3_ENDPOINT``):

* baseline: the raw ``minio`` client's ``put_object`` of the same file, part size
  8 MiB, once with minio's default of 3 parallel part uploads and once with 1
  (sequential, like the store);
* subject: ``MinioObjectStore.put`` of the same file (it hashes SHA-256 while
  streaming, multipart above the part size), plus the peak Python memory
  (tracemalloc) of one extra put per size, to show it does not grow with the size.

Filesystem (``FilesystemObjectStore`` in a temporary folder):

* baseline: ``shutil.copyfileobj`` of the file through a SHA-256-hashing reader
  into a file in the same folder, then ``fsync`` (the store fsyncs too);
* subject: ``FilesystemObjectStore.put`` of the same file.

Each variant runs ``--reps`` times per size, in rotating order; the medians and
the ratio subject/baseline are printed. Every version written is deleted right
after it is timed. Traffic goes to 127.0.0.1 only. See bench/README.md.

    .venv/bin/python bench/object_store_put.py --sizes 8,64,256 --reps 5
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the repository root, for bench.common and the platform
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    PART_SIZE,
    MiB,
    Row,
    Server,
    emit,
    file_sha256,
    machine_line,
    parse_sizes,
    s3_server,
    setup_django,
    timed,
    write_random,
)

# --- measuring ------------------------------------------------------------------------


@dataclass
class Series:
    name: str
    seconds: dict[int, list[float]] = field(default_factory=dict)
    peak_bytes: dict[int, int] = field(default_factory=dict)

    def add(self, size: int, seconds: float) -> None:
        self.seconds.setdefault(size, []).append(seconds)

    def mib_s(self, size: int) -> list[float]:
        return [size / MiB / s for s in self.seconds[size]]

    def median(self, size: int) -> float:
        return statistics.median(self.mib_s(size))


def peak_python_memory(run: Callable[[], Callable[[], None] | None]) -> int:
    """Peak of Python allocations (tracemalloc) during ``run`` above what was allocated before it."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        cleanup = run()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    if cleanup:
        cleanup()
    return peak


def measure(
    variants: list[tuple[Series, Callable[[int], Callable[[], Callable[[], None] | None]]]],
    sizes: list[int],
    reps: int,
    label: str,
) -> None:
    """Every variant ``reps`` times per size, the order rotating each repetition (drift hits all alike)."""
    for size in sizes:
        for rep in range(reps):
            shift = rep % len(variants)
            for series, make in variants[shift:] + variants[:shift]:
                seconds, cleanup = timed(make(size))
                if cleanup:
                    cleanup()
                series.add(size, seconds)
            print(
                f"  {label} {size // MiB:>4} MiB rep {rep + 1}/{reps}: "
                + ", ".join(f"{s.name} {size / MiB / s.seconds[size][-1]:.0f}" for s, _ in variants)
                + " MiB/s",
                flush=True,
            )


class HashingReader:
    """Reads at most ``limit`` bytes of ``stream``, hashing them with SHA-256 on the way."""

    def __init__(self, stream: Any, limit: int) -> None:
        self.stream, self.remaining, self.sha = stream, limit, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size < 0 else min(size, self.remaining)
        data: bytes = self.stream.read(size)
        self.remaining -= len(data)
        self.sha.update(data)
        return data


def hash_throughput(data: bytes) -> dict[str, float]:
    """MiB/s of SHA-256 and MD5 over ``data`` in memory (best of 3): the CPU cost of hashing a stream."""
    result = {}
    for name in ("sha256", "md5"):
        best = min(timed(lambda name=name: hashlib.new(name, data).digest() and None)[0] for _ in range(3))
        result[name] = len(data) / MiB / best
    return result


# --- the two benchmarks -------------------------------------------------------------------


def bench_s3(server: Server, source: Path, sizes: list[int], reps: int, digests: dict[int, str]) -> dict[str, Any]:
    from minio import Minio

    from archive.storage import MinioObjectStore

    bucket = f"etender-bench-{secrets.token_hex(6)}"
    store = MinioObjectStore(
        server.endpoint, server.access_key, server.secret_key, bucket, secure=server.secure, part_size=PART_SIZE
    )
    store.ensure_bucket()  # object lock on, hence versioned: the platform's bucket
    raw = Minio(server.endpoint, access_key=server.access_key, secret_key=server.secret_key, secure=server.secure)

    def raw_put(parallel: int) -> Callable[[int], Callable[[], Callable[[], None] | None]]:
        def make(size: int) -> Callable[[], Callable[[], None] | None]:
            def run() -> Callable[[], None]:
                key = f"bench/raw-{parallel}/{secrets.token_hex(4)}"
                with open(source, "rb") as f:
                    result = raw.put_object(bucket, key, f, size, part_size=PART_SIZE, num_parallel_uploads=parallel)
                return lambda: raw.remove_object(bucket, key, version_id=result.version_id)

            return run

        return make

    def store_put(size: int) -> Callable[[], Callable[[], None] | None]:
        def run() -> Callable[[], None]:
            key = f"bench/store/{secrets.token_hex(4)}"
            with open(source, "rb") as f:
                stored = store.put(key, f, length=size)
            if stored.sha256 != digests[size] or stored.size != size:
                raise AssertionError(f"MinioObjectStore.put returned {stored}, expected sha256 {digests[size]}")
            return lambda: store.delete(key, stored.version_id)

        return run

    parallel = Series("raw put_object, 3 parallel parts")
    sequential = Series("raw put_object, 1 part at a time")
    subject = Series("MinioObjectStore.put")
    variants = [(parallel, raw_put(3)), (sequential, raw_put(1)), (subject, store_put)]
    try:
        for _, make in variants:  # warm-up: connections, bucket, server caches
            timed(make(sizes[0]))[1]()  # type: ignore[misc]
        measure(variants, sizes, reps, "s3")
        for size in sizes:
            for series, make in variants:
                series.peak_bytes[size] = peak_python_memory(make(size))
    finally:
        with contextlib.suppress(Exception):
            for obj in raw.list_objects(bucket, recursive=True, include_version=True):
                raw.remove_object(bucket, obj.object_name, version_id=obj.version_id)
            raw.remove_bucket(bucket)
    return {"series": [parallel, sequential, subject], "bucket": bucket}


def bench_filesystem(work: Path, source: Path, sizes: list[int], reps: int, digests: dict[int, str]) -> dict[str, Any]:
    from archive.storage import FilesystemObjectStore

    store = FilesystemObjectStore(work / "fs-store")
    store.ensure_bucket()
    copies = work / "copies"
    copies.mkdir()

    def copy(size: int) -> Callable[[], Callable[[], None] | None]:
        def run() -> Callable[[], None]:
            target = copies / secrets.token_hex(8)
            with open(source, "rb") as f, open(target, "wb") as out:
                reader = HashingReader(f, size)
                shutil.copyfileobj(reader, out, MiB)  # type: ignore[misc]
                out.flush()
                os.fsync(out.fileno())
            if reader.sha.hexdigest() != digests[size]:
                raise AssertionError("baseline copy hashed other bytes")
            return target.unlink

        return run

    def store_put(size: int) -> Callable[[], Callable[[], None] | None]:
        def run() -> Callable[[], None]:
            key = f"bench/{secrets.token_hex(4)}"
            with open(source, "rb") as f:
                stored = store.put(key, f, length=size)
            if stored.sha256 != digests[size]:
                raise AssertionError(f"FilesystemObjectStore.put returned {stored}, expected sha256 {digests[size]}")
            return lambda: store.delete(key, stored.version_id)

        return run

    baseline = Series("copyfileobj + sha256 + fsync")
    subject = Series("FilesystemObjectStore.put")
    variants = [(baseline, copy), (subject, store_put)]
    for _, make in variants:
        timed(make(sizes[0]))[1]()  # type: ignore[misc]
    measure(variants, sizes, reps, "fs")
    for size in sizes:
        subject.peak_bytes[size] = peak_python_memory(store_put(size))
    return {"series": [baseline, subject]}


# --- report ---------------------------------------------------------------------------------


def table(series: list[Series], sizes: list[int], subject: Series, baselines: list[Series]) -> list[str]:
    head = ["size"] + [f"{s.name} MiB/s" for s in series] + [f"ratio vs {b.name}" for b in baselines]
    head.append("peak Python memory of the subject put")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for size in sizes:
        cells = [f"{size // MiB} MiB"]
        for s in series:
            values = s.mib_s(size)
            cells.append(f"{s.median(size):.0f} ({min(values):.0f}–{max(values):.0f})")
        for b in baselines:
            cells.append(f"{subject.median(size) / b.median(size):.2f}")
        cells.append(f"{subject.peak_bytes[size] / MiB:.1f} MiB")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("8,64,256"), help="MiB, comma-separated")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each variant per size (default 5)")
    parser.add_argument("--skip-s3", action="store_true", help="only the filesystem store")
    parser.add_argument("--skip-fs", action="store_true", help="only the S3 store")
    parser.add_argument(
        "--osd",
        choices=["auto", "memstore", "bluestore"],
        default="auto",
        help="OSD of the Ceph started here: auto = memstore unless the data written would not fit in RAM",
    )
    parser.add_argument("--tmp-dir", type=Path, default=None, help="folder for the source file, stores, Ceph")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error("--reps must be at least 1")

    sizes: list[int] = args.sizes
    work = Path(tempfile.mkdtemp(prefix="etender-bench-put-", dir=args.tmp_dir))
    server: Server | None = None
    results: dict[str, Any] = {}
    failed = True
    try:
        setup_django(work / "var")
        source = work / "source.bin"
        write_random(source, sizes[-1])
        digests = {size: file_sha256(source, size) for size in sizes}
        with open(source, "rb") as f:
            sample = f.read(min(sizes[-1], 64 * MiB))
        hashing = hash_throughput(sample)
        del sample
        print(f"work folder {work}; SHA-256 {hashing['sha256']:.0f} MiB/s, MD5 {hashing['md5']:.0f} MiB/s in memory")

        if not args.skip_s3:
            # Every variant writes every size reps + 2 times (warm-up, memory); nothing is freed before RGW's GC.
            server = s3_server(work / "rgw", args.osd, (sum(sizes) * (args.reps + 1) + sizes[0]) * 3)
            results["s3"] = bench_s3(server, source, sizes, args.reps, digests)
        if not args.skip_fs:
            results["fs"] = bench_filesystem(work, source, sizes, args.reps, digests)
        failed = False
    finally:
        if server is not None and server.stop is not None:
            server.stop()
        if failed and (work / "rgw").exists():
            # Keep the Ceph logs for the post-mortem, not the data.
            for path in [work / "source.bin", work / "fs-store", work / "copies", *(work / "rgw").glob("osd.*")]:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            print(f"failed: Ceph logs kept in {work / 'rgw'}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"{machine_line()}; reps {args.reps}, part size {PART_SIZE // MiB} MiB")
    print(f"in-memory hashing: SHA-256 {hashing['sha256']:.0f} MiB/s, MD5 {hashing['md5']:.0f} MiB/s")
    report: dict[str, Any] = {"hashing_mib_s": hashing, "reps": args.reps}
    if "s3" in results:
        parallel, sequential, subject = results["s3"]["series"]
        print(f"\nS3: {server.description if server else ''}; median MiB/s (min–max)")
        print("\n".join(table([parallel, sequential, subject], sizes, subject, [parallel, sequential])))
        print(
            "peak Python memory of the raw puts: "
            + "; ".join(
                f"{s.name}: " + ", ".join(f"{s.peak_bytes[z] / MiB:.0f}" for z in sizes) + " MiB"
                for s in (parallel, sequential)
            )
        )
    if "fs" in results:
        baseline, subject = results["fs"]["series"]
        print("\nFilesystem: median MiB/s (min–max)")
        print("\n".join(table([baseline, subject], sizes, subject, [baseline])))
    for name, result in results.items():
        report[name] = {
            s.name: {
                str(size // MiB): {
                    "mib_s": s.mib_s(size),
                    "median": s.median(size),
                    "peak_bytes": s.peak_bytes.get(size),
                }
                for size in sizes
            }
            for s in result["series"]
        }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    emit(headline_rows(results, sizes))
    return 0


def headline_rows(results: dict[str, Any], sizes: list[int]) -> list[Row]:
    """The largest size's ratios (no goal in the issue: the store's put is a part of submit, which has one)."""
    rows = []
    size = sizes[-1]
    if "s3" in results:
        parallel, sequential, subject = results["s3"]["series"]
        for baseline in (parallel, sequential):
            rows.append(
                Row(
                    "object_store_put",
                    f"S3 put, {size // MiB} MiB",
                    subject.name,
                    baseline.name,
                    subject.median(size) / baseline.median(size),
                )
            )
    if "fs" in results:
        baseline, subject = results["fs"]["series"]
        rows.append(
            Row(
                "object_store_put",
                f"filesystem put, {size // MiB} MiB",
                subject.name,
                baseline.name,
                subject.median(size) / baseline.median(size),
            )
        )
    return rows


if __name__ == "__main__":
    sys.exit(main())
