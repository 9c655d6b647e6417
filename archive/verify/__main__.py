"""``python -m archive.verify``: the offline verifier's command line (receipts, dossiers), without Django."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from archive.verify import verify_receipt
from archive.verify.dossier import describe, verify_dossier

# --- Command line ------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m archive.verify", description="Check the platform's records offline (no Django needed)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    receipt = commands.add_parser("receipt", help="check a receipt (signature, time-stamp, ledger inclusion)")
    receipt.add_argument("file", type=Path, help="the receipt (JSON)")
    receipt.add_argument("--ca", type=Path, required=True, help="PEM certificate(s) of the platform's CA")
    receipt.add_argument(
        "--tsa-ca", type=Path, help="PEM certificate(s) the time-stamp authority chains to (default: --ca)"
    )
    receipt.add_argument(
        "--checkpoint", type=Path, help="a later signed checkpoint (JSON, with a consistency proof from the receipt)"
    )
    receipt.add_argument(
        "--action",
        help="the ledger action the receipt must be for, e.g. tendering.bid.submitted or tendering.bid.withdrawn",
    )
    dossier = commands.add_parser(
        "dossier", help="check a case's dossier (every object, hash, signature, time-stamp and ledger proof)"
    )
    dossier.add_argument("file", type=Path, help="the dossier (.tar)")
    dossier.add_argument("--ca", type=Path, required=True, help="PEM certificate(s) of the platform's CA")
    dossier.add_argument(
        "--tsa-ca", type=Path, help="PEM certificate(s) the time-stamp authority chains to (default: --ca)"
    )
    dossier.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        help="a signed checkpoint held from elsewhere (JSON) that the dossier's ledger must extend; repeatable",
    )
    arguments = parser.parse_args(argv)
    if arguments.command == "dossier":
        return _dossier_command(arguments)

    try:
        receipt_bytes = arguments.file.read_bytes()
        ca = arguments.ca.read_bytes()
        tsa = arguments.tsa_ca.read_bytes() if arguments.tsa_ca else None
        checkpoint = arguments.checkpoint.read_bytes() if arguments.checkpoint else None
    except OSError as exc:
        print(f"FAILED: cannot read {exc.filename}: {exc.strerror}")
        return 1
    result = verify_receipt(receipt_bytes, ca, tsa_trusted_pem=tsa, checkpoint=checkpoint, action=arguments.action)
    if not result.ok:
        print(f"FAILED: {result.reason}")
        return 1
    assert result.entry is not None and result.time is not None
    print(
        f"OK: receipt for ledger entry {result.seq} ({result.entry['action']}, case {result.entry['case']}), "
        f"in the tree of {result.tree_size} entries"
    )
    print(f"time-stamped {result.time.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}")
    print(f"subject {json.dumps(result.subject, ensure_ascii=False, sort_keys=True)}")
    if result.checkpoint_size is not None:
        print(f"still in the ledger at the signed checkpoint of {result.checkpoint_size} entries")
    return 0


def _dossier_command(arguments: argparse.Namespace) -> int:
    try:
        ca = arguments.ca.read_bytes()
        tsa = arguments.tsa_ca.read_bytes() if arguments.tsa_ca else None
        held = [path.read_bytes() for path in arguments.checkpoint]
    except OSError as exc:
        print(f"FAILED: cannot read {exc.filename}: {exc.strerror}")
        return 1
    if not arguments.file.is_file():
        print(f"FAILED: cannot read {arguments.file}: no such file")
        return 1
    result = verify_dossier(arguments.file, ca, tsa_trusted_pem=tsa, held_checkpoints=held)
    print(describe(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
