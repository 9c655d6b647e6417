"""The "does not open" statement's test vector (docs/sealed-bid-vectors/refusal.json, format §4.6): its exact bytes,
its RFC 6979 signature, and the statements a verifier refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tendering.sealing import fingerprint
from tendering.sealing.refusal import PartRefusal, RefusalError, parse_refusal, sign_refusal, verify_refusal
from tests.sealing.make_refusal_vector import vector

VECTOR: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "sealed-bid-vectors" / "refusal.json").read_text(encoding="utf-8")
)


def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int(VECTOR["signing_key"]["d_hex"], 16), ec.SECP256R1())


def test_the_vector_file_is_what_the_generator_writes() -> None:
    assert vector() == VECTOR


def test_the_statement_is_built_to_the_exact_bytes_and_the_rfc_6979_signature() -> None:
    key = signing_key()
    assert fingerprint(key.public_key()) == VECTOR["signing_key"]["fingerprint"]
    fields = VECTOR["fields"]
    refusal = PartRefusal(
        fields["tender"],
        fields["bid"],
        tuple(fields["members"]),
        fields["index"],
        fields["reason"],
        fields["signing_key"],
    )
    statement = refusal.canonical_bytes()
    assert statement == VECTOR["statement_text"].encode("ascii")
    assert (
        key.sign(statement, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)).hex() == VECTOR["signature_der_hex"]
    )
    # A randomized signature (as a browser's) differs but verifies the same.
    text, signature = sign_refusal(refusal, key)
    assert text == statement and signature.hex() != VECTOR["signature_der_hex"]
    spki = bytes.fromhex(VECTOR["signing_key"]["spki_der_hex"])
    assert verify_refusal(statement, signature, spki) == refusal
    assert verify_refusal(statement, bytes.fromhex(VECTOR["signature_der_hex"]), spki) == refusal


@pytest.mark.parametrize("case", VECTOR["refused"], ids=[c["why"] for c in VECTOR["refused"]])
def test_a_verifier_refuses_each_statement_of_the_vector(case: dict[str, str]) -> None:
    with pytest.raises(RefusalError):
        parse_refusal(case["statement_text"].encode())


def test_a_signature_by_another_key_or_loosely_encoded_is_refused() -> None:
    statement = VECTOR["statement_text"].encode()
    spki = bytes.fromhex(VECTOR["signing_key"]["spki_der_hex"])
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(RefusalError, match="does not verify"):
        verify_refusal(statement, stranger.sign(statement, ec.ECDSA(hashes.SHA256())), spki)
    der = bytes.fromhex(VECTOR["signature_der_hex"])
    with pytest.raises(RefusalError, match="DER"):
        verify_refusal(statement, der + b"\x00", spki)
    with pytest.raises(RefusalError, match="names signing key"):
        verify_refusal(statement, der, stranger.public_key())
