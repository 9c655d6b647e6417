"""Login throttling and lockout (django-axes): /login/ and the API's token endpoint.

30 wrong passwords, then the right one: refused on both, with a message saying
when to retry; counted per username and address together; reset by a success;
unlocked by an administrator.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from asgiref.sync import async_to_sync
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import AsyncClient, Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken, User
from tests.fixtures.personas import PASSWORD

WRONG = "Not-The-Password-2026"


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def page_sign_in(client: Client, username: str, password: str, address: str = "127.0.0.1") -> object:
    return client.post(reverse("frontend:login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def token_request(client: Client, username: str, password: str, address: str = "127.0.0.1") -> object:
    return client.post(
        "/api/accounts/tokens",
        {"name": "cli"},
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(username, password),
        REMOTE_ADDR=address,
    )


def test_thirty_wrong_passwords_lock_the_sign_in_page_even_for_the_right_one(personas):
    client = Client()
    for _ in range(30):
        response = page_sign_in(client, "bidder_a", WRONG)
        assert response.status_code in {200, 429}
        assert SESSION_KEY not in client.session
    response = page_sign_in(client, "bidder_a", PASSWORD)
    assert response.status_code == 429
    assert SESSION_KEY not in client.session
    html = response.content.decode()
    assert 'id="login-locked"' in html
    assert "登录失败次数过多" in html and "之后再试" in html
    until = timezone.localtime(AccessAttempt.objects.get(username="bidder_a").attempt_time + settings.AXES_COOLOFF_TIME)
    assert until.strftime("%Y-%m-%d %H:%M") in html
    assert 0 < int(response["Retry-After"]) <= settings.AXES_COOLOFF_TIME.total_seconds()
    # The dashboard is still closed: nothing signed in.
    assert client.get(reverse("frontend:dashboard")).status_code == 302


def test_the_lockout_starts_at_the_configured_limit(personas):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        page_sign_in(client, "bidder_a", WRONG)
    assert page_sign_in(client, "bidder_a", WRONG).status_code == 429
    assert page_sign_in(client, "bidder_a", PASSWORD).status_code == 429
    assert AccessAttempt.objects.get(username="bidder_a").failures_since_start == settings.AXES_FAILURE_LIMIT


def test_the_lockout_message_is_in_english_for_english_users(personas):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page_sign_in(client, "bidder_a", WRONG)
    response = page_sign_in(client, "bidder_a", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()


def test_thirty_wrong_passwords_lock_the_token_endpoint_even_for_the_right_one(personas):
    client = Client()
    for _ in range(30):
        response = token_request(client, "bidder_b", WRONG)
        assert response.status_code in {401, 429}
    response = token_request(client, "bidder_b", PASSWORD)
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "login_locked"
    assert "之后再试" in body["message"]
    assert int(response["Retry-After"]) > 0
    assert not ApiToken.objects.filter(user=personas.bidder_b).exists()


def test_the_token_endpoint_locks_out_under_asgi_as_daphne_serves_it(personas):
    """AxesMiddleware's async path (Daphne) calls the lockout response differently: it still answers 429."""
    client = AsyncClient()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        async_to_sync(client.post)(
            "/api/accounts/tokens",
            {"name": "cli"},
            content_type="application/json",
            headers={"authorization": basic("bidder_b", WRONG)},
        )
    response = async_to_sync(client.post)(
        "/api/accounts/tokens",
        {"name": "cli"},
        content_type="application/json",
        headers={"authorization": basic("bidder_b", PASSWORD)},
    )
    assert response.status_code == 429
    assert response.json()["code"] == "login_locked"
    assert not ApiToken.objects.filter(user=personas.bidder_b).exists()


def test_the_page_and_the_api_share_one_count(personas):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page_sign_in(client, "bidder_a", WRONG)
    assert token_request(client, "bidder_a", PASSWORD).status_code == 429
    assert not ApiToken.objects.filter(user=personas.bidder_a).exists()


def test_the_lock_holds_one_username_from_one_address_only(personas):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page_sign_in(client, "bidder_a", WRONG, address="198.51.100.7")
    assert page_sign_in(client, "bidder_a", PASSWORD, address="198.51.100.7").status_code == 429
    # The bidder signs in from its own office; another user at the guesser's address is not locked either.
    assert token_request(Client(), "bidder_a", PASSWORD, address="203.0.113.20").status_code == 201
    assert token_request(Client(), "bidder_b", PASSWORD, address="198.51.100.7").status_code == 201


def test_a_success_resets_the_count(personas):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        page_sign_in(client, "bidder_a", WRONG)
    assert token_request(Client(), "bidder_a", PASSWORD).status_code == 201
    assert not AccessAttempt.objects.filter(username="bidder_a").exists()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        token_request(client, "bidder_a", WRONG)
    response = page_sign_in(Client(), "bidder_a", PASSWORD)
    assert response.status_code == 302


def test_the_lock_ends_after_the_cool_off(personas):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page_sign_in(client, "bidder_a", WRONG)
    assert page_sign_in(client, "bidder_a", PASSWORD).status_code == 429
    past = timezone.now() - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1)
    AccessAttempt.objects.filter(username="bidder_a").update(attempt_time=past)
    assert page_sign_in(client, "bidder_a", PASSWORD).status_code == 302
    assert client.session[SESSION_KEY] == str(personas.bidder_a.pk)


def test_an_administrator_unlocks_a_locked_user_in_the_back_office(personas):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page_sign_in(client, "bidder_a", WRONG)
    attempt = AccessAttempt.objects.get(username="bidder_a")
    User.objects.create_superuser("root", "root@example.org", "Root-Password-2026")
    admin = Client()
    assert (
        admin.post(
            "/admin/login/", {"username": "root", "password": "Root-Password-2026"}, REMOTE_ADDR="192.0.2.1"
        ).status_code
        == 302
    )
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "bidder_a" in listing.content.decode()
    response = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert page_sign_in(client, "bidder_a", PASSWORD).status_code == 302


def test_the_admin_sign_in_is_throttled_too(personas):
    User.objects.create_superuser("root", "root@example.org", "Root-Password-2026")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "root", "password": WRONG})
    response = client.post("/admin/login/", {"username": "root", "password": "Root-Password-2026"})
    assert response.status_code == 429
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize("limit", [3, 5])
def test_the_limit_is_a_setting(personas, settings, limit):
    settings.AXES_FAILURE_LIMIT = limit
    client = Client()
    for _ in range(limit):
        page_sign_in(client, "bidder_a", WRONG)
    assert page_sign_in(client, "bidder_a", PASSWORD).status_code == 429


def test_a_forged_forwarded_for_header_does_not_give_a_guesser_a_fresh_address(personas):
    client = Client()
    for i in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            reverse("frontend:login"),
            {"username": "bidder_a", "password": WRONG},
            REMOTE_ADDR="203.0.113.9",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
        )
    response = client.post(
        reverse("frontend:login"),
        {"username": "bidder_a", "password": PASSWORD},
        REMOTE_ADDR="203.0.113.9",
        HTTP_X_FORWARDED_FOR="198.51.100.200",
    )
    assert response.status_code == 429
    assert SESSION_KEY not in client.session
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["203.0.113.9"]
