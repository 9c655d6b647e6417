"""What a user's own device does to register a key and confirm custody, in-process.

For the demo data, the benchmarks and the tests, which play the user's device:
the private key is theirs, never the platform's. Real users answer on their device
with ``etender`` (tendering/client) or the browser keys page.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from accounts import services
from accounts.models import KeyPurpose, PublicKey, User


def spki_der(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sign(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-256/SHA-256, DER (what ``cryptography`` makes is strict DER)."""
    return private_key.sign(data, ec.ECDSA(hashes.SHA256()))


def answer(
    issued: services.IssuedChallenge, purpose: str, private_key: ec.EllipticCurvePrivateKey
) -> services.KeyProof:
    """Sign the statement (signing key) or open the sealed secret (encryption key)."""
    if purpose == KeyPurpose.SIGNING:
        return services.KeyProof(challenge=issued.challenge, signature=sign(private_key, issued.statement))
    assert issued.sealed is not None
    fingerprint = PublicKey.fingerprint_of(spki_der(private_key))
    suite = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    secret = suite.decrypt(issued.sealed, private_key, services.proof_secret_info(fingerprint))
    return services.KeyProof(challenge=issued.challenge, secret=secret)


def register_own_key(user: User, purpose: str, private_key: ec.EllipticCurvePrivateKey, label: str = "") -> PublicKey:
    """Ask for a challenge, answer it with ``private_key``, register its public half."""
    der = spki_der(private_key)
    issued = services.issue_key_challenge(user, purpose, der)
    return services.register_public_key(user, purpose, der, label, proof=answer(issued, purpose, private_key))
