"""Offline verification of the platform's records, without Django.

    python -m archive.verify receipt RECEIPT.json --ca CA.pem [--tsa-ca TSA.pem] [--checkpoint CHECKPOINT.json]
    python -m archive.verify dossier DOSSIER.tar --ca CA.pem [--tsa-ca TSA.pem]   (archive/dossier_check.py)

prints ``OK: …`` and exits 0, or prints ``FAILED: <the first thing that does
not hold>`` and exits 1. It needs ``cryptography``, ``asn1crypto`` and
``rfc8785`` and the framework-free modules ``archive.canonical``,
``archive.merkle`` and ``archive.tsp``; nothing here imports Django, so a
bidder or a regulator can run it with a copy of those files.

docs/receipts.md describes the receipt byte by byte and what each check proves.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from archive import merkle, strict_json
from archive.canonical import CHECKPOINT_TYPE, canonical_json, checkpoint_body
from archive.tsp import TimestampError, certificate_path_problem, verify_timestamp

RECEIPT_FORMAT = "etender-receipt-v1"
RECEIPT_FIELDS = ("format", "subject", "ledger", "issued_at", "platform_certificate_chain", "signature", "timestamp")
# Fields outside the platform's signature: the signature itself, and the time-stamp over it.
UNSIGNED_FIELDS = ("signature", "timestamp")
LEDGER_FIELDS = ("seq", "entry_hash", "leaf_hash", "entry_bytes_b64", "tree_size", "root", "inclusion_proof")
ENTRY_FIELDS = ("seq", "case", "action", "actor_id", "actor", "recorded_at", "data", "prev")
CHECKPOINT_BODY_FIELDS = ("type", "tree_size", "root", "created_at")

_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


class Refused(Exception):
    """One check failed; the message is the reason shown to the person verifying."""


@dataclass(frozen=True)
class ReceiptVerification:
    ok: bool
    subject: dict[str, Any] | None
    seq: int | None
    time: dt.datetime | None  # the time-stamp's genTime: when the TSA saw the platform's signature
    reason: str
    tree_size: int | None = None
    entry: dict[str, Any] | None = field(default=None, repr=False)  # the ledger entry, decoded
    checkpoint_size: int | None = None  # the later checkpoint checked against, if one was given


def receipt_signed_bytes(receipt: Mapping[str, Any]) -> bytes:
    """The bytes the platform signs: RFC 8785 of the receipt without ``signature`` and ``timestamp``."""
    return canonical_json({key: value for key, value in receipt.items() if key not in UNSIGNED_FIELDS})


def subject_problem(subject: Mapping[str, Any], data: Mapping[str, Any]) -> str | None:
    """Why ``subject`` is not part of the entry's ``data`` (each key present with an identical JSON value), or None."""
    for key, value in subject.items():
        if key not in data:
            return f"the subject's {key!r} is not in the ledger entry's data"
        if canonical_json(value) != canonical_json(data[key]):
            return f"the subject's {key!r} differs from the ledger entry's data"
    return None


