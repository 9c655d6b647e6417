"""The custodian's signed "does not open" statement (``etender-part-refusal-v1``), docs/sealed-bid-format.md §4.6.

A custodian whose part of a bid does not open on its own device (HPKE refuses
it, or the envelope is malformed) cannot send that part; it sends instead this
statement, signed with its registered *signing* key, so that the platform can
take every other part at once and decide the bid without waiting for it.
The statement is RFC 8785 canonical JSON (ASCII); the signature is ECDSA
P-256/SHA-256 in strict DER, as the manifest's (§5.3).

Framework-free, like the rest of ``tendering.sealing``: the CLI signs with it,
the server verifies with it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tendering.sealing.errors import EnvelopeError, SealingError
from tendering.sealing.identity import check_uuid
from tendering.sealing.jsonform import canonical_json, parse_canonical
from tendering.sealing.keys import PublicKeyLike, fingerprint, load_public_key
from tendering.sealing.manifest import _decode_der

REFUSAL_FORMAT = "etender-part-refusal-v1"
# Why the part did not open: HPKE refused it (wrong tag: garbage, or sealed for another bid or key),
# or the envelope is not even an envelope (wrong size, not a P-256 point).
REFUSAL_REASONS = ("hpke_open_failed", "malformed_envelope")
MAX_REFUSAL_SIZE = 1024
_FIELDS = {"format", "tender", "bid", "members", "index", "reason", "signing_key"}


class RefusalError(SealingError):
    """A "does not open" statement that is malformed, or whose signature does not verify."""


@dataclasses.dataclass(frozen=True)
class PartRefusal:
    tender: str
    bid: str
    members: tuple[int, ...]
    index: int
    reason: str
    signing_key: str

    def to_json(self) -> dict[str, Any]:
        return {
            "format": REFUSAL_FORMAT,
            "tender": self.tender,
            "bid": self.bid,
            "members": list(self.members),
            "index": self.index,
            "reason": self.reason,
            "signing_key": self.signing_key,
        }

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.to_json())


def refusal_reason(error: EnvelopeError) -> str:
    """The statement's reason for an envelope that did not open (``open_custodian_part``'s error)."""
    text = str(error)
    if "an envelope is" in text or "uncompressed P-256 point" in text or "-byte key" in text:
        return "malformed_envelope"
    return "hpke_open_failed"


def parse_refusal(data: bytes) -> PartRefusal:
    """A statement, read strictly: canonical bytes, exactly its fields, each of its one spelling."""
    value = parse_canonical(data, max_size=MAX_REFUSAL_SIZE, what="statement", error=RefusalError)
    if not isinstance(value, dict) or set(value) != _FIELDS:
        raise RefusalError(f"a statement has exactly the fields {sorted(_FIELDS)}")
    if value["format"] != REFUSAL_FORMAT:
        raise RefusalError(f"the statement's format is {value['format']!r}, not {REFUSAL_FORMAT!r}")
    try:
        tender = check_uuid(value["tender"], "tender")
        bid = check_uuid(value["bid"], "bid")
    except SealingError as exc:
        raise RefusalError(str(exc)) from None
    members = value["members"]
    if (
        not isinstance(members, list)
        or not members
        or not all(isinstance(m, int) and not isinstance(m, bool) and 0 <= m < 9 for m in members)
        or members != sorted(set(members))
    ):
        raise RefusalError("members are the subset's positions, ascending, each once (0 to 8)")
    index = value["index"]
    if not isinstance(index, int) or isinstance(index, bool) or index not in members:
        raise RefusalError("index is the custodian's own position, one of the members")
    if value["reason"] not in REFUSAL_REASONS:
        raise RefusalError(f"the reason is one of {', '.join(REFUSAL_REASONS)}")
    key = value["signing_key"]
    if not isinstance(key, str) or len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise RefusalError("signing_key is a fingerprint: 64 lowercase hex digits")
    return PartRefusal(tender, bid, tuple(members), index, value["reason"], key)


def sign_refusal(refusal: PartRefusal, private_key: ec.EllipticCurvePrivateKey) -> tuple[bytes, bytes]:
    """The statement's bytes and their DER signature by ``private_key``, which the statement must name."""
    signer = fingerprint(private_key.public_key())
    if refusal.signing_key != signer:
        raise RefusalError(f"the statement names signing key {refusal.signing_key}, not this key ({signer})")
    statement = refusal.canonical_bytes()
    return statement, private_key.sign(statement, ec.ECDSA(hashes.SHA256()))


def verify_refusal(statement: bytes, signature: bytes, spki_der: PublicKeyLike) -> PartRefusal:
    """The statement, once its signature verifies with ``spki_der`` and it names that key as its signer."""
    refusal = parse_refusal(statement)
    try:
        public_key = load_public_key(spki_der)
    except EnvelopeError as exc:
        raise RefusalError(f"the verifying key is unusable: {exc}") from None
    if fingerprint(public_key) != refusal.signing_key:
        raise RefusalError(f"the statement names signing key {refusal.signing_key}, not {fingerprint(public_key)}")
    try:
        r, s = _decode_der(signature)
    except SealingError as exc:
        raise RefusalError(str(exc)) from None
    try:
        public_key.verify(encode_dss_signature(r, s), bytes(statement), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise RefusalError("the statement's signature does not verify with its signing key") from None
    return refusal
