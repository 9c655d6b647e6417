"""Fixtures of the receipt tests: a private development PKI and TSA, a small ledger, a receipt."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from accounts.models import User
from archive import ledger, signing, timestamps
from archive.canonical import canonical_json
from archive.models import LedgerEntry
from archive.receipts import issue_receipt, receipt_signed_bytes
from config import clock

# What the bid service would record and have receipted (the receipt does not know what it means).
SUBMISSION = {
    "bid_id": 7,
    "tender_id": 42,
    "ciphertext_sha256": "5f" * 32,
    "ciphertext_size": 1_048_616,
    "manifest_sha256": "a1" * 32,
}
SUBJECT = {"bid_id": 7, "ciphertext_sha256": "5f" * 32}


@pytest.fixture
def bidder(db: Any) -> User:
    return User.objects.create_user(username="bidder", password="Bidder-Password-2026")


@pytest.fixture
def submitted(bidder: User, frozen_clock: clock.FrozenClock) -> LedgerEntry:
    """Entry 3 of a ledger of 6: two questions before the submission, three entries of another case after."""
    for i in range(2):
        ledger.record("tender:42", "tendering.question.asked", {"question_id": i}, bidder)
    frozen_clock.advance(minutes=5)
    entry = ledger.record("tender:42", "tendering.bid.submitted", SUBMISSION, bidder)
    for i in range(3):
        ledger.record("tender:43", "tendering.question.asked", {"question_id": i}, None)
    return entry


@pytest.fixture
def receipt(submitted: LedgerEntry) -> bytes:
    return issue_receipt(submitted, SUBJECT)


@pytest.fixture
def ca_pem(receipt: bytes) -> bytes:
    return signing.development_ca()[1].public_bytes(serialization.Encoding.PEM)


def load(receipt: bytes) -> dict[str, Any]:
    return json.loads(receipt)


def dump(receipt: dict[str, Any]) -> bytes:
    return canonical_json(receipt)


def resign(
    receipt: dict[str, Any],
    key: ec.EllipticCurvePrivateKey | None = None,
    chain: Sequence[x509.Certificate] | None = None,
) -> bytes:
    """The receipt signed again (by the platform, or by ``key`` with ``chain``) and time-stamped again."""
    if chain is not None:
        receipt = {
            **receipt,
            "platform_certificate_chain": [c.public_bytes(serialization.Encoding.PEM).decode() for c in chain],
        }
    key = key or signing.platform_signer().private_key
    signature = key.sign(receipt_signed_bytes(receipt), ec.ECDSA(hashes.SHA256()))
    return dump(
        {
            **receipt,
            "signature": base64.b64encode(signature).decode(),
            "timestamp": base64.b64encode(timestamps.timestamp(signature)).decode(),
        }
    )
