"""P-256 public keys as the format names them: SPKI DER and its SHA-256 fingerprint."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tendering.sealing.errors import EnvelopeError

PublicKeyLike = ec.EllipticCurvePublicKey | bytes


def spki_der(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The 91-byte DER SubjectPublicKeyInfo with the uncompressed point (WebCrypto's ``exportKey("spki")``)."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1):
        raise EnvelopeError("only P-256 (secp256r1) keys are used in sealed bids")
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(key: PublicKeyLike) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from itself or from its SPKI DER (which must be in the form ``spki_der`` writes)."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        spki_der(key)
        return key
    if not isinstance(key, (bytes, bytearray)):
        raise EnvelopeError(f"a public key is a P-256 key or its SPKI DER bytes, not {type(key).__name__}")
    try:
        loaded = serialization.load_der_public_key(bytes(key))
    except (ValueError, TypeError, NotImplementedError):
        raise EnvelopeError("cannot read the public key: SPKI DER of a P-256 key expected") from None
    if not isinstance(loaded, ec.EllipticCurvePublicKey) or not isinstance(loaded.curve, ec.SECP256R1):
        raise EnvelopeError("only P-256 (secp256r1) keys are used in sealed bids")
    if spki_der(loaded) != bytes(key):
        raise EnvelopeError("the public key's DER is not in its canonical form (uncompressed point, named curve)")
    return loaded


def fingerprint(key: PublicKeyLike) -> str:
    """SHA-256 of the key's SPKI DER, 64 lowercase hex digits (as ``accounts.PublicKey.fingerprint``)."""
    return hashlib.sha256(spki_der(load_public_key(key))).hexdigest()
