"""``etender receipt verify``: a receipt checked offline against the trust anchors pinned at login."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from tendering.client.commands.base import Registry, Session, note, say
from tendering.client.transport import ClientError
from tendering.client.upload import SealedFiles, receipt_subject_problem
from tendering.sealing import parse_manifest


def verify_with_pins(session: Session, receipt: bytes) -> Any:
    from archive.verify import verify_receipt

    pinned = session.pinned_trust()
    if pinned is None:
        return None
    anchors, tsa = pinned
    return verify_receipt(receipt, anchors, tsa_trusted_pem=tsa)


def report_receipt(session: Session, files: SealedFiles, receipt: bytes) -> int:
    """Verify a freshly saved receipt with the pinned anchors and that it names this bid; print the outcome."""
    manifest_bytes = files.manifest.read_bytes()
    manifest = parse_manifest(manifest_bytes)
    problem = receipt_subject_problem(receipt, manifest, manifest_bytes)
    if problem:
        say(f"FAILED: the receipt in {files.receipt} is not this bid's: {problem}")
        return 1
    result = verify_with_pins(session, receipt)
    subject = json.loads(receipt)["subject"]
    seq = json.loads(receipt)["ledger"]["seq"]
    if result is None:
        note(
            f"warning: receipt NOT verified: no trust anchors of {session.url} pinned in {session.home} "
            "(`etender login` pins them; then `etender receipt verify` checks it)"
        )
    elif not result.ok:
        say(f"FAILED: the receipt saved in {files.receipt} does not verify: {result.reason}")
        return 1
    else:
        stamped = result.time.strftime("%Y-%m-%d %H:%M:%S UTC") if result.time else "?"
        say(f"receipt verified (time-stamped {stamped}): {files.receipt}")
    say(f"ledger position {seq}")
    say(f"ciphertext SHA-256 {subject['ciphertext_sha256']}")
    return 0


def cmd_receipt_verify(args: argparse.Namespace, session: Session) -> int:
    from archive.verify import verify_receipt

    try:
        receipt = Path(args.receipt).read_bytes()
        if args.ca:
            anchors: bytes = args.ca.read_bytes()
            tsa = args.tsa_ca.read_bytes() if args.tsa_ca else None
        else:
            pinned = session.config.pinned_trust()
            if pinned is None:
                raise ClientError(
                    f"no trust anchors pinned in {session.home}: log in once, or give --ca (and --tsa-ca)"
                )
            anchors, tsa = pinned
            if args.tsa_ca:
                tsa = args.tsa_ca.read_bytes()
    except OSError as exc:
        say(f"FAILED: cannot read {exc.filename}: {exc.strerror}")
        return 1
    result = verify_receipt(receipt, anchors, tsa_trusted_pem=tsa)
    if not result.ok:
        say(f"FAILED: {result.reason}")
        return 1
    assert result.entry is not None and result.time is not None and result.subject is not None
    say(f"OK: ledger entry {result.seq} ({result.entry['action']}) in the tree of {result.tree_size} entries")
    say(f"time-stamped {result.time.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}")
    say(f"subject {json.dumps(result.subject, ensure_ascii=False, sort_keys=True)}")
    name = Path(args.receipt).name
    if name.endswith(".receipt.json"):
        files = SealedFiles(Path(args.receipt).with_name(name[: -len(".receipt.json")]))
        if files.manifest.exists():
            manifest_bytes = files.manifest.read_bytes()
            problem = receipt_subject_problem(receipt, parse_manifest(manifest_bytes), manifest_bytes)
            if problem:
                say(f"FAILED: the receipt does not name the sealed bid {files.bid}: {problem}")
                return 1
            say(f"names the sealed bid {files.bid} (manifest SHA-256 {hashlib.sha256(manifest_bytes).hexdigest()})")
    return 0


def register(registry: Registry) -> None:
    receipt = registry.group("receipt", "receipts")
    verify = registry.command(
        receipt, "verify", cmd_receipt_verify, "check a receipt offline against the pinned trust anchors"
    )
    verify.add_argument("receipt", help="the receipt (FILE.receipt.json)")
    verify.add_argument("--ca", type=Path, help="PEM trust anchors of the platform instead of the pinned ones")
    verify.add_argument("--tsa-ca", type=Path, help="PEM trust anchors of the time-stamp authority")
