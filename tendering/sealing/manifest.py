"""The signed manifest of a sealed bid (docs/sealed-bid-format.md §5).

Canonical JSON (RFC 8785) naming the tender, the bid and the bidder, the
ciphertext (size and SHA-256, header SHA-256, segment size), the key
commitment, every envelope and the client's time; signed by the bidder with
ECDSA P-256/SHA-256, the signature DER-encoded and kept beside the manifest.
Nothing in it reveals the bid: no plaintext hash (a small, guessable price
summary could be found by trying), no price.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from tendering.sealing.envelopes import (
    BidderEnvelope,
    CustodianEnvelopes,
    Envelopes,
    SubsetEnvelopes,
    check_sealed_envelope,
    custodian_subsets,
)
from tendering.sealing.errors import EnvelopeError, IdentityError, ManifestError, ManifestSignatureError, SealingError
from tendering.sealing.identity import BidIdentity
from tendering.sealing.jsonform import canonical_json, parse_canonical
from tendering.sealing.keys import PublicKeyLike, fingerprint, load_public_key
from tendering.sealing.stream import SEGMENT_SIZE, layout_for_ciphertext

FORMAT = "etender-bid-v1"
MAX_MANIFEST_SIZE = 262_144  # 504 envelopes (9 custodians, k=4) take about 80 KB
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")
# JavaScript's Date.prototype.toISOString(): UTC, milliseconds, Z.
_CLIENT_TIME = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z\Z")

_FIELDS = {
    "format",
    "tender",
    "bid",
    "bidder",
    "signing_key",
    "client_time",
    "segment_size",
    "ciphertext_size",
    "ciphertext_sha256",
    "header_sha256",
    "kc",
    "envelopes",
}


def format_client_time(moment: dt.datetime) -> str:
    """``2026-03-02T01:00:00.000Z``: what a browser's ``new Date().toISOString()`` writes."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the client time must be timezone-aware")
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Manifest:
    """What the bidder signs. Hashes and the commitment are lowercase hex; envelopes are bytes here, base64 in JSON."""

    tender: str
    bid: str
    bidder: str
    signing_key: str  # fingerprint of the bidder's signing key (SHA-256 of its SPKI DER)
    client_time: str
    ciphertext_size: int
    ciphertext_sha256: str
    header_sha256: str
    kc: str
    envelopes: Envelopes
    segment_size: int = SEGMENT_SIZE
    format: str = FORMAT

    @property
    def identity(self) -> BidIdentity:
        return BidIdentity(self.tender, self.bid, self.bidder)

    @property
    def plaintext_size(self) -> int:
        """Determined by the ciphertext size (so it is not a field of its own)."""
        return layout_for_ciphertext(self.ciphertext_size, self.segment_size).plaintext_size

    def to_json(self) -> dict[str, Any]:
        custodians = self.envelopes.custodians
        return {
            "format": self.format,
            "tender": self.tender,
            "bid": self.bid,
            "bidder": self.bidder,
            "signing_key": self.signing_key,
            "client_time": self.client_time,
            "segment_size": self.segment_size,
            "ciphertext_size": self.ciphertext_size,
            "ciphertext_sha256": self.ciphertext_sha256,
            "header_sha256": self.header_sha256,
            "kc": self.kc,
            "envelopes": {
                "bidder": {
                    "recipient": self.envelopes.bidder.recipient,
                    "sealed": _b64(self.envelopes.bidder.sealed),
                },
                "custodians": {
                    "threshold": custodians.threshold,
                    "recipients": list(custodians.recipients),
                    "subsets": [
                        {"members": list(s.members), "parts": [_b64(p) for p in s.parts]} for s in custodians.subsets
                    ],
                },
            },
        }

    def canonical_bytes(self) -> bytes:
        """The signed bytes. Checked on the way out too: what this writes, ``parse_manifest`` reads back."""
        data = canonical_json(self.to_json())
        parse_manifest(data)
        return data


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- parsing ----------------------------------------------------------------------------------------------------


