"""A bearer token that is refused gets a 401, wherever it is sent: never the anonymous view, never the account."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.models import ApiToken, User
from accounts.services import issue_api_token
from tendering.models import Tender
from tests.tendering.test_api import draft_body

pytestmark = pytest.mark.django_db


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Bearer " + token}


def test_the_token_of_a_deactivated_user_is_refused_with_401_and_changes_nothing(personas, frozen_clock):
    token, _ = issue_api_token(personas.tenderer, "cli")
    client = Client()
    assert client.get("/api/accounts/me", **bearer(token)).status_code == 200
    User.objects.filter(pk=personas.tenderer.pk).update(is_active=False)

    me = client.get("/api/accounts/me", **bearer(token))
    assert me.status_code == 401
    assert me.json()["code"] == "not_authenticated"
    created = client.post(
        "/api/tenders",
        json.dumps(draft_body(frozen_clock(), personas)),
        content_type="application/json",
        **bearer(token),
    )
    assert created.status_code == 401
    assert created.json()["code"] == "not_authenticated"
    assert not Tender.objects.exists()
    # Refusing the token does not count as its use.
    assert ApiToken.objects.get(user=personas.tenderer).last_used_at == frozen_clock()


@pytest.mark.parametrize("kind", ["forged", "revoked", "expired", "deactivated user"])
def test_a_refused_token_on_a_public_endpoint_gets_401_not_the_anonymous_view(
    personas, published_tender, frozen_clock, kind
):
    client = Client()
    urls = ["/api/tenders", f"/api/tenders/{published_tender.public_id}"]
    for url in urls:  # what a visitor sees without a token
        assert client.get(url).status_code == 200
    if kind == "forged":
        token = "etk_" + "x" * 40
    else:
        token, issued = issue_api_token(personas.bidder_a, "cli")
        if kind == "revoked":
            ApiToken.objects.filter(pk=issued.pk).update(revoked_at=frozen_clock())
        elif kind == "expired":
            frozen_clock.set(issued.expires_at)
        else:
            User.objects.filter(pk=personas.bidder_a.pk).update(is_active=False)

    for url in urls:
        response = client.get(url, **bearer(token))
        assert response.status_code == 401, url
        assert response.json()["code"] == "not_authenticated"
        assert "number" not in response.content.decode()


def test_a_refused_token_beside_a_signed_in_session_gets_401_not_the_sessions_account(personas, frozen_clock):
    client = Client()
    client.force_login(personas.tenderer)
    assert client.get("/api/accounts/me").json()["username"] == "tenderer"  # the session alone is served

    me = client.get("/api/accounts/me", **bearer("etk_" + "x" * 40))
    assert me.status_code == 401
    assert me.json()["code"] == "not_authenticated"
    created = client.post(
        "/api/tenders",
        json.dumps(draft_body(frozen_clock(), personas)),
        content_type="application/json",
        **bearer("etk_" + "y" * 40),
    )
    assert created.status_code == 401
    assert not Tender.objects.exists()
