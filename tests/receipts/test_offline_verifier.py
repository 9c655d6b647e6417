"""The offline verifier: ``python -m archive.verify receipt FILE --ca CA.pem``, without Django.

Run in a subprocess with a clean environment (no DJANGO_SETTINGS_MODULE), and
once more from a copy of just the framework-free modules with Django made
unimportable, to prove a bidder needs nothing of the platform's server side.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from archive import ledger, signing
from archive.canonical import checkpoint_body
from archive.receipts import checkpoint_evidence, verify_receipt
from tests.receipts.conftest import dump, load

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
# The modules the verifier is made of: nothing else of the platform.
VERIFIER_FILES = (
    "__init__.py",
    "canonical.py",
    "merkle.py",
    "strict_json.py",
    "tsp.py",
    "verify/__init__.py",
    "verify/__main__.py",
    "verify/dossier.py",
    "verify/pdf.py",
)
WITHOUT_DJANGO = (
    "import runpy, sys; sys.modules['django'] = None; sys.argv[0] = 'archive.verify'; "
    "runpy.run_module('archive.verify', run_name='__main__', alter_sys=True)"
)


def clean_environment(tmp_path: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}


def run(cwd: Path, tmp_path: Path, *args: str, block_django: bool = False) -> subprocess.CompletedProcess[str]:
    command = (
        [sys.executable, "-c", WITHOUT_DJANGO, *args]
        if block_django
        else [sys.executable, "-m", "archive.verify", *args]
    )
    return subprocess.run(
        command, cwd=cwd, env=clean_environment(tmp_path), capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def files(tmp_path: Path, receipt: bytes, ca_pem: bytes) -> dict[str, Path]:
    paths = {"receipt": tmp_path / "receipt.json", "ca": tmp_path / "ca.pem"}
    paths["receipt"].write_bytes(receipt)
    paths["ca"].write_bytes(ca_pem)
    return paths


def later_checkpoint(tmp_path: Path, since: int = 6, **changes: Any) -> Path:
    for i in range(2):
        ledger.record("tender:44", "tendering.question.asked", {"question_id": i}, None)
    document = {**checkpoint_evidence(ledger.make_checkpoint(), since), **changes}
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


# --- Refusals -----------------------------------------------------------------------------


def test_the_command_prints_the_first_failure_and_exits_1(tmp_path: Path, files: dict[str, Path]) -> None:
    changed = load(files["receipt"].read_bytes())
    changed["subject"]["bid_id"] = 8
    files["receipt"].write_bytes(dump(changed))

    result = run(REPO, tmp_path, "receipt", str(files["receipt"]), "--ca", str(files["ca"]))

    assert result.returncode == 1, result.stderr
    assert result.stdout == "FAILED: the subject's 'bid_id' differs from the ledger entry's data\n"


def test_the_command_refuses_a_file_it_cannot_read(tmp_path: Path, files: dict[str, Path]) -> None:
    result = run(REPO, tmp_path, "receipt", str(tmp_path / "missing.json"), "--ca", str(files["ca"]))

    assert result.returncode == 1
    assert result.stdout.startswith(f"FAILED: cannot read {tmp_path / 'missing.json'}")


def test_a_checkpoint_without_a_consistency_proof_is_refused(receipt: bytes, ca_pem: bytes, tmp_path: Path) -> None:
    path = later_checkpoint(tmp_path)
    document = json.loads(path.read_text())
    del document["consistency"]

    result = verify_receipt(receipt, ca_pem, checkpoint=document)
    assert result.reason.startswith("the checkpoint carries no consistency proof from 6 to 8 entries")


def test_a_checkpoint_whose_consistency_proof_fails_is_refused(receipt: bytes, ca_pem: bytes, tmp_path: Path) -> None:
    document = json.loads(later_checkpoint(tmp_path).read_text())
    document["consistency"]["proof"][0] = "00" * 32

    result = verify_receipt(receipt, ca_pem, checkpoint=document)
    assert result.reason == (
        "the checkpoint's tree of 8 entries does not extend the receipt's tree of 6 "
        "(the consistency proof fails: the ledger was rewritten?)"
    )


def test_a_checkpoint_with_a_changed_body_is_refused(receipt: bytes, ca_pem: bytes, tmp_path: Path) -> None:
    document = json.loads(later_checkpoint(tmp_path).read_text())
    document["body"]["created_at"] = "2020-01-01T00:00:00.000000Z"

    result = verify_receipt(receipt, ca_pem, checkpoint=document)
    assert result.reason == "the checkpoint's signature does not verify (size, root or time changed?)"


def test_a_checkpoint_with_a_timestamp_of_another_checkpoint_is_refused(
    receipt: bytes, ca_pem: bytes, tmp_path: Path
) -> None:
    first = ledger.checkpoint_document(ledger.make_checkpoint())
    document = json.loads(later_checkpoint(tmp_path).read_text())
    document["timestamp"] = first["timestamp"]

    result = verify_receipt(receipt, ca_pem, checkpoint=document)
    assert result.reason.startswith("the checkpoint's time-stamp does not hold: the time-stamp is over other data")


def test_a_checkpoint_signed_outside_the_trusted_ca_is_refused(
    receipt: bytes, ca_pem: bytes, tmp_path: Path, settings: Any
) -> None:
    settings.DEVELOPMENT_PKI_DIR = tmp_path / "another-pki"
    document = json.loads(later_checkpoint(tmp_path).read_text())

    result = verify_receipt(receipt, ca_pem, checkpoint=document)
    assert result.reason.startswith("the checkpoint's certificate is not issued by a trusted CA")


def test_a_checkpoint_older_than_the_receipt_is_refused(submitted: Any, ca_pem: bytes) -> None:
    from archive.receipts import issue_receipt
    from tests.receipts.conftest import SUBJECT

    old = ledger.checkpoint_document(ledger.make_checkpoint())
    ledger.record("tender:44", "tendering.question.asked", {"question_id": 9}, None)
    receipt = issue_receipt(submitted, SUBJECT)

    result = verify_receipt(receipt, ca_pem, checkpoint=old)
    assert result.reason == "the checkpoint (6 entries) is older than the receipt's tree (7 entries)"


def test_a_signed_checkpoint_of_the_same_size_with_another_root_is_a_fork(receipt: bytes, ca_pem: bytes) -> None:
    """The platform signed two different trees of 6 entries: the receipt and the checkpoint prove it."""
    signer = signing.platform_signer()
    body = {
        "type": "etender-ledger-checkpoint-v1",
        "tree_size": 6,
        "root": "ab" * 32,
        "created_at": "2026-03-02T02:00:00.000000Z",
    }
    signature = signer.private_key.sign(
        checkpoint_body(tree_size=6, root="ab" * 32, created_at=body["created_at"]), ec.ECDSA(hashes.SHA256())
    )
    document = {
        "body": body,
        "signature": base64.b64encode(signature).decode(),
        "certificate": signer.certificate_pem(),
    }

    result = verify_receipt(receipt, ca_pem, checkpoint=document)
    assert result.reason == "the checkpoint's root differs from the receipt's for the same 6 entries (a fork)"


# --- It works offline -------------------------------------------------------------------


def test_a_receipt_verifies_offline_in_a_clean_environment(tmp_path: Path, files: dict[str, Path]) -> None:
    result = run(REPO, tmp_path, "receipt", str(files["receipt"]), "--ca", str(files["ca"]))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "OK: receipt for ledger entry 3 (tendering.bid.submitted, case tender:42), in the tree of 6 entries",
        "time-stamped 2026-03-02T01:05:00.000000Z",
        'subject {"bid_id": 7, "ciphertext_sha256": "' + "5f" * 32 + '"}',
    ]


def test_the_verifier_runs_from_a_copy_of_its_modules_with_django_unimportable(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    copy = tmp_path / "verifier"
    (copy / "archive" / "verify").mkdir(parents=True)
    for name in VERIFIER_FILES:
        shutil.copy(REPO / "archive" / name, copy / "archive" / name)

    ok = run(copy, tmp_path, "receipt", str(files["receipt"]), "--ca", str(files["ca"]), block_django=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK: receipt for ledger entry 3")

    files["receipt"].write_bytes(files["receipt"].read_bytes()[:-10])
    cut = run(copy, tmp_path, "receipt", str(files["receipt"]), "--ca", str(files["ca"]), block_django=True)
    assert cut.returncode == 1
    assert cut.stdout.startswith("FAILED: the receipt is cut short")


def test_a_later_checkpoint_shows_the_entry_is_still_in_the_ledger(tmp_path: Path, files: dict[str, Path]) -> None:
    checkpoint = later_checkpoint(tmp_path)

    result = run(
        REPO, tmp_path, "receipt", str(files["receipt"]), "--ca", str(files["ca"]), "--checkpoint", str(checkpoint)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "still in the ledger at the signed checkpoint of 8 entries"


def test_a_checkpoint_of_the_receipts_own_tree_needs_no_consistency_proof(receipt: bytes, ca_pem: bytes) -> None:
    document = ledger.checkpoint_document(ledger.make_checkpoint())

    result = verify_receipt(receipt, ca_pem, checkpoint=document)
    assert result.ok, result.reason
    assert result.checkpoint_size == 6
