"""The "my keys" page: lists and revokes keys; registering one needs a proof made on the owner's device."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.urls import reverse

from accounts.models import KeyPurpose, PublicKey
from accounts.own_device import register_own_key
from tests.frontend.conftest import signed_in


def test_a_pasted_public_key_registers_nothing(personas):
    """Anyone can copy a public key: without a proof of possession the page stores nothing."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    bidder = signed_in(personas.bidder_a)
    response = bidder.post(reverse("frontend:keys"), {"purpose": "signing", "public_key": pem})
    assert response.status_code == 405
    assert not PublicKey.objects.filter(owner=personas.bidder_a).exists()
    page = bidder.get(reverse("frontend:keys")).text
    assert "<textarea" not in page
    assert reverse("frontend:browser-keys") in page
    assert "etender keys register --purpose signing" in page


def test_the_page_needs_a_signed_in_user(client, db):
    response = client.get(reverse("frontend:keys"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("frontend:login"))


def test_a_user_lists_and_revokes_a_key_registered_with_a_proof(personas):
    key = register_own_key(personas.bidder_a, KeyPurpose.SIGNING, ec.generate_private_key(ec.SECP256R1()), "办公室电脑")
    bidder = signed_in(personas.bidder_a)
    page = bidder.get(reverse("frontend:keys")).text
    assert key.fingerprint in page and "办公室电脑" in page
    assert "已有 CA 证书" in page  # the demo key CA certified it at registration

    assert bidder.post(reverse("frontend:key-revoke", args=[key.pk])).status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert "已撤销" in bidder.get(reverse("frontend:keys")).text


def test_another_users_key_cannot_be_revoked(personas):
    key = register_own_key(personas.bidder_a, KeyPurpose.SIGNING, ec.generate_private_key(ec.SECP256R1()))
    response = signed_in(personas.bidder_b).post(reverse("frontend:key-revoke", args=[key.pk]))
    assert response.status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None
