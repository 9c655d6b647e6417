"""A key is registered only with a proof, made with its private key,
answering a challenge issued for exactly that key.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ec

from accounts import services
from accounts.models import KeyChallenge, KeyPurpose, PublicKey
from accounts.own_device import answer, register_own_key, sign, spki_der
from archive.models import LedgerEntry
from tests.frontend.conftest import signed_in

SUITE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def refused(call, *args, **kwargs) -> str:
    with pytest.raises(services.KeyProofInvalid) as exc:
        call(*args, **kwargs)
    assert exc.value.status == 422
    return exc.value.code


def nothing_registered(user) -> bool:
    return (
        not PublicKey.objects.filter(owner=user).exists()
        and not LedgerEntry.objects.filter(action="accounts.key.registered", actor_id=user.pk).exists()
    )


def test_the_statement_is_the_canonical_json_of_the_agreed_fields(personas, frozen_clock):
    private = new_key()
    issued = services.issue_key_challenge(personas.bidder_a, KeyPurpose.SIGNING, spki_der(private))
    fingerprint = PublicKey.fingerprint_of(spki_der(private))
    nonce = json.loads(issued.statement)["nonce"]
    assert len(nonce) == 64 and int(nonce, 16) >= 0
    organization = personas.bidder_org_a.credit_code
    expected = (
        f'{{"fingerprint":"{fingerprint}","format":"etender-key-proof-v1","nonce":"{nonce}",'
        f'"organization":"{organization}","purpose":"signing","user":"bidder_a"}}'
    ).encode("ascii")
    assert issued.statement == expected
    assert issued.sealed is None
    assert issued.expires_at == frozen_clock() + dt.timedelta(minutes=10)


def test_only_hashes_of_the_challenge_and_of_the_sealed_secret_are_stored(personas):
    private = new_key()
    issued = services.issue_key_challenge(personas.custodians[0], KeyPurpose.ENCRYPTION, spki_der(private))
    stored = KeyChallenge.objects.get(user=personas.custodians[0], used_at__isnull=True, purpose="encryption")
    fingerprint = PublicKey.fingerprint_of(spki_der(private))
    secret = SUITE.decrypt(issued.sealed, private, b"etender-key-proof-v1|" + fingerprint.encode())
    assert len(issued.sealed) == 113 and len(secret) == 32
    assert issued.challenge not in stored.challenge_hash and stored.challenge_hash != issued.challenge
    assert secret.hex() not in stored.secret_hash and secret.hex() not in bytes(stored.statement).decode()
    # The secret is not the statement's nonce: what the client is shown does not answer the challenge.
    assert json.loads(issued.statement)["nonce"] != secret.hex()


@pytest.mark.parametrize("purpose", [KeyPurpose.SIGNING, KeyPurpose.ENCRYPTION])
def test_a_key_answered_with_its_private_key_is_registered_with_its_statement_and_proof(personas, purpose):
    private = new_key()
    key = register_own_key(personas.bidder_a, purpose, private, "办公室")
    assert key.purpose == purpose and bytes(key.spki_der) == spki_der(private)
    challenge = KeyChallenge.objects.get(fingerprint=key.fingerprint)
    assert challenge.used_at is not None
    assert bytes(key.proof_statement) == bytes(challenge.statement)
    if purpose == KeyPurpose.SIGNING:
        assert services.verify_signature(bytes(key.spki_der), bytes(key.proof_statement), bytes(key.proof))
    entry = json.loads(LedgerEntry.objects.get(action="accounts.key.registered", data__contains=key.fingerprint).data)
    assert base64.b64decode(entry["proof_statement_b64"]) == bytes(key.proof_statement)


def test_a_missing_proof_is_refused_and_nothing_is_stored(personas):
    code = refused(services.register_public_key, personas.bidder_a, KeyPurpose.SIGNING, spki_der(new_key()), proof=None)
    assert code == "key_proof_invalid"
    assert nothing_registered(personas.bidder_a)


def test_a_signature_by_another_key_is_refused_and_the_challenge_stays_unused(personas):
    private = new_key()
    issued = services.issue_key_challenge(personas.bidder_a, KeyPurpose.SIGNING, spki_der(private))
    forged = services.KeyProof(challenge=issued.challenge, signature=sign(new_key(), issued.statement))
    refused(services.register_public_key, personas.bidder_a, KeyPurpose.SIGNING, spki_der(private), proof=forged)
    assert nothing_registered(personas.bidder_a)
    assert KeyChallenge.objects.get(fingerprint=PublicKey.fingerprint_of(spki_der(private))).used_at is None


def test_a_wrong_secret_for_an_encryption_key_is_refused(personas):
    private = new_key()
    issued = services.issue_key_challenge(personas.bidder_a, KeyPurpose.ENCRYPTION, spki_der(private))
    guessed = services.KeyProof(challenge=issued.challenge, secret=bytes.fromhex(json.loads(issued.statement)["nonce"]))
    refused(services.register_public_key, personas.bidder_a, KeyPurpose.ENCRYPTION, spki_der(private), proof=guessed)
    assert nothing_registered(personas.bidder_a)


def test_a_challenge_for_another_key_or_purpose_is_refused(personas):
    private, other = new_key(), new_key()
    issued = services.issue_key_challenge(personas.bidder_a, KeyPurpose.SIGNING, spki_der(other))
    proof = answer(issued, KeyPurpose.SIGNING, other)
    refused(services.register_public_key, personas.bidder_a, KeyPurpose.SIGNING, spki_der(private), proof=proof)
    refused(services.register_public_key, personas.bidder_a, KeyPurpose.ENCRYPTION, spki_der(other), proof=proof)
    assert nothing_registered(personas.bidder_a)


def test_an_expired_challenge_is_refused(personas, frozen_clock):
    private = new_key()
    issued = services.issue_key_challenge(personas.bidder_a, KeyPurpose.SIGNING, spki_der(private))
    frozen_clock.advance(minutes=10)
    refused(
        services.register_public_key,
        personas.bidder_a,
        KeyPurpose.SIGNING,
        spki_der(private),
        proof=answer(issued, KeyPurpose.SIGNING, private),
    )
    assert nothing_registered(personas.bidder_a)


def test_a_used_challenge_is_refused(personas):
    private = new_key()
    issued = services.issue_key_challenge(personas.bidder_a, KeyPurpose.SIGNING, spki_der(private))
    proof = answer(issued, KeyPurpose.SIGNING, private)
    key = services.register_public_key(personas.bidder_a, KeyPurpose.SIGNING, spki_der(private), proof=proof)
    services.revoke_public_key(personas.bidder_a, key)
    key.delete()  # even were the key gone, its challenge answers nothing twice
    refused(services.register_public_key, personas.bidder_a, KeyPurpose.SIGNING, spki_der(private), proof=proof)
    assert not PublicKey.objects.filter(owner=personas.bidder_a).exists()


def test_another_users_challenge_is_refused(personas):
    """The operator with the custodian's challenge in hand cannot register the key for itself,
    nor the other way round.
    """
    private = new_key()
    issued = services.issue_key_challenge(personas.bidder_a, KeyPurpose.SIGNING, spki_der(private))
    proof = answer(issued, KeyPurpose.SIGNING, private)
    refused(services.register_public_key, personas.bidder_b, KeyPurpose.SIGNING, spki_der(private), proof=proof)
    assert nothing_registered(personas.bidder_b)


def api_register(client, purpose: str, private, proof: dict | None) -> object:
    body = {"purpose": purpose, "public_key": base64.b64encode(spki_der(private)).decode(), "label": "cli"}
    if proof is not None:
        body["proof"] = proof
    return client.post("/api/accounts/keys", body, content_type="application/json")


@pytest.mark.parametrize("purpose", ["signing", "encryption"])
def test_the_api_issues_a_challenge_and_registers_the_key_that_answers_it(personas, purpose):
    client = signed_in(personas.custodians[0])
    private = new_key()
    spki = base64.b64encode(spki_der(private)).decode()
    response = client.post(
        "/api/accounts/keys/challenges", {"purpose": purpose, "public_key": spki}, content_type="application/json"
    )
    assert response.status_code == 201
    body = response.json()
    statement = base64.b64decode(body["statement"])
    assert json.loads(statement)["user"] == "custodian1"
    if purpose == "signing":
        assert body["sealed"] is None
        proof = {"challenge": body["challenge"], "signature": base64.b64encode(sign(private, statement)).decode()}
    else:
        fingerprint = PublicKey.fingerprint_of(spki_der(private))
        secret = SUITE.decrypt(
            base64.b64decode(body["sealed"]), private, f"etender-key-proof-v1|{fingerprint}".encode()
        )
        proof = {"challenge": body["challenge"], "nonce": base64.b64encode(secret).decode()}
    registered = api_register(client, purpose, private, proof)
    assert registered.status_code == 201, registered.content
    served = registered.json()
    assert base64.b64decode(served["proof_statement"]) == statement
    assert served["certificate"].startswith("-----BEGIN CERTIFICATE-----")  # the demo key CA (test environment)
    assert (served["proof_signature"] is not None) == (purpose == "signing")


def test_the_api_refuses_a_key_without_proof_or_with_garbage_and_stores_nothing(personas):
    client = signed_in(personas.bidder_a)
    private = new_key()
    for proof in (
        None,
        {"challenge": "nothing-issued", "signature": "AAAA"},
        {"challenge": "x", "signature": "not base64!"},
    ):
        response = api_register(client, "signing", private, proof)
        assert response.status_code == 422
        assert response.json()["code"] == "key_proof_invalid"
    assert nothing_registered(personas.bidder_a)


def test_unanswered_challenges_are_capped_and_expired_ones_dropped(personas, frozen_clock):
    for _ in range(services.MAX_OPEN_CHALLENGES):
        services.issue_key_challenge(personas.bidder_a, KeyPurpose.SIGNING, spki_der(new_key()))
    with pytest.raises(services.DomainError) as exc:
        services.issue_key_challenge(personas.bidder_a, KeyPurpose.SIGNING, spki_der(new_key()))
    assert (exc.value.code, exc.value.status) == ("too_many_key_challenges", 429)
    assert KeyChallenge.objects.filter(user=personas.bidder_a).count() == services.MAX_OPEN_CHALLENGES
    services.issue_key_challenge(
        personas.bidder_b, KeyPurpose.SIGNING, spki_der(new_key())
    )  # another user is not affected
    frozen_clock.advance(minutes=10)
    services.issue_key_challenge(personas.bidder_a, KeyPurpose.SIGNING, spki_der(new_key()))
    assert KeyChallenge.objects.filter(user=personas.bidder_a).count() == 1
