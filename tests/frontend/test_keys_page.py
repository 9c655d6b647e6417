"""The "my keys" page: register a public key by pasting its PEM, revoke it."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.urls import reverse

from accounts.models import PublicKey
from tests.frontend.conftest import signed_in
from tests.frontend.test_drafting_pages import field_error


def pem_of(private) -> str:
    return private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_a_private_key_is_refused_and_nothing_is_stored(personas):
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    response = signed_in(personas.bidder_a).post(reverse("frontend:keys"), {"purpose": "signing", "public_key": pem})
    assert "这是私钥" in field_error(response.text, "public_key")
    assert not PublicKey.objects.filter(owner=personas.bidder_a).exists()


def test_a_key_that_is_not_p256_is_refused(personas):
    rsa_pem = pem_of(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    response = signed_in(personas.bidder_a).post(reverse("frontend:keys"), {"purpose": "signing", "public_key": rsa_pem})
    assert "P-256" in field_error(response.text, "public_key")
    garbage = signed_in(personas.bidder_a).post(reverse("frontend:keys"), {"purpose": "signing", "public_key": "not a key"})
    assert field_error(garbage.text, "public_key")
    assert not PublicKey.objects.filter(owner=personas.bidder_a).exists()


def test_the_page_needs_a_signed_in_user(client, db):
    response = client.get(reverse("frontend:keys"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("frontend:login"))


def test_a_user_registers_lists_and_revokes_a_key(personas):
    bidder = signed_in(personas.bidder_a)
    pem = pem_of(ec.generate_private_key(ec.SECP256R1()))
    response = bidder.post(reverse("frontend:keys"), {"purpose": "signing", "label": "办公室电脑", "public_key": pem}, follow=True)
    key = PublicKey.objects.get(owner=personas.bidder_a)
    assert key.label == "办公室电脑"
    assert key.fingerprint in response.text
    assert "公钥已登记" in response.text

    again = bidder.post(reverse("frontend:keys"), {"purpose": "signing", "public_key": pem})
    assert "此公钥已登记过" in field_error(again.text, "public_key")

    assert bidder.post(reverse("frontend:key-revoke", args=[key.pk])).status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert "已撤销" in bidder.get(reverse("frontend:keys")).text