def verify_receipt(
    receipt_bytes: bytes,
    trusted_ca_pem: bytes | str,
    *,
    tsa_trusted_pem: bytes | str | None = None,
    checkpoint: bytes | Mapping[str, Any] | None = None,
    action: str | None = None,
) -> ReceiptVerification:
    """Check a receipt offline; ``ok`` is False with the first failure as ``reason``.

    ``trusted_ca_pem``: the CA certificate(s) the platform's certificate must
    chain to. ``tsa_trusted_pem``: those the time-stamp authority's must chain
    to (default: the same). ``checkpoint``: a later checkpoint of the ledger
    (``checkpoint_document`` plus a ``consistency`` proof from the receipt's
    tree size), to show the entry is still in the ledger as signed later.
    ``action``: the ledger action the entry must record (``tendering.bid.withdrawn``
    for a withdrawal receipt), so that a receipt for another event is refused.
    """
    seq: int | None = None
    subject: dict[str, Any] | None = None
    try:
        anchors = _load_anchors(trusted_ca_pem, "the trusted CA")
        tsa_anchors = anchors if tsa_trusted_pem is None else _load_anchors(tsa_trusted_pem, "the trusted TSA")
        receipt = _parse_receipt(receipt_bytes)
        ledger = receipt["ledger"]
        seq, subject = ledger["seq"], receipt["subject"]
        entry, entry_bytes = _check_entry(ledger)
        if action is not None and entry["action"] != action:
            raise Refused(f"the receipt is for a {entry['action']!r} entry, not {action!r}")
        problem = subject_problem(subject, entry["data"])
        if problem:
            raise Refused(problem)
        leaf = merkle.leaf_hash(entry_bytes)
        proof = [bytes.fromhex(node) for node in ledger["inclusion_proof"]]
        if not merkle.verify_inclusion(leaf, seq - 1, ledger["tree_size"], proof, bytes.fromhex(ledger["root"])):
            raise Refused(
                f"the inclusion proof does not lead from entry {seq} to the root of the tree of "
                f"{ledger['tree_size']} entries"
            )
        chain = _load_chain(receipt["platform_certificate_chain"])
        signature = _b64(receipt["signature"], "signature")
        time = _check_platform_signature(receipt, chain, anchors, signature, tsa_anchors)
        checkpoint_size = None
        if checkpoint is not None:
            checkpoint_size = _check_checkpoint(checkpoint, ledger, anchors, tsa_anchors, chain[1:])
    except Refused as refusal:
        return ReceiptVerification(False, subject, seq, None, str(refusal))
    return ReceiptVerification(True, subject, seq, time, "", ledger["tree_size"], entry, checkpoint_size)


# --- The checks ------------------------------------------------------------------


def _parse_receipt(receipt_bytes: bytes) -> dict[str, Any]:
    receipt = _json_object(receipt_bytes, "the receipt")
    missing = [name for name in RECEIPT_FIELDS if name not in receipt]
    if missing:
        raise Refused(f"the receipt has no {', '.join(repr(m) for m in missing)} (truncated or not a receipt?)")
    extra = sorted(set(receipt) - set(RECEIPT_FIELDS))
    if extra:
        raise Refused(f"the receipt has fields {RECEIPT_FORMAT} does not define: {', '.join(extra)}")
    if receipt["format"] != RECEIPT_FORMAT:
        raise Refused(f"the receipt's format is {receipt['format']!r}, not {RECEIPT_FORMAT!r}")
    subject = receipt["subject"]
    if not isinstance(subject, dict) or not subject:
        raise Refused("the receipt's subject is not a non-empty JSON object")
    ledger = receipt["ledger"]
    if not isinstance(ledger, dict) or sorted(ledger) != sorted(LEDGER_FIELDS):
        raise Refused(f"the receipt's ledger part must have exactly the fields {', '.join(LEDGER_FIELDS)}")
    for name in ("seq", "tree_size"):
        if not _is_int(ledger[name]) or ledger[name] < 1:
            raise Refused(f"the receipt's ledger.{name} is not a positive integer")
    if ledger["seq"] > ledger["tree_size"]:
        raise Refused("the receipt names an entry beyond the end of its tree")
    for name in ("entry_hash", "leaf_hash", "root"):
        if not isinstance(ledger[name], str) or not _HEX64.fullmatch(ledger[name]):
            raise Refused(f"the receipt's ledger.{name} is not 64 lowercase hex digits")
    proof = ledger["inclusion_proof"]
    if not isinstance(proof, list) or not all(isinstance(node, str) and _HEX64.fullmatch(node) for node in proof):
        raise Refused("the receipt's inclusion proof is not a list of 64-hex-digit hashes")
    if not isinstance(receipt["issued_at"], str) or not _TIME.fullmatch(receipt["issued_at"]):
        raise Refused("the receipt's issued_at is not a time like 2026-03-02T01:00:00.000000Z")
    chain = receipt["platform_certificate_chain"]
    if not isinstance(chain, list) or not chain or not all(isinstance(pem, str) for pem in chain):
        raise Refused("the receipt's platform_certificate_chain is not a non-empty list of PEM certificates")
    try:
        receipt_signed_bytes(receipt)
    except (TypeError, ValueError) as exc:
        raise Refused(f"the receipt holds a value a receipt never has ({exc})") from exc
    return receipt


