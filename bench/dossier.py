#!/usr/bin/env python3
"""A case's dossier (archive/dossier.py): built, signed and stored, then verified offline; the verifier's
hashing against ``sha256sum`` over the same files in the same run.

In a throw-away platform (``ETENDER_ENV=test``, SQLite, the filesystem object store in a temporary folder):
one case with ``--bids`` sealed bids of ``--bid-mib`` MiB each (random bytes, as ciphertext is) and three
tender documents, each put into the store and filed in the case (``archive.cases.file_object``) with its
ledger entry. Then, timed:

* build: ``build_dossier`` (each filed version read out of the store and checked, a fresh signed and
  time-stamped checkpoint, the ledger segment with its inclusion proofs, the bag made with ``bagit``, its
  manifest signed and time-stamped, the tar packed);
* store: the dossier put into the object store under GOVERNANCE retention (``file_dossier`` builds again:
  its time minus a build is the put);
* verify: ``verify_dossier`` on the file, as ``python -m archive.verify dossier`` runs it (unpack, every
  check, bagit's validation);
* hashing, the goal: bagit's validation as the verifier calls it (``Bag.validate``) over the unpacked bag,
  against ``sha256sum`` over the same files (every file of the bag), alternating ``--reps`` times, the
  page cache warm for both, median each; ratio = sha256sum's time / the verifier's (≥ 0.8 is the goal).

    .venv/bin/python bench/dossier.py --bids 50 --bid-mib 4
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository root, for bench.common and the platform
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, emit, machine_line, median, setup_django

MiB = 1024 * 1024


def file_the_case(case: str, bids: int, bid_bytes: int) -> int:
    """The case's objects, stored and filed; their total size."""
    import hashlib

    from django.db import transaction

    from archive import cases
    from archive.storage import get_object_store

    store = get_object_store()
    total = 0
    items = [(f"tender/documents/d{n}/招标文件{n}.pdf", os.urandom(256 * 1024)) for n in range(1, 4)]
    items += [(f"bids/b{n:03d}/bid.sealed", b"") for n in range(1, bids + 1)]
    for name, data in items:
        body = data or os.urandom(bid_bytes)
        stored = store.put(f"bench/{name.replace('/', '-')}", io.BytesIO(body), length=len(body))
        with transaction.atomic():
            cases.file_object(
                case,
                name,
                object_key=stored.key,
                version_id=stored.version_id or "",
                sha256=hashlib.sha256(body).hexdigest(),
                size=len(body),
                content_type="application/octet-stream",
            )
        total += len(body)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bids", type=int, default=50, help="sealed bids in the case (default 50)")
    parser.add_argument("--bid-mib", type=float, default=4, help="MiB per bid (default 4)")
    parser.add_argument("--reps", type=int, default=3, help="rounds of hashing, each way (default 3)")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="where the temporary folder goes")
    args = parser.parse_args(argv)
    if args.bids < 1 or args.bid_mib <= 0 or args.reps < 1:
        parser.error("--bids ≥ 1, --bid-mib > 0, --reps ≥ 1")
    if shutil.which("sha256sum") is None:
        parser.error("sha256sum (coreutils) is needed for the baseline")

    work = Path(tempfile.mkdtemp(prefix="etender-bench-dossier-", dir=args.tmp_dir))
    try:
        setup_django(work / "var", DATABASE_URL=None, S3_ENDPOINT=None, OBJECT_STORE_ROOT=str(work / "objects"))
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        import bagit
        from cryptography.hazmat.primitives import serialization

        from archive import signing
        from archive.dossier import build_dossier, file_dossier
        from archive.storage import Retention, RetentionMode
        from archive.verify.dossier import extract_all, verify_dossier
        from config import clock

        case = "tender:1"
        total = file_the_case(case, args.bids, int(args.bid_mib * MiB))
        print(f"filed {args.bids} bids of {args.bid_mib:g} MiB and 3 documents: {total / MiB:.1f} MiB", flush=True)

        began = time.perf_counter()
        dossier = build_dossier(case, work / "dossier.tar")
        build = time.perf_counter() - began
        began = time.perf_counter()
        retention = Retention(RetentionMode.GOVERNANCE, clock.now() + dt.timedelta(days=1))
        file_dossier(case, retention)
        build_and_store = time.perf_counter() - began
        ca = signing.development_ca()[1].public_bytes(serialization.Encoding.PEM)
        began = time.perf_counter()
        result = verify_dossier(dossier.path, ca)
        verify = time.perf_counter() - began
        if not result.ok:
            print(f"the dossier does not verify: {result.reason}", file=sys.stderr)
            return 1

        unpacked = work / "unpacked"
        with tarfile.open(dossier.path) as archive:
            extract_all(archive, unpacked)
        (root,) = unpacked.iterdir()
        files = sorted(str(p) for p in root.rglob("*") if p.is_file())
        bag_bytes = sum(os.path.getsize(f) for f in files)
        ours: list[float] = []
        theirs: list[float] = []
        openssl: list[float] = []
        for _ in range(args.reps):
            began = time.perf_counter()
            bagit.Bag(str(root)).validate(processes=1)
            ours.append(time.perf_counter() - began)
            began = time.perf_counter()
            subprocess.run(["sha256sum", *files], check=True, stdout=subprocess.DEVNULL)
            theirs.append(time.perf_counter() - began)
            if shutil.which("openssl"):  # shown, not judged: OpenSSL's SHA-256 (the CPU's SHA extensions)
                began = time.perf_counter()
                subprocess.run(["openssl", "dgst", "-sha256", *files], check=True, stdout=subprocess.DEVNULL)
                openssl.append(time.perf_counter() - began)
        hashing, baseline = median(ours), median(theirs)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(
        machine_line(bagit=bagit.VERSION)
        + f"; a case of {args.bids} bids × {args.bid_mib:g} MiB + 3 documents, dossier {dossier.size / MiB:.1f} MiB"
    )
    rate = dossier.size / MiB
    print(
        f"build {build:.2f} s ({rate / build:.0f} MiB/s), build and store {build_and_store:.2f} s "
        f"(the put alone about {max(0.0, build_and_store - build):.2f} s), verify offline {verify:.2f} s "
        f"({rate / verify:.0f} MiB/s); {result.objects} objects, {result.entries} ledger entries"
    )
    print(
        f"hashing {bag_bytes / MiB:.1f} MiB: the verifier (bagit) {hashing:.3f} s, sha256sum {baseline:.3f} s "
        f"(medians of {args.reps})" + (f"; openssl dgst -sha256 {median(openssl):.3f} s" if openssl else "")
    )
    rows = [
        Row(
            "dossier",
            f"verifier's hashing, {bag_bytes / MiB:.0f} MiB",
            "bagit's validation, as python -m archive.verify dossier runs it",
            "sha256sum over the same files",
            baseline / hashing,
            ">= 0.8",
            note=f"{hashing:.3f} s against {baseline:.3f} s",
        ),
        Row(
            "dossier",
            f"build, {args.bids} bids",
            "build_dossier",
            "",
            build,
            unit="s",
            note=f"{rate / build:.0f} MiB/s; build and store {build_and_store:.2f} s",
        ),
        Row(
            "dossier",
            "verify offline",
            "verify_dossier (unpack, every check, hashing)",
            "",
            verify,
            unit="s",
            note=f"{rate / verify:.0f} MiB/s",
        ),
    ]
    emit(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
