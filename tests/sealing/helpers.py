"""Fixed keys and identities for the sealing tests and vectors, and Google Tink as an independent oracle.

Tink (a dev dependency) is never used to seal: only to check, in both
directions, that our bytes are Tink's AES-GCM-HKDF streaming format and
Tink's HPKE.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from accounts.credit_code import make
from tendering.sealing.identity import BidIdentity

VECTORS = Path(__file__).resolve().parent.parent.parent / "docs" / "sealed-bid-vectors"

IDENTITY = BidIdentity(
    tender="3f2b8c4e-9a1d-4e6f-8b2c-5d7e9f0a1b2c",
    bid="8d4e6f1a-2b3c-4d5e-9f6a-7b8c9d0e1f2a",
    bidder=make("91360781MA0000001"),
)
OTHER_IDENTITY = BidIdentity(IDENTITY.tender, "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f", IDENTITY.bidder)
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def fixed_key(label: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key fixed by ``label``: d = SHA-256("etender test key|" + label) mod (n-1) + 1."""
    seed = int.from_bytes(hashlib.sha256(f"etender test key|{label}".encode()).digest(), "big")
    return ec.derive_private_key(seed % (P256_ORDER - 1) + 1, ec.SECP256R1())


SIGNING_KEY = fixed_key("bidder signing")
BIDDER_KEY = fixed_key("bidder encryption")
CUSTODIAN_KEYS = [fixed_key(f"custodian {i}") for i in range(5)]
STRANGER_KEY = fixed_key("stranger")


def pattern(size: int) -> bytes:
    """The vectors' deterministic plaintext: byte i is i mod 251."""
    block = bytes(range(251))
    return (block * (size // 251 + 1))[:size]


def key_description(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """A private key as the vectors give it: the scalar, PKCS#8, and the public key as SPKI and as a point."""
    public = key.public_key()
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "d_hex": key.private_numbers().private_value.to_bytes(32, "big").hex(),
        "pkcs8_der_hex": key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).hex(),
        "spki_der_hex": spki.hex(),
        "point_hex": public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        ).hex(),
        "fingerprint": hashlib.sha256(spki).hexdigest(),
    }


# -- Tink --------------------------------------------------------------------------------------------------------


def tink_streaming_aead(file_key: bytes, segment_size: int = 1 << 20):  # type: ignore[no-untyped-def]
    import tink
    from tink import secret_key_access, streaming_aead
    from tink.proto import aes_gcm_hkdf_streaming_pb2, common_pb2, tink_pb2

    streaming_aead.register()
    key = aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingKey(
        version=0,
        key_value=file_key,
        params=aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingParams(
            ciphertext_segment_size=segment_size, derived_key_size=32, hkdf_hash_type=common_pb2.SHA256
        ),
    )
    keyset = tink_pb2.Keyset(
        primary_key_id=1,
        key=[
            tink_pb2.Keyset.Key(
                key_data=tink_pb2.KeyData(
                    type_url="type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey",
                    value=key.SerializeToString(),
                    key_material_type=tink_pb2.KeyData.SYMMETRIC,
                ),
                status=tink_pb2.ENABLED,
                key_id=1,
                output_prefix_type=tink_pb2.RAW,
            )
        ],
    )
    handle = tink.proto_keyset_format.parse(keyset.SerializeToString(), secret_key_access.TOKEN)
    return handle.primitive(streaming_aead.StreamingAead)


def tink_encrypt(file_key: bytes, info: bytes, plaintext: bytes, segment_size: int = 1 << 20) -> bytes:
    class Kept(io.BytesIO):
        def close(self) -> None:
            self.kept = self.getvalue()
            super().close()

    sink = Kept()
    with tink_streaming_aead(file_key, segment_size).new_encrypting_stream(sink, info) as stream:
        stream.write(plaintext)
    return sink.kept


def tink_decrypt(file_key: bytes, info: bytes, ciphertext: bytes, segment_size: int = 1 << 20) -> bytes:
    with tink_streaming_aead(file_key, segment_size).new_decrypting_stream(io.BytesIO(ciphertext), info) as stream:
        return stream.read()


def tink_hpke(private_key: ec.EllipticCurvePrivateKey):  # type: ignore[no-untyped-def]
    """Tink's HPKE (DHKEM-P256, HKDF-SHA256, AES-256-GCM, RAW: enc ‖ ct, context info = HPKE info):
    (encrypt, decrypt).
    """
    import tink
    from tink import hybrid, secret_key_access
    from tink.proto import hpke_pb2, tink_pb2

    hybrid.register()
    params = hpke_pb2.HpkeParams(
        kem=hpke_pb2.DHKEM_P256_HKDF_SHA256, kdf=hpke_pb2.HKDF_SHA256, aead=hpke_pb2.AES_256_GCM
    )
    point = private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    key = hpke_pb2.HpkePrivateKey(
        version=0,
        public_key=hpke_pb2.HpkePublicKey(version=0, params=params, public_key=point),
        private_key=private_key.private_numbers().private_value.to_bytes(32, "big"),
    )
    keyset = tink_pb2.Keyset(
        primary_key_id=7,
        key=[
            tink_pb2.Keyset.Key(
                key_data=tink_pb2.KeyData(
                    type_url="type.googleapis.com/google.crypto.tink.HpkePrivateKey",
                    value=key.SerializeToString(),
                    key_material_type=tink_pb2.KeyData.ASYMMETRIC_PRIVATE,
                ),
                status=tink_pb2.ENABLED,
                key_id=7,
                output_prefix_type=tink_pb2.RAW,
            )
        ],
    )
    handle = tink.proto_keyset_format.parse(keyset.SerializeToString(), secret_key_access.TOKEN)
    return (
        handle.public_keyset_handle().primitive(hybrid.HybridEncrypt),
        handle.primitive(hybrid.HybridDecrypt),
    )
