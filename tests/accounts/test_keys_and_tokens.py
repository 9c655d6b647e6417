import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from accounts import services
from accounts.errors import Conflict, DomainError, PermissionDenied
from accounts.models import ApiToken, KeyPurpose, PublicKey
from accounts.own_device import register_own_key
from archive.models import LedgerEntry
from tests.fixtures.personas import p256_public_der


def pem(public_key):
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_it_refuses_a_private_key(personas):
    private = ec.generate_private_key(ec.SECP256R1())
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(DomainError) as exc:
        services.register_public_key(personas.bidder_a, KeyPurpose.SIGNING, private_pem, proof=None)
    assert exc.value.code == "private_key_uploaded"
    assert not PublicKey.objects.filter(owner=personas.bidder_a).exists()


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: ec.generate_private_key(ec.SECP384R1()).public_key(),
        lambda: rsa.generate_private_key(65537, 2048).public_key(),
    ],
)
def test_it_refuses_keys_that_are_not_p256(personas, make_key):
    with pytest.raises(DomainError) as exc:
        services.register_public_key(personas.bidder_a, KeyPurpose.SIGNING, pem(make_key()), proof=None)
    assert exc.value.code == "unsupported_key_type"
    assert not PublicKey.objects.filter(owner=personas.bidder_a).exists()
    assert not LedgerEntry.objects.filter(
        action="accounts.key.registered", case=f"organization:{personas.bidder_org_a.pk}"
    ).exists()


def test_it_refuses_garbage_and_an_unknown_purpose(personas):
    with pytest.raises(DomainError) as exc:
        services.register_public_key(personas.bidder_a, KeyPurpose.SIGNING, b"not a key", proof=None)
    assert exc.value.code == "invalid_public_key"
    with pytest.raises(DomainError) as exc:
        services.register_public_key(personas.bidder_a, "decrypt-everything", p256_public_der()[1], proof=None)
    assert exc.value.code == "invalid_purpose"
    assert not PublicKey.objects.filter(owner=personas.bidder_a).exists()
    assert not LedgerEntry.objects.filter(
        action="accounts.key.registered", case=f"organization:{personas.bidder_org_a.pk}"
    ).exists()


def test_a_key_is_registered_once_bound_to_the_organization_and_recorded_in_the_ledger(personas):
    private, _ = p256_public_der()
    key = register_own_key(personas.bidder_a, KeyPurpose.SIGNING, private, "laptop")
    assert key.organization == personas.bidder_org_a
    entry = LedgerEntry.objects.get(action="accounts.key.registered", data__contains=key.fingerprint)
    assert entry.case == f"organization:{personas.bidder_org_a.pk}"
    with pytest.raises(Conflict):
        register_own_key(personas.bidder_b, KeyPurpose.SIGNING, private)
    assert PublicKey.objects.filter(fingerprint=key.fingerprint).count() == 1


def test_only_the_owner_can_revoke_a_key(personas):
    key = register_own_key(personas.bidder_a, KeyPurpose.SIGNING, p256_public_der()[0])
    with pytest.raises(PermissionDenied):
        services.revoke_public_key(personas.bidder_b, key)
    key.refresh_from_db()
    assert key.revoked_at is None
    services.revoke_public_key(personas.bidder_a, key)
    assert services.active_key(personas.bidder_a, KeyPurpose.SIGNING) is None
    assert LedgerEntry.objects.filter(action="accounts.key.revoked").count() == 1


def test_a_forged_expired_or_revoked_token_authenticates_nobody(personas, frozen_clock):
    plaintext, token = services.issue_api_token(personas.bidder_a, "cli")
    assert services.user_for_token(plaintext) == personas.bidder_a
    assert services.user_for_token(plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")) is None
    assert services.user_for_token("etk_") is None
    assert services.user_for_token("Bearer " + plaintext) is None
    frozen_clock.advance(days=91)
    assert services.user_for_token(plaintext) is None
    frozen_clock.advance(days=-91)
    services.revoke_api_token(personas.bidder_a, token)
    assert services.user_for_token(plaintext) is None


def test_only_a_hash_of_the_token_is_stored(personas):
    plaintext, token = services.issue_api_token(personas.bidder_a, "cli")
    stored = ApiToken.objects.get(pk=token.pk)
    assert plaintext not in (stored.token_hash, stored.prefix, stored.name)
    assert stored.token_hash == ApiToken.hash_of(plaintext)
    assert stored.expires_at - stored.created_at == dt.timedelta(days=90)