def parse_manifest(data: bytes) -> Manifest:
    """The manifest in ``data``, refused unless it is canonical JSON with exactly the fields of format v1.

    Every refusal is a ``ManifestError`` naming the field.
    """
    value = parse_canonical(data, max_size=MAX_MANIFEST_SIZE, what="manifest", error=ManifestError)
    _fields(value, _FIELDS, "$")
    if value["format"] != FORMAT:
        raise ManifestError(f"$.format must be {FORMAT!r}, got {value['format']!r}")
    try:
        identity = BidIdentity(_str(value, "tender"), _str(value, "bid"), _str(value, "bidder"))
    except IdentityError as exc:
        raise ManifestError(f"$: {exc}") from None
    client_time = _str(value, "client_time")
    if not _CLIENT_TIME.match(client_time) or not _valid_time(client_time):
        raise ManifestError(f"$.client_time must be a UTC time like 2026-03-02T01:00:00.000Z, got {client_time!r}")
    segment_size = _int(value, "segment_size")
    if segment_size != SEGMENT_SIZE:
        raise ManifestError(f"$.segment_size must be {SEGMENT_SIZE} in format v1, got {segment_size}")
    size = _int(value, "ciphertext_size")
    try:
        layout_for_ciphertext(size)
    except SealingError as exc:
        raise ManifestError(f"$.ciphertext_size: {exc}") from None
    for name in ("signing_key", "ciphertext_sha256", "header_sha256", "kc"):
        if not _HEX64.match(_str(value, name)):
            raise ManifestError(f"$.{name} must be 64 lowercase hex digits")
    return Manifest(
        tender=identity.tender,
        bid=identity.bid,
        bidder=identity.bidder,
        signing_key=value["signing_key"],
        client_time=client_time,
        ciphertext_size=size,
        ciphertext_sha256=value["ciphertext_sha256"],
        header_sha256=value["header_sha256"],
        kc=value["kc"],
        envelopes=_envelopes(value["envelopes"]),
        segment_size=segment_size,
    )


def _valid_time(text: str) -> bool:
    try:
        dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: DTZ007 (the Z is matched literally: UTC)
    except ValueError:
        return False
    return True


def _fields(value: Any, names: set[str], path: str) -> None:
    if not isinstance(value, dict):
        raise ManifestError(f"{path} must be an object")
    missing = sorted(names - value.keys())
    if missing:
        raise ManifestError(f"{path} lacks the field(s) {', '.join(missing)}")
    unknown = sorted(value.keys() - names)
    if unknown:
        raise ManifestError(f"{path} has unknown field(s) {', '.join(repr(u) for u in unknown)}")


def _str(value: dict[str, Any], name: str, path: str = "$") -> str:
    text = value[name]
    if not isinstance(text, str):
        raise ManifestError(f"{path}.{name} must be a string, not {_type(text)}")
    return text


def _int(value: dict[str, Any], name: str, path: str = "$") -> int:
    item = value[name]
    if not isinstance(item, int) or isinstance(item, bool):
        raise ManifestError(f"{path}.{name} must be an integer, not {_type(item)}")
    return item


def _type(item: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer"}.get(
        type(item), "null"
    )


