"""Receipts (回执): a signed, time-stamped statement that an entry is in the ledger.

``issue_receipt(entry, subject)`` is generic: the caller names what it wants
receipted (``subject``, e.g. a bid's id and ciphertext hash); the archive does
not know what it means, only that every key and value of it must be in the
entry's ``data``. The receipt carries the entry's bytes, its inclusion proof in
the current tree and that tree's size and root, the platform's certificate
chain, the platform's ECDSA signature and an RFC 3161 time-stamp over that
signature. Anyone holding the platform's CA certificate checks it offline with
``verify_receipt`` (``archive.verify``, no Django) or
``python -m archive.verify receipt FILE --ca CA.pem``.

docs/receipts.md is the format, byte by byte.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ImproperlyConfigured

from archive import merkle, timestamps
from archive.canonical import GENESIS_HASH, canonical_json, format_timestamp
from archive.ledger import (
    LedgerError,
    checkpoint_document,
    consistency_proof_between,
    entry_bytes,
    inclusion_proof_for,
)
from archive.models import LedgerCheckpoint, LedgerEntry
from archive.signing import platform_signer
from archive.verify import (
    RECEIPT_FORMAT,
    ReceiptVerification,
    receipt_signed_bytes,
    subject_problem,
    verify_receipt,
)
from config import clock

__all__ = [
    "RECEIPT_FORMAT",
    "ReceiptVerification",
    "checkpoint_evidence",
    "issue_receipt",
    "receipt_signed_bytes",
    "verify_receipt",
]


def _untampered(entry: LedgerEntry) -> tuple[LedgerEntry, bytes]:
    """The entry as stored and its bytes, rechecked from its contents: a receipt vouches for what the ledger holds.

    Its hashes are recomputed from its columns (not trusted as stored), and it
    must still be linked into the chain on both sides: someone who rewrote the
    entry and its two hashes together breaks the next entry's ``prev_hash``.
    """
    stored = LedgerEntry.objects.filter(seq=entry.seq).first()
    if stored is None or stored.entry_hash != entry.entry_hash:
        raise LedgerError(f"entry {entry.seq} is not the one the ledger holds; run manage.py verify_ledger")
    content = entry_bytes(stored)
    if hashlib.sha256(content).hexdigest() != stored.entry_hash or merkle.leaf_hash(content).hex() != stored.leaf_hash:
        raise LedgerError(f"entry {entry.seq} no longer matches its hashes; run manage.py verify_ledger")
    previous = (
        GENESIS_HASH
        if entry.seq == 1
        else LedgerEntry.objects.filter(seq=entry.seq - 1).values_list("entry_hash", flat=True).first()
    )
    following = LedgerEntry.objects.filter(seq=entry.seq + 1).values_list("prev_hash", flat=True).first()
    if stored.prev_hash != previous or following not in (None, stored.entry_hash):
        raise LedgerError(f"entry {entry.seq} is not linked into the hash chain; run manage.py verify_ledger")
    return stored, content


def issue_receipt(entry: LedgerEntry, subject: Mapping[str, Any]) -> bytes:
    """The receipt for ``entry`` naming ``subject``: RFC 8785 canonical JSON, UTF-8.

    It asks the time-stamp authority, over the network in production. Called
    inside the transaction that recorded the entry (so that the acceptance and
    its receipt commit together, and a TSA failure rolls both back), it keeps
    the ledger's head row locked for that round-trip, and every other append
    waits. Called after the commit, it locks nothing, but the entry stands even
    if no receipt can be had. Either way, hand the receipt out only after the
    commit: a receipt must never name an entry that rolled back.

    Refuses (``ValueError``/``TypeError``) an empty subject, one the ledger
    could not hold, or one that is not part of the entry's data; raises
    ``LedgerError`` if the stored entry no longer matches its hashes,
    ``ImproperlyConfigured`` if the platform certificate is not valid now, and
    ``timestamps.TimestampAuthorityError`` if no time-stamp can be had.
    """
    plain_subject = json.loads(canonical_json(subject))
    if not plain_subject:
        raise ValueError("a receipt needs a subject: the fields of the entry's data it vouches for")
    entry, content = _untampered(entry)
    data = json.loads(entry.data)
    problem = subject_problem(plain_subject, data)
    if problem:
        raise ValueError(f"entry {entry.seq} cannot be receipted with this subject: {problem}")

    signer = platform_signer()
    now = clock.now()
    if not signer.certificate.not_valid_before_utc <= now <= signer.certificate.not_valid_after_utc:
        raise ImproperlyConfigured(
            f"the platform certificate is valid from {signer.certificate.not_valid_before_utc.isoformat()} to "
            f"{signer.certificate.not_valid_after_utc.isoformat()}, not at the platform clock's {now.isoformat()}: "
            "a receipt signed now would not verify"
        )
    proof = inclusion_proof_for(entry.seq)
    if proof["leaf_hash"] != entry.leaf_hash:
        raise LedgerError(f"entry {entry.seq} changed while its proof was made; run manage.py verify_ledger")
    body = {
        "format": RECEIPT_FORMAT,
        "subject": plain_subject,
        "ledger": {
            "seq": entry.seq,
            "entry_hash": entry.entry_hash,
            "leaf_hash": entry.leaf_hash,
            "entry_bytes_b64": base64.b64encode(content).decode("ascii"),
            "tree_size": proof["tree_size"],
            "root": proof["root"],
            "inclusion_proof": proof["proof"],
        },
        "issued_at": format_timestamp(now),
        "platform_certificate_chain": [
            certificate.public_bytes(serialization.Encoding.PEM).decode("ascii") for certificate in signer.chain
        ],
    }
    signature = signer.sign(receipt_signed_bytes(body))
    token = timestamps.timestamp(signature)
    return canonical_json(
        {
            **body,
            "signature": base64.b64encode(signature).decode("ascii"),
            "timestamp": base64.b64encode(token).decode("ascii"),
        }
    )


def checkpoint_evidence(checkpoint: LedgerCheckpoint, since_tree_size: int) -> dict[str, Any]:
    """A checkpoint as the offline verifier's ``--checkpoint`` reads it: with the consistency proof
    from ``since_tree_size`` (a receipt's tree size) to the checkpoint's size."""
    if not 1 <= since_tree_size <= checkpoint.tree_size:
        raise ValueError(f"no consistency proof from {since_tree_size} to checkpoint {checkpoint.tree_size}")
    document = checkpoint_document(checkpoint)
    if since_tree_size < checkpoint.tree_size:
        proof = consistency_proof_between(since_tree_size, checkpoint.tree_size)
        if proof["new_root"] != checkpoint.root_hash:
            raise LedgerError(
                f"the entries no longer match checkpoint {checkpoint.tree_size}; run manage.py verify_ledger"
            )
        document["consistency"] = {
            "old_size": since_tree_size,
            "new_size": checkpoint.tree_size,
            "proof": proof["proof"],
        }
    return document
