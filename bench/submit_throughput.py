#!/usr/bin/env python3
"""End-to-end submission of a sealed bid (CLI → platform under Daphne → S3) against a raw minio put.

Everything runs on 127.0.0.1: a one-node Ceph RGW started here with
``deploy/s3_test_server.py`` (or the loopback server named by ``S3_ENDPOINT``),
the platform under Daphne in a child process (``ETENDER_ENV=test``: SQLite and a
development PKI in the temporary folder, the S3 server as its object store, a
fresh object-locked bucket), and the bidder's client in this process.

For each size (``--sizes``, MiB of plaintext) and each repetition, a fresh bid
is sealed with ``etender seal`` (untimed; ``bench/seal_throughput.py`` measures
sealing), then, in rotating order:

* subject: ``etender submit`` through its own code (``tendering.client.cli.main``
  in this process, no interpreter start-up): open the upload, stream every
  8 MiB part with ``http.client`` in order (the next part already on its way
  while the previous one's answer is awaited; ``--sequential`` measures
  ``etender submit --sequential`` instead), finalize (the server checks the
  signature, the envelopes, and reads the object back to hash it), save and
  verify the receipt with the pinned anchors;
* baseline: the raw ``minio`` client's ``put_object`` of the same sealed bytes to
  the same server and bucket, part size 8 MiB, with minio's default of 3
  parallel part uploads, and with 1 (sequential, as the platform's parts are).

Printed: median MiB/s (min–max) of each, the ratios (goal ≥ 0.6 of the raw put),
and memory: the Daphne process's peak RSS (``VmHWM``, reset through
``/proc/PID/clear_refs`` before each size) and the peak RSS of one extra
``etender submit`` run as its own process per size (``ru_maxrss``), to show both
stay flat as the bid grows. The folder, the cluster and Daphne are removed at the end.

    .venv/bin/python bench/submit_throughput.py --sizes 64,256 --reps 3
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the repository root, for bench.common and the platform
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    PART_SIZE,
    VENV_BIN,
    GiB,
    MiB,
    Row,
    Server,
    bench_tender_input,
    cpu_seconds,
    emit,
    machine_line,
    parse_sizes,
    postgres_database,
    proc_status,
    reset_peak_rss,
    s3_server,
    start_daphne,
    stop_process,
    write_random,
)

PASSWORD = "Bench-Bidder-2026"  # noqa: S105 - a throw-away persona on 127.0.0.1
PASSPHRASE = "bench signing passphrase"  # noqa: S105 - a throw-away key


# --- the platform ----------------------------------------------------------------------------------------------


def platform_environment(work: Path, server: Server, bucket: str, database_url: str) -> dict[str, str]:
    return {
        **({"DATABASE_URL": database_url} if database_url else {}),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "ETENDER_ENV": "test",
        "ETENDER_VAR_DIR": str(work / "var"),
        **server.environment(),
        "S3_BUCKET": bucket,
        "BID_MAX_BYTES": str(64 * GiB),
        "BID_PART_SIZE": str(PART_SIZE),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }


def empty_bucket(server: Server, bucket: str) -> None:
    """Delete every version in the bench's bucket and the bucket.

    On a shared S3 server (``S3_ENDPOINT``) the accepted bids would otherwise
    stay for good; RGW still frees the space only after its garbage-collection
    delay, so a run's writes (printed at the start) must fit the server anyway.
    """
    client = server.minio()
    with contextlib.suppress(Exception):
        for item in client.list_objects(bucket, recursive=True, include_version=True):
            query = {"versionId": item.version_id} if item.version_id else None
            client._execute(
                "DELETE",
                bucket,
                item.object_name,
                query_params=query,
                headers={"x-amz-bypass-governance-retention": "true"},
            )
        client.remove_bucket(bucket)


def prepare_platform(env: dict[str, str]) -> tuple[str, list[tuple[str, str]]]:
    """Database, bucket, personas and a tender open for bids (through the services); returns the tender id."""
    os.environ.update(env)
    import django

    django.setup()

    from django.core.management import call_command

    from accounts import credit_code
    from accounts.models import KeyPurpose, Organization, OrganizationKind, Role, RoleGrant, User
    from accounts.own_device import register_own_key
    from archive.storage import get_object_store
    from tendering.own_device import confirm_custody_as
    from tendering.services import documents, tenders
    from tests.fixtures.personas import PDF_BYTES, p256_public_der

    call_command("migrate", verbosity=0)
    get_object_store().ensure_bucket()

    def org(name: str, kind: str, index: int) -> Organization:
        return Organization.objects.create(name=name, kind=kind, credit_code=credit_code.make(f"91360781MB{index:07d}"))

    def user(username: str, organization: Organization, role: str) -> User:
        person = User.objects.create_user(
            username=username, password=PASSWORD, display_name=username, organization=organization
        )
        RoleGrant.objects.create(user=person, role=role)
        return person

    tenderer = user("bench_tenderer", org("瑞金城投", OrganizationKind.TENDERER, 1), Role.TENDERER_STAFF)
    user("bench_bidder", org("红土建设", OrganizationKind.BIDDER, 2), Role.BIDDER)
    regulator = org("瑞金市发改委", OrganizationKind.REGULATOR, 3)
    custodians = [user(f"bench_custodian{i}", regulator, Role.CUSTODIAN) for i in (1, 2, 3)]
    custodian_signing = []
    for custodian in custodians:
        register_own_key(custodian, KeyPurpose.ENCRYPTION, p256_public_der()[0])
        custodian_signing.append(p256_public_der()[0])
        register_own_key(custodian, KeyPurpose.SIGNING, custodian_signing[-1])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    deadline = now + dt.timedelta(days=30)
    draft = tenders.create_draft(
        tenderer,
        bench_tender_input("BENCH-2026-001", "投标提交基准测试", deadline, [c.pk for c in custodians]),
    )
    documents.add_document(tenderer, draft, "招标文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
    tender = tenders.publish(tenderer, draft)
    for custodian, signing in zip(custodians, custodian_signing, strict=True):
        confirm_custody_as(custodian, tender, signing)
    from django.db import connections

    connections.close_all()
    from tendering.sealing import fingerprint

    # The bidder trusts each custodian's signing key by fingerprint, as the custodian told it in person.
    pins = [(c.username, fingerprint(k.public_key())) for c, k in zip(custodians, custodian_signing, strict=True)]
    return str(tender.public_id), pins


# --- the client ---------------------------------------------------------------------------------------------------


def cli(*argv: str) -> None:
    from tendering.client.cli import main

    status = main(list(argv))
    if status != 0:
        raise SystemExit(f"etender {' '.join(argv)} failed ({status})")


def client_peak_rss(etb: Path, env: dict[str, str], options: list[str]) -> int:
    """Peak RSS (bytes) of ``etender submit`` run as its own process.

    Through a small Python wrapper: a child forked from this (large) process would
    count this process's pages in its ``ru_maxrss`` until it execs.
    """
    wrapper = (
        "import resource, subprocess, sys; "
        "status = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(status)"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper, str(VENV_BIN / "etender"), "submit", str(etb), *options],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise SystemExit(f"etender submit {etb} (own process) failed ({result.returncode})")
    return int(result.stdout.strip()) * 1024


class Series:
    def __init__(self, name: str) -> None:
        self.name = name
        self.seconds: dict[int, list[float]] = {}
        self.bytes: dict[int, int] = {}

    def add(self, size: int, nbytes: int, seconds: float) -> None:
        self.seconds.setdefault(size, []).append(seconds)
        self.bytes[size] = nbytes

    def mib_s(self, size: int) -> list[float]:
        return [self.bytes[size] / MiB / s for s in self.seconds[size]]

    def median(self, size: int) -> float:
        return statistics.median(self.mib_s(size))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=parse_sizes("64,256"),
        help="MiB of plaintext, comma-separated (default 64,256)",
    )
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each variant per size (default 3)")
    parser.add_argument(
        "--osd", choices=["auto", "memstore", "bluestore"], default="auto", help="OSD of the Ceph started here"
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="submit with `etender submit --sequential` (each part's answer awaited before the next part is sent)",
    )
    parser.add_argument(
        "--database",
        choices=["postgresql", "sqlite"],
        default="postgresql",
        help="the platform's database: PostgreSQL as deployed (default; a fresh database at --postgres-url, "
        "dropped at the end) or the embedded SQLite file",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/etender_bench_submit"),
    )
    parser.add_argument("--tmp-dir", type=Path, default=None, help="folder for the bids, the platform's files and Ceph")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    sizes: list[int] = args.sizes

    work = Path(tempfile.mkdtemp(prefix="etender-bench-submit-", dir=args.tmp_dir))
    server: Server | None = None
    daphne: subprocess.Popen[bytes] | None = None
    failed = True
    subject, parallel, sequential = (
        Series("etender submit" + (" --sequential" if args.sequential else "")),
        Series("raw put_object, 3 parallel parts"),
        Series("raw put_object, 1 part at a time"),
    )
    server_peak: dict[int, int] = {}
    # per size, per submit: (wall s, finalize s, Daphne CPU s, client CPU s)
    spent: dict[int, list[tuple[float, float, float, float]]] = {}
    sizes_now: list[int] = [0]
    client_peak: dict[int, int] = {}
    databases = contextlib.ExitStack()
    bucket = ""
    try:
        database_url = (
            databases.enter_context(postgres_database(args.postgres_url)) if args.database == "postgresql" else ""
        )
        # Every variant writes every size reps times, plus the extra client run and the warm-up;
        # RGW frees nothing meanwhile.
        server = s3_server(work / "rgw", args.osd, sum(sizes) * (3 * args.reps + 1) + 3 * sizes[0])
        bucket = f"etender-bench-{secrets.token_hex(6)}"
        if server.stop is None:
            written = sum(sizes) * (3 * args.reps + 1) + 3 * sizes[0]
            print(f"writing about {written / GiB:.1f} GiB into {server.description} (deleted at the end)", flush=True)
        env = platform_environment(work, server, bucket, database_url)
        tender_id, pins = prepare_platform(env)
        daphne, port = start_daphne(
            "config.asgi:application", {**os.environ, **env}, work / "daphne.log", "/api/archive/trust", serve=True
        )
        url = f"http://127.0.0.1:{port}"
        print(f"platform under Daphne at {url} (pid {daphne.pid}), bucket {bucket}", flush=True)

        client_env = {
            "ETENDER_HOME": str(work / "client"),
            "ETENDER_PASSWORD": PASSWORD,
            "ETENDER_PASSPHRASE": PASSPHRASE,
        }
        os.environ.update(client_env)
        cli("login", "--url", url, "--username", "bench_bidder")
        for purpose in ("signing", "encryption"):
            cli("keys", "generate", "--purpose", purpose)
            cli("keys", "register", "--purpose", purpose)
        for username, print_ in pins:
            cli("trust", "pin", username, print_)

        raw = server.minio()
        bids = work / "bids"
        bids.mkdir()
        counter = iter(range(1_000_000))

        def sealed(size: int) -> Path:
            plain = bids / f"plain-{size // MiB}.bin"
            if not plain.exists():
                write_random(plain, size)
            out = bids / f"bid-{next(counter)}.etb"
            with contextlib.redirect_stdout(io.StringIO()):
                cli("seal", str(plain), "--tender", tender_id, "--price", "1=8123456.70:180", "--out", str(out))
            return out

        def discard(etb: Path) -> None:
            for path in bids.glob(etb.name + "*"):
                path.unlink()

        submit_options = ["--sequential"] if args.sequential else []

        from tendering.client.upload import Uploader

        finalize_seconds: list[float] = []
        real_finalize = Uploader._finalize

        def timed_finalize(self: Uploader, *args: Any) -> Any:
            began = time.perf_counter()
            try:
                return real_finalize(self, *args)
            finally:
                finalize_seconds.append(time.perf_counter() - began)

        Uploader._finalize = timed_finalize  # type: ignore[method-assign]  # where the time goes, measured only

        def submit(etb: Path) -> float:
            assert daphne is not None
            server_cpu, own_cpu = cpu_seconds(daphne.pid), sum(os.times()[:2])
            began = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                cli("submit", str(etb), *submit_options)
            seconds = time.perf_counter() - began
            size = sizes_now[0]
            spent.setdefault(size, []).append(
                (seconds, finalize_seconds[-1], cpu_seconds(daphne.pid) - server_cpu, sum(os.times()[:2]) - own_cpu)
            )
            return seconds

        def raw_put(parallel_parts: int) -> Callable[[Path], float]:
            def run(etb: Path) -> float:
                key = f"bench/raw-{parallel_parts}/{secrets.token_hex(4)}"
                began = time.perf_counter()
                with open(etb, "rb") as f:
                    result = raw.put_object(
                        bucket, key, f, etb.stat().st_size, part_size=PART_SIZE, num_parallel_uploads=parallel_parts
                    )
                seconds = time.perf_counter() - began
                raw.remove_object(bucket, key, version_id=result.version_id)
                return seconds

            return run

        variants: list[tuple[Series, Callable[[Path], float]]] = [
            (subject, submit),
            (parallel, raw_put(3)),
            (sequential, raw_put(1)),
        ]
        warm = sealed(sizes[0])  # warm-up: connections, server caches
        for _, run in variants:
            run(warm)
        discard(warm)
        for size in sizes:
            sizes_now[:] = [size]
            peak_reset = reset_peak_rss(daphne.pid)
            for rep in range(args.reps):
                etb = sealed(size)
                nbytes = etb.stat().st_size
                shift = rep % len(variants)
                for series, run in variants[shift:] + variants[:shift]:
                    series.add(size, nbytes, run(etb))
                discard(etb)
                print(
                    f"  {size // MiB:>5} MiB rep {rep + 1}/{args.reps}: "
                    + ", ".join(f"{s.name} {s.mib_s(size)[-1]:.0f}" for s, _ in variants)
                    + " MiB/s",
                    flush=True,
                )
            etb = sealed(size)
            client_peak[size] = client_peak_rss(etb, client_env, submit_options)
            discard(etb)
            server_peak[size] = proc_status("VmHWM", daphne.pid) if peak_reset else -1
        failed = False
    finally:
        stop_process(daphne)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        databases.close()
        if server is not None and server.stop is None and bucket:
            empty_bucket(server, bucket)  # a server of others' (S3_ENDPOINT): leave nothing of ours in it
        if server is not None and server.stop is not None:
            server.stop()
        if failed:
            print(f"failed: logs kept in {work} (daphne.log, rgw/)", file=sys.stderr)
            shutil.rmtree(work / "bids", ignore_errors=True)
        else:
            shutil.rmtree(work, ignore_errors=True)

    import cryptography

    print()
    print(
        f"{machine_line(cryptography=cryptography.__version__)}; "
        f"reps {args.reps}; part size {PART_SIZE // MiB} MiB; {server.description if server else ''}; "
        f"database {args.database}"
    )
    head = [
        "plaintext",
        "sealed bid",
        *(f"{s.name} MiB/s" for s in (subject, parallel, sequential)),
        "ratio vs 3 parallel",
        "ratio vs sequential",
        "Daphne peak RSS",
        "client peak RSS",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for size in sizes:
        cells = [f"{size // MiB} MiB", f"{subject.bytes[size] / MiB:.1f} MiB"]
        for series in (subject, parallel, sequential):
            values = series.mib_s(size)
            cells.append(f"{series.median(size):.0f} ({min(values):.0f}–{max(values):.0f})")
        cells.append(f"{subject.median(size) / parallel.median(size):.2f}")
        cells.append(f"{subject.median(size) / sequential.median(size):.2f}")
        cells.append(f"{server_peak[size] / 1e6:.0f} MB" if server_peak[size] >= 0 else "n/a")
        cells.append(f"{client_peak[size] / 1e6:.0f} MB")
        print("| " + " | ".join(cells) + " |")
    print()
    print("Where the time of one `etender submit` goes (medians):")
    cols = ["plaintext", "wall", "of which finalize", "Daphne CPU", "client CPU", "Daphne CPU per MiB"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for size in sizes:
        wall, final, server_cpu, own_cpu = (statistics.median(v) for v in zip(*spent[size], strict=True))
        per_mib = server_cpu / (subject.bytes[size] / MiB) * 1000
        print(
            f"| {size // MiB} MiB | {wall:.2f} s | {final:.2f} s | {server_cpu:.2f} s | {own_cpu:.2f} s "
            f"| {per_mib:.1f} ms |"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "reps": args.reps,
                    "sizes_mib": [s // MiB for s in sizes],
                    "series": {
                        s.name: {str(size // MiB): {"mib_s": s.mib_s(size), "median": s.median(size)} for size in sizes}
                        for s in (subject, parallel, sequential)
                    },
                    "daphne_peak_rss_bytes": {str(k // MiB): v for k, v in server_peak.items()},
                    "client_peak_rss_bytes": {str(k // MiB): v for k, v in client_peak.items()},
                },
                indent=2,
            )
        )
    emit(
        [
            Row(
                "submit_throughput",
                f"submit, {size // MiB} MiB",
                subject.name,
                baseline.name,
                subject.median(size) / baseline.median(size),
                ">= 0.6" if baseline is parallel else "",
            )
            for size in sizes
            for baseline in (parallel, sequential)
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