def _sealed(text: object, path: str) -> bytes:
    if not isinstance(text, str):
        raise ManifestError(f"{path} must be a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ManifestError(f"{path} is not base64 (RFC 4648 §4, with padding)") from None
    if _b64(raw) != text:
        raise ManifestError(f"{path} is not in canonical base64 (padding or unused bits)")
    try:
        check_sealed_envelope(raw, path)
    except EnvelopeError as exc:
        raise ManifestError(str(exc)) from None
    return raw


def _envelopes(value: Any) -> Envelopes:
    _fields(value, {"bidder", "custodians"}, "$.envelopes")
    bidder = value["bidder"]
    _fields(bidder, {"recipient", "sealed"}, "$.envelopes.bidder")
    recipient = _str(bidder, "recipient", "$.envelopes.bidder")
    if not _HEX64.match(recipient):
        raise ManifestError("$.envelopes.bidder.recipient must be 64 lowercase hex digits")
    bidder_envelope = BidderEnvelope(recipient, _sealed(bidder["sealed"], "$.envelopes.bidder.sealed"))

    path = "$.envelopes.custodians"
    custodians = value["custodians"]
    _fields(custodians, {"threshold", "recipients", "subsets"}, path)
    k = _int(custodians, "threshold", path)
    recipients = custodians["recipients"]
    if not isinstance(recipients, list) or not all(isinstance(r, str) and _HEX64.match(r) for r in recipients):
        raise ManifestError(f"{path}.recipients must be an array of fingerprints (64 lowercase hex digits)")
    if len(set(recipients)) != len(recipients):
        raise ManifestError(f"{path}.recipients names one key twice")
    try:
        expected = custodian_subsets(len(recipients), k)
    except EnvelopeError as exc:
        raise ManifestError(f"{path}: {exc}") from None
    subsets = custodians["subsets"]
    if not isinstance(subsets, list) or len(subsets) != len(expected):
        raise ManifestError(f"{path}.subsets must be an array of the {len(expected)} subsets of {k} custodians")
    parsed = []
    for index, (subset, members) in enumerate(zip(subsets, expected, strict=True)):
        where = f"{path}.subsets[{index}]"
        _fields(subset, {"members", "parts"}, where)
        if subset["members"] != list(members) or any(isinstance(m, bool) for m in subset["members"]):
            raise ManifestError(f"{where}.members must be {list(members)} (every subset once, in lexicographic order)")
        parts = subset["parts"]
        if not isinstance(parts, list) or len(parts) != k:
            raise ManifestError(f"{where}.parts must be an array of {k} envelopes")
        parsed.append(SubsetEnvelopes(members, tuple(_sealed(p, f"{where}.parts[{j}]") for j, p in enumerate(parts))))
    return Envelopes(bidder_envelope, CustodianEnvelopes(k, tuple(recipients), tuple(parsed)))


# -- signature --------------------------------------------------------------------------------------------------


def raw_to_der(raw: bytes) -> bytes:
    """WebCrypto's ECDSA signature (r ‖ s, 32 bytes each, big-endian) as the DER the format stores."""
    if len(raw) != 64:
        raise ManifestSignatureError(f"a raw P-256 signature is 64 bytes (r ‖ s), not {len(raw)}")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    _check_scalars(r, s)
    return encode_dss_signature(r, s)


def der_to_raw(der: bytes) -> bytes:
    """The DER signature as r ‖ s (what WebCrypto's ``verify`` takes); refuses any non-DER encoding."""
    r, s = _decode_der(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _decode_der(der: bytes) -> tuple[int, int]:
    try:
        r, s = decode_dss_signature(bytes(der))
    except (ValueError, TypeError):
        raise ManifestSignatureError("the signature is not a DER-encoded ECDSA signature") from None
    _check_scalars(r, s)
    if encode_dss_signature(r, s) != bytes(der):
        raise ManifestSignatureError("the signature is not in DER (a non-minimal or otherwise loose encoding)")
    return r, s


def _check_scalars(r: int, s: int) -> None:
    if not (0 < r < P256_ORDER and 0 < s < P256_ORDER):
        raise ManifestSignatureError("the signature's r or s is outside 1..n-1 of P-256")


def sign_manifest(manifest_bytes: bytes, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """ECDSA P-256/SHA-256 over the manifest's canonical bytes, DER-encoded."""
    manifest = parse_manifest(manifest_bytes)
    signer = fingerprint(private_key.public_key())
    if manifest.signing_key != signer:
        raise ManifestError(f"the manifest names signing key {manifest.signing_key}, not this key ({signer})")
    return private_key.sign(bytes(manifest_bytes), ec.ECDSA(hashes.SHA256()))


def verify_manifest(manifest_bytes: bytes, signature: bytes, spki_der: PublicKeyLike) -> Manifest:
    """The manifest, once its signature verifies with ``spki_der`` and it names that key as its signer."""
    try:
        public_key = load_public_key(spki_der)
    except EnvelopeError as exc:
        raise ManifestSignatureError(f"the verifying key is unusable: {exc}") from None
    r, s = _decode_der(signature)
    try:
        public_key.verify(encode_dss_signature(r, s), bytes(manifest_bytes), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ManifestSignatureError("the manifest's signature does not verify with this key") from None
    manifest = parse_manifest(manifest_bytes)
    signer = fingerprint(public_key)
    if manifest.signing_key != signer:
        raise ManifestSignatureError(
            f"the manifest names signing key {manifest.signing_key}, but was verified with key {signer}"
        )
    return manifest


def manifest_sha256(manifest_bytes: bytes) -> str:
    """The manifest's SHA-256, hex: how a receipt or the ledger can name it."""
    return hashlib.sha256(manifest_bytes).hexdigest()