def _check_entry(ledger: Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The ledger entry the receipt carries: canonical, hashing to entry_hash and leaf_hash, at seq."""
    entry_bytes = _b64(ledger["entry_bytes_b64"], "ledger.entry_bytes_b64")
    entry = _json_object(entry_bytes, "the ledger entry")
    if sorted(entry) != sorted(ENTRY_FIELDS) or not isinstance(entry["data"], dict):
        raise Refused(f"the ledger entry must have exactly the fields {', '.join(ENTRY_FIELDS)}, data an object")
    try:
        canonical = canonical_json(entry)
    except (TypeError, ValueError) as exc:
        raise Refused(f"the ledger entry holds a value the ledger never writes ({exc})") from exc
    if canonical != entry_bytes:
        raise Refused("the ledger entry's bytes are not in canonical form (RFC 8785): they were changed")
    if hashlib.sha256(entry_bytes).hexdigest() != ledger["entry_hash"]:
        raise Refused("the ledger entry's bytes do not hash to entry_hash (the entry was changed)")
    if merkle.leaf_hash(entry_bytes).hex() != ledger["leaf_hash"]:
        raise Refused("the ledger entry's bytes do not give leaf_hash")
    if entry["seq"] != ledger["seq"]:
        raise Refused(f"the ledger entry is entry {entry['seq']}, but the receipt names entry {ledger['seq']}")
    return entry, entry_bytes


def _check_platform_signature(
    receipt: Mapping[str, Any],
    chain: list[x509.Certificate],
    anchors: list[x509.Certificate],
    signature: bytes,
    tsa_anchors: list[x509.Certificate],
    what: str = "receipt",
) -> dt.datetime:
    """The platform's signature over ``receipt_signed_bytes(receipt)`` (a receipt, or another signed document
    of the same shape: a dossier's signature) and its time-stamp; returns the time-stamp's time."""
    leaf, intermediates = chain[0], chain[1:]
    problem = certificate_path_problem(leaf, intermediates, anchors)
    if problem:
        raise Refused(f"the platform certificate {problem}")
    public_key = leaf.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise Refused("the platform certificate does not hold an ECDSA key")
    try:
        public_key.verify(signature, receipt_signed_bytes(receipt), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError) as exc:
        raise Refused(
            f"the platform signature does not verify (the {what} was changed after signing, or another key signed it)"
        ) from exc
    token = _b64(receipt["timestamp"], "timestamp")
    try:
        time = verify_timestamp(token, signature, tsa_anchors)
    except TimestampError as exc:
        raise Refused(f"the {what}'s time-stamp does not hold: {exc}") from exc
    problem = certificate_path_problem(leaf, intermediates, anchors, at=time)
    if problem:
        raise Refused(f"the platform certificate {problem} (the time-stamp's time)")
    return time


def _check_checkpoint(
    checkpoint: bytes | Mapping[str, Any],
    ledger: Mapping[str, Any],
    anchors: list[x509.Certificate],
    tsa_anchors: list[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    earlier: str = "the receipt's",
) -> int:
    """A later signed checkpoint: trusted, and its tree extends the receipt's (``earlier`` names that tree in
    the messages). Returns its size."""
    document = dict(checkpoint) if isinstance(checkpoint, Mapping) else _json_object(checkpoint, "the checkpoint")
    body = document.get("body")
    if not isinstance(body, dict) or sorted(body) != sorted(CHECKPOINT_BODY_FIELDS):
        raise Refused(f"the checkpoint's body must have exactly the fields {', '.join(CHECKPOINT_BODY_FIELDS)}")
    if body["type"] != CHECKPOINT_TYPE:
        raise Refused(f"the checkpoint's type is {body['type']!r}, not {CHECKPOINT_TYPE!r}")
    size: int = body["tree_size"]
    root: str = body["root"]
    if not _is_int(size) or size < 1 or not isinstance(root, str) or not _HEX64.fullmatch(root):
        raise Refused("the checkpoint's tree_size or root is malformed")
    if not isinstance(body["created_at"], str) or not _TIME.fullmatch(body["created_at"]):
        raise Refused("the checkpoint's created_at is malformed")
    certificate_pem = document.get("certificate")
    if not isinstance(certificate_pem, str):
        raise Refused("the checkpoint has no certificate")
    certificate = _load_chain([certificate_pem], "the checkpoint's certificate")[0]
    fingerprint = document.get("certificate_fingerprint")
    if fingerprint is not None and fingerprint != _fingerprint(certificate):
        raise Refused("the checkpoint's certificate does not match its fingerprint")
    problem = certificate_path_problem(certificate, intermediates, anchors)
    if problem:
        raise Refused(f"the checkpoint's certificate {problem}")
    signature = _b64(document.get("signature"), "checkpoint signature")
    public_key = certificate.public_key()
    signed = checkpoint_body(tree_size=size, root=root, created_at=body["created_at"])
    try:
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise InvalidSignature
        public_key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError) as exc:
        raise Refused("the checkpoint's signature does not verify (size, root or time changed?)") from exc
    if document.get("timestamp"):
        try:
            verify_timestamp(_b64(document["timestamp"], "checkpoint timestamp"), signature, tsa_anchors)
        except TimestampError as exc:
            raise Refused(f"the checkpoint's time-stamp does not hold: {exc}") from exc

    receipt_size, receipt_root = ledger["tree_size"], ledger["root"]
    if size < receipt_size:
        raise Refused(f"the checkpoint ({size} entries) is older than {earlier} tree ({receipt_size} entries)")
    if size == receipt_size:
        if root != receipt_root:
            raise Refused(f"the checkpoint's root differs from {earlier} for the same {size} entries (a fork)")
        return size
    consistency = document.get("consistency")
    if (
        not isinstance(consistency, dict)
        or consistency.get("old_size") != receipt_size
        or consistency.get("new_size") != size
        or not isinstance(consistency.get("proof"), list)
        or not all(isinstance(node, str) and _HEX64.fullmatch(node) for node in consistency["proof"])
    ):
        raise Refused(
            f"the checkpoint carries no consistency proof from {receipt_size} to {size} entries "
            f"(ask the platform for the checkpoint with the proof from {earlier} tree size)"
        )
    proof = [bytes.fromhex(node) for node in consistency["proof"]]
    if not merkle.verify_consistency(receipt_size, size, bytes.fromhex(receipt_root), bytes.fromhex(root), proof):
        raise Refused(
            f"the checkpoint's tree of {size} entries does not extend {earlier} tree of {receipt_size} "
            "(the consistency proof fails: the ledger was rewritten?)"
        )
    return size


# --- Reading ---------------------------------------------------------------------


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = strict_json.loads(data, what=what)
    except strict_json.StrictJSONError as exc:
        if exc.reason == "not_utf8":
            raise Refused(f"{what} is not UTF-8 text ({exc.detail} at byte {exc.position})") from exc
        if exc.reason == "not_json" and exc.line is not None:
            stripped = data.decode("utf-8").rstrip()
            if stripped.startswith("{") and not stripped.endswith("}"):
                raise Refused(f"{what} is cut short: it ends before its JSON does ({exc.detail})") from exc
            raise Refused(f"{what} is not JSON ({exc.detail} at line {exc.line} column {exc.column})") from exc
        raise Refused(f"{what} is not JSON the platform writes ({exc.detail})") from exc
    if not isinstance(value, dict):
        raise Refused(f"{what} is not a JSON object")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise Refused(f"the {what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refused(f"the {what} is not base64 ({exc})") from exc


def _load_chain(pems: Sequence[str], what: str = "the platform certificate chain") -> list[x509.Certificate]:
    certificates = []
    for pem in pems:
        try:
            found = x509.load_pem_x509_certificates(pem.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise Refused(f"{what} holds something that is not a PEM certificate") from exc
        if len(found) != 1:
            raise Refused(f"{what} must hold one certificate per entry")
        certificates.extend(found)
    return certificates


def _load_anchors(pem: bytes | str, what: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem.encode("ascii") if isinstance(pem, str) else pem)
    except (ValueError, UnicodeEncodeError) as exc:
        raise Refused(f"{what} file holds no PEM certificate") from exc


def _fingerprint(certificate: x509.Certificate) -> str:
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
