"""Every page sends a strict Content-Security-Policy (django-csp) with a fresh nonce per response.

The pages that hold keys and seal bids (the bid page, the browser keys page) run
only the platform's own static scripts, each tagged with the response's nonce;
no page has an inline script, event handler or style. Chromium's side (that the
pages still work and report no violation) is in tests/browser.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.frontend.conftest import signed_in
from tests.frontend.csp import assert_strict_policy, executable_scripts, policy

ANONYMOUS_PAGES = ["frontend:tender-list", "frontend:login"]
SIGNED_IN_PAGES = ["frontend:dashboard", "frontend:keys", "frontend:tokens", "frontend:browser-keys"]
MANAGER_PAGES = ["frontend:my-tenders", "frontend:tender-create"]
DRAFT_PAGES = ["frontend:tender-edit", "frontend:tender-documents"]
PUBLISHED_PAGES = ["frontend:tender-questions", "frontend:amendment-create"]


@pytest.mark.parametrize("page", ANONYMOUS_PAGES)
def test_public_pages_send_the_strict_policy(db, page):
    response = Client().get(reverse(page))
    assert response.status_code == 200
    assert_strict_policy(response)


@pytest.mark.parametrize("page", SIGNED_IN_PAGES)
def test_a_bidders_pages_send_the_strict_policy(personas, page):
    response = signed_in(personas.bidder_a).get(reverse(page))
    assert response.status_code == 200
    assert_strict_policy(response)


@pytest.mark.parametrize("page", MANAGER_PAGES)
def test_a_tenderers_pages_send_the_strict_policy(personas, page):
    response = signed_in(personas.tenderer).get(reverse(page))
    assert response.status_code == 200
    assert_strict_policy(response)


@pytest.mark.parametrize("page", DRAFT_PAGES)
def test_the_pages_drafting_a_tender_send_the_strict_policy(personas, draft_tender, page):
    response = signed_in(personas.tenderer).get(reverse(page, args=[draft_tender.public_id]))
    assert response.status_code == 200
    assert_strict_policy(response)


@pytest.mark.parametrize("page", PUBLISHED_PAGES)
def test_the_pages_managing_a_published_tender_send_the_strict_policy(personas, published_tender, page):
    response = signed_in(personas.tenderer).get(reverse(page, args=[published_tender.public_id]))
    assert response.status_code == 200
    assert_strict_policy(response)


def test_the_tender_page_and_the_supervision_list_send_the_strict_policy(personas, published_tender):
    assert_strict_policy(Client().get(reverse("frontend:tender-detail", args=[published_tender.public_id])))
    response = signed_in(personas.regulator).get(reverse("frontend:supervision"))
    assert response.status_code == 200
    assert_strict_policy(response)


def test_the_bid_page_runs_only_its_own_script_with_the_responses_nonce(personas, published_tender):
    response = signed_in(personas.bidder_a).get(reverse("frontend:bid-submit", args=[published_tender.public_id]))
    assert response.status_code == 200
    assert_strict_policy(response)
    [script] = executable_scripts(response)
    assert 'src="/static/frontend/build/bid-page.js"' in script
    assert any(value.startswith("'nonce-") for value in policy(response)["script-src"])


def test_the_browser_keys_page_runs_only_its_own_script_with_the_responses_nonce(personas):
    response = signed_in(personas.custodians[0]).get(reverse("frontend:browser-keys"))
    assert_strict_policy(response)
    [script] = executable_scripts(response)
    assert 'src="/static/frontend/build/keys-page.js"' in script


def test_each_response_gets_a_nonce_of_its_own(personas, published_tender):
    client = signed_in(personas.bidder_a)
    url = reverse("frontend:bid-submit", args=[published_tender.public_id])
    nonces = {next(v for v in policy(client.get(url))["script-src"] if v.startswith("'nonce-")) for _ in range(3)}
    assert len(nonces) == 3


def test_error_pages_the_admin_and_the_api_send_it_too(personas, published_tender):
    assert_strict_policy(Client().get("/tenders/00000000-0000-0000-0000-000000000000/"))
    assert_strict_policy(Client().get("/admin/login/"), own_scripts=False)
    # The API's docs load django-ninja's bundled Swagger UI from /static/: 'self', no nonce needed.
    docs = Client().get("/api/docs")
    assert_strict_policy(docs, own_scripts=False)
    assert all('src="/static/ninja/' in script for script in executable_scripts(docs)), (
        "the docs' scripts come from a CDN"
    )
    api = Client().get("/api/tenders")
    assert api.status_code == 200 and policy(api)["default-src"] == ["'none'"]
