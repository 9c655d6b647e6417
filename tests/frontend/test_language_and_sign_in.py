"""Chinese first, English on request; signing in and out."""

from __future__ import annotations

from django.urls import reverse

from tests.fixtures.personas import PASSWORD
from tests.frontend.conftest import signed_in


def test_pages_are_chinese_by_default(client, published_tender):
    page = client.get(reverse("frontend:tender-list")).text
    assert '<html lang="zh-Hans">' in page
    assert "电子招标投标交易平台" in page and "招标公告" in page


def test_the_language_switcher_gives_english_pages(client, published_tender):
    detail = reverse("frontend:tender-detail", args=[published_tender.public_id])
    switched = client.post(reverse("set_language"), {"language": "en", "next": detail})
    assert switched.status_code == 302 and switched["Location"] == detail

    page = client.get(detail).text
    assert '<html lang="en">' in page
    assert "Electronic Tendering and Bidding Platform" in page
    assert "Tender documents" in page
    assert "Bid deadline" in page
    assert "Open for bids" in page
    assert "Open tendering" in page
    assert "电子招标投标交易平台" not in page
    # Data stays as it was entered.
    assert published_tender.title in page

    client.post(reverse("set_language"), {"language": "zh-hans", "next": detail})
    assert "电子招标投标交易平台" in client.get(detail).text


def test_a_form_error_from_a_service_is_shown_in_english(personas, draft_tender, frozen_clock):
    tenderer = signed_in(personas.tenderer)
    tenderer.post(reverse("set_language"), {"language": "en", "next": "/"})
    frozen_clock.advance(days=15)
    response = tenderer.post(reverse("frontend:tender-publish", args=[draft_tender.public_id]), follow=True)
    assert "There must be at least 20 days between publication and the bid deadline." in response.text


def test_a_wrong_password_is_refused_and_the_right_one_signs_in(client, personas):
    refused = client.post(reverse("frontend:login"), {"username": "bidder_a", "password": "wrong-password"})
    assert refused.status_code == 200
    assert 'role="alert"' in refused.text
    assert "_auth_user_id" not in client.session

    response = client.post(reverse("frontend:login"), {"username": "bidder_a", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("frontend:dashboard")
    assert "退出" in client.get(reverse("frontend:dashboard")).text

    out = client.post(reverse("frontend:logout"))
    assert out.status_code == 302 and out["Location"] == reverse("frontend:tender-list")
    assert "_auth_user_id" not in client.session


def test_the_navigation_follows_the_role(personas):
    bidder = signed_in(personas.bidder_a).get(reverse("frontend:dashboard")).text
    tenderer = signed_in(personas.tenderer).get(reverse("frontend:dashboard")).text
    regulator = signed_in(personas.regulator).get(reverse("frontend:dashboard")).text
    new_tender = f'href="{reverse("frontend:tender-create")}"'
    supervision = f'href="{reverse("frontend:supervision")}"'
    assert new_tender not in bidder and supervision not in bidder
    assert new_tender in tenderer and supervision not in tenderer
    assert supervision in regulator and new_tender not in regulator
