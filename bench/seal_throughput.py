#!/usr/bin/env python3
"""Sealing throughput of ``tendering.sealing.seal_bid`` against raw AES-GCM + SHA-256 over the same bytes.

Generates a file of ``--size`` bytes (default 1 GiB) in a temporary folder,
makes one untimed pass over it, then runs, each in a child process of its
own, alternately ``--repeat`` times:

* seal: ``seal_bid(file, …)`` with 5 custodians (k = 3), writing the sealed
  bid to a file beside it: the bid container, 1 MiB segments, SHA-256 of the
  ciphertext, envelopes, manifest and signature;
* baseline: the same file read in 1 MiB segments with ``readinto``, each
  segment AES-256-GCM encrypted (``cryptography``'s ``encrypt_into``), the
  ciphertext hashed with SHA-256 and written to a file: the least any sealing
  on ``cryptography`` must do (no tar, no envelopes);
* for scale, the same AES-GCM + SHA-256 over a buffer in memory (no I/O).

Prints each throughput (plaintext bytes per second, best run), the ratio
seal/baseline (goal ≥ 0.7) and the peak RSS of sealing (goal < 150 MB
whatever the size): ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` right
after the first sealing child, before any other child has run, and the
largest ``ru_maxrss`` of every sealing child (from ``os.wait4``). The folder
is removed at the end.

    .venv/bin/python bench/seal_throughput.py --size 1GiB
    .venv/bin/python bench/seal_throughput.py --size 4GiB --sink null

Writing to a file on this machine's disk varies from run to run by a factor
of two (page cache writeback); ``--sink null`` (/dev/null) leaves the disk
out of both sides and shows the library's own cost.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository root, for bench.common and the platform
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BENCH, ROOT, SEGMENT, Row, emit, machine_line, parse_size


def generate(path: Path, size: int) -> None:
    """A pseudo-random file, fast: one random 8 MiB block, each copy stamped with its index."""
    block = bytearray(random.Random(20260302).randbytes(8 << 20))
    with open(path, "wb", buffering=0) as out:
        index = 0
        remaining = size
        while remaining:
            block[:8] = index.to_bytes(8, "big")
            take = min(remaining, len(block))
            out.write(memoryview(block)[:take])
            remaining -= take
            index += 1
        os.fsync(out.fileno())


# -- children ---------------------------------------------------------------------------------------------------


def child_seal(source: str, target: str) -> dict[str, float]:
    from cryptography.hazmat.primitives.asymmetric import ec

    from accounts.credit_code import make
    from tendering.sealing import BidIdentity, LotPrice, PriceSummary, seal_bid

    identity = BidIdentity(
        "0b5e2a8c-8f0e-4b8e-9d7a-3c1f2e4d5a6b", "5d1c9e7a-2b3f-4c8d-a1e6-7f9b0c2d4e8a", make("91360781MA0000001")
    )
    summary = PriceSummary.for_bid(identity, [LotPrice("1", "12345678.90", 365, {"质量标准": "合格"})])
    signing = ec.generate_private_key(ec.SECP256R1())
    encryption = ec.generate_private_key(ec.SECP256R1()).public_key()
    custodians = [ec.generate_private_key(ec.SECP256R1()).public_key() for _ in range(5)]
    with open(target, "wb", buffering=0) as sink:
        start = time.perf_counter()
        sealed = seal_bid(
            source, summary, identity.tender, identity.bid, identity.bidder, signing, encryption, custodians, 3, sink
        )
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "ciphertext_size": sealed.size}


def child_baseline(source: str, target: str) -> dict[str, float]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(os.urandom(32))
    prefix = os.urandom(7)
    plaintext = memoryview(bytearray(SEGMENT - 16))
    ciphertext = memoryview(bytearray(SEGMENT))
    digest = hashlib.sha256()
    written = 0
    with open(source, "rb", buffering=0) as src, open(target, "wb", buffering=0) as sink:
        start = time.perf_counter()
        index = 0
        while got := src.readinto(plaintext):
            out = ciphertext[: got + 16]
            aead.encrypt_into(prefix + index.to_bytes(4, "big") + b"\0", plaintext[:got], None, out)
            digest.update(out)
            sink.write(out)
            written += got + 16
            index += 1
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "ciphertext_size": written}


def child_memory(size: int) -> dict[str, float]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(os.urandom(32))
    plaintext = memoryview(bytearray(random.Random(1).randbytes(SEGMENT - 16)))
    ciphertext = memoryview(bytearray(SEGMENT))
    digest = hashlib.sha256()
    segments = -(-size // len(plaintext))
    start = time.perf_counter()
    for index in range(segments):
        aead.encrypt_into(b"\0" * 7 + index.to_bytes(4, "big") + b"\0", plaintext, None, ciphertext)
        digest.update(ciphertext)
    return {"seconds": time.perf_counter() - start}


def run_child(*args: str) -> tuple[dict[str, float], float]:
    """The child's JSON result and its own peak RSS in MB (``ru_maxrss`` from ``wait4``, hence not common's)."""
    command = [sys.executable, str(BENCH / "seal_throughput.py"), "--child", *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT) as child:
        assert child.stdout is not None
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"the {args[0]} child failed ({child.returncode})")
    return json.loads(output), usage.ru_maxrss * 1024 / 1e6


# -- main -------------------------------------------------------------------------------------------------------


def _warm_up(source: Path, target: Path) -> None:
    """One untimed pass (read the file, write as much), so the first timed run does not pay for the disk's state."""
    buffer = memoryview(bytearray(SEGMENT))
    with open(source, "rb", buffering=0) as src, open(target, "wb", buffering=0) as out:
        while got := src.readinto(buffer):
            out.write(buffer[:got])
    _settle(target)


