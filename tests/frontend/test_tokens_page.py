from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken
from accounts.services import issue_api_token, user_for_token
from tests.fixtures.personas import PASSWORD


def signed_in(username):
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def test_anonymous_visitors_are_sent_to_sign_in(personas):
    response = Client().get(reverse("frontend:tokens"))
    assert response.status_code == 302 and reverse("frontend:login") in response["Location"]


def test_nobody_can_revoke_another_users_token(personas):
    _plaintext, token = issue_api_token(personas.bidder_a, "cli")
    response = signed_in("bidder_b").post(reverse("frontend:token-revoke", args=[token.pk]))
    assert response.status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_a_new_token_is_shown_once_works_and_can_be_revoked(personas):
    client = signed_in("bidder_a")
    response = client.post(reverse("frontend:tokens"), {"name": "办公室电脑"})
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    html = response.content.decode()
    start = html.index('id="new-token"')
    plaintext = html[html.index(">", start) + 1 : html.index("</code>", start)]
    assert user_for_token(plaintext) == personas.bidder_a
    assert plaintext not in client.get(reverse("frontend:tokens")).content.decode()
    token = ApiToken.objects.get(user=personas.bidder_a)
    client.post(reverse("frontend:token-revoke", args=[token.pk]))
    assert user_for_token(plaintext) is None


def test_an_empty_token_name_is_refused(personas):
    response = signed_in("bidder_a").post(reverse("frontend:tokens"), {"name": ""})
    assert response.status_code == 200
    assert not ApiToken.objects.exists()