def _settle(target: Path) -> None:
    """Drop the output and flush the disk's queue before the next run."""
    target.unlink(missing_ok=True)
    os.sync()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=1 << 30, help="file size (default 1GiB)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each, the best counts (default 5)")
    parser.add_argument("--dir", default=None, help="where to make the temporary folder (default: the system's)")
    parser.add_argument(
        "--sink", choices=["file", "null"], default="file", help="write the ciphertext to a file or to /dev/null"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = {"seal": child_seal, "baseline": child_baseline, "memory": lambda s: child_memory(int(s))}[kind](*rest)
        print(json.dumps(result))
        return

    import cryptography

    size = args.size
    folder = Path(tempfile.mkdtemp(prefix="seal-bench-", dir=args.dir))
    try:
        source = folder / "bid.bin"
        target = folder / "sealed.bin"
        started = time.perf_counter()
        generate(source, size)
        print(
            f"{size:,} bytes ({size / (1 << 30):.2f} GiB) generated in {time.perf_counter() - started:.1f} s; "
            f"{machine_line(cryptography=cryptography.__version__)} (each run uses one)",
            flush=True,
        )
        sink = os.devnull if args.sink == "null" else str(target)
        _warm_up(source, target)
        seals: list[dict[str, float]] = []
        baselines: list[dict[str, float]] = []
        seal_rss: list[float] = []
        first_rss_mb = 0.0
        # Alternate, so that the state of the page cache and of the disk's writeback falls on both alike.
        for run in range(args.repeat):
            result, rss = run_child("seal", str(source), sink)
            seals.append(result)
            seal_rss.append(rss)
            if run == 0:
                # Only this sealing child has run yet: RUSAGE_CHILDREN's peak is its own.
                first_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e6
            _settle(target)
            baselines.append(run_child("baseline", str(source), sink)[0])
            _settle(target)
        memory = [run_child("memory", str(size))[0] for _ in range(args.repeat)]

        def rate(runs: list[dict[str, float]]) -> float:
            return size / min(r["seconds"] for r in runs) / 1e9

        seal_rate, base_rate, memory_rate = rate(seals), rate(baselines), rate(memory)
        where = "/dev/null" if args.sink == "null" else "a file"
        print(
            f"seal_bid to {where} (container, AES-GCM-HKDF stream, SHA-256, envelopes, signature): {seal_rate:.3f} GB/s"
        )
        print(
            f"baseline to {where} (read, AES-GCM per 1 MiB segment, SHA-256, write):               {base_rate:.3f} GB/s"
        )
        print(
            "for scale, AES-GCM + SHA-256 in memory (no I/O):"
            "                                     "
            f"{memory_rate:.3f} GB/s"
        )
        print(f"RATIO seal/baseline: {seal_rate / base_rate:.3f} (goal >= 0.7)")
        print(f"ratio seal/in-memory: {seal_rate / memory_rate:.3f}")
        print(
            f"peak RSS of sealing: {first_rss_mb:.1f} MB (RUSAGE_CHILDREN after the first sealing child), "
            f"{max(seal_rss):.1f} MB at most over the {args.repeat} sealing children (goal < 150 MB)"
        )
        print(
            f"runs (s): seal {[round(r['seconds'], 3) for r in seals]}, "
            f"baseline {[round(r['seconds'], 3) for r in baselines]}, memory {[round(r['seconds'], 3) for r in memory]}"
        )
        emit(
            [
                Row(
                    "seal_throughput",
                    f"sealing {size / (1 << 20):.0f} MiB to {where}",
                    "seal_bid",
                    "read + AES-GCM + SHA-256 + write",
                    seal_rate / base_rate,
                    ">= 0.7",
                ),
                Row("seal_throughput", "peak RSS of sealing", "seal_bid", "", max(seal_rss), "<= 150", unit="MB"),
            ]
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
