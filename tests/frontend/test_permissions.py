"""Who may reach which page: refusals first, then what each role does see."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from tendering.models import Tender, TenderDocument
from tests.fixtures.personas import PDF_BYTES
from tests.frontend.conftest import signed_in, tender_form_data

MANAGEMENT_PAGES = [
    "frontend:tender-edit",
    "frontend:tender-documents",
    "frontend:tender-questions",
    "frontend:amendment-create",
]


def url(name, tender, *more):
    return reverse(name, args=[tender.public_id, *more])


@pytest.mark.parametrize("page", MANAGEMENT_PAGES)
def test_a_bidder_cannot_reach_the_management_pages_of_a_tender(personas, published_tender, page):
    assert signed_in(personas.bidder_a).get(url(page, published_tender)).status_code == 403


def test_a_bidders_posts_to_management_pages_change_nothing(personas, draft_tender, frozen_clock):
    # The draft is shown to bidders as missing; the published tender as forbidden.
    bidder = signed_in(personas.bidder_a)
    document = draft_tender.documents.get()
    before = Tender.objects.values().get(pk=draft_tender.pk)
    upload = io.BytesIO(PDF_BYTES)
    upload.name = "冒名文件.pdf"

    assert bidder.post(url("frontend:tender-publish", draft_tender)).status_code == 404
    assert (
        bidder.post(
            url("frontend:tender-edit", draft_tender),
            tender_form_data(frozen_clock(), personas.custodians, title="被篡改"),
        ).status_code
        == 404
    )
    assert bidder.post(url("frontend:tender-documents", draft_tender), {"file": upload}).status_code == 404
    assert bidder.post(url("frontend:document-remove", draft_tender, document.public_id)).status_code == 404

    assert Tender.objects.values().get(pk=draft_tender.pk) == before
    assert list(TenderDocument.objects.values_list("name", "withdrawn_at")) == [("招标文件.pdf", None)]


def test_a_bidder_cannot_publish_edit_or_upload_to_a_published_tender(personas, published_tender, frozen_clock):
    bidder = signed_in(personas.bidder_a)
    before = Tender.objects.values().get(pk=published_tender.pk)
    upload = io.BytesIO(PDF_BYTES)
    upload.name = "冒名文件.pdf"

    assert bidder.post(url("frontend:tender-publish", published_tender)).status_code == 403
    assert (
        bidder.post(
            url("frontend:tender-edit", published_tender), tender_form_data(frozen_clock(), personas.custodians)
        ).status_code
        == 403
    )
    assert bidder.post(url("frontend:tender-documents", published_tender), {"file": upload}).status_code == 403
    assert bidder.post(url("frontend:amendment-create", published_tender), {"summary": "冒名修改"}).status_code == 403

    assert Tender.objects.values().get(pk=published_tender.pk) == before
    assert published_tender.documents.count() == 1
    assert not published_tender.amendments.exists()


def test_a_bidder_cannot_create_tenders_or_see_the_supervision_list(personas, frozen_clock):
    bidder = signed_in(personas.bidder_a)
    assert bidder.get(reverse("frontend:tender-create")).status_code == 403
    assert (
        bidder.post(
            reverse("frontend:tender-create"), tender_form_data(frozen_clock(), personas.custodians)
        ).status_code
        == 403
    )
    assert bidder.get(reverse("frontend:my-tenders")).status_code == 403
    assert bidder.get(reverse("frontend:supervision")).status_code == 403
    assert not Tender.objects.exists()


def test_the_403_page_is_the_platforms_page(personas, published_tender):
    response = signed_in(personas.bidder_a).get(url("frontend:tender-edit", published_tender))
    assert response.status_code == 403
    assert "无权访问" in response.text
    assert "电子招标投标交易平台" in response.text


def test_anonymous_visitors_are_sent_to_sign_in_for_management_pages(client, published_tender):
    for page in MANAGEMENT_PAGES:
        response = client.get(url(page, published_tender))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("frontend:login"))
    assert client.post(url("frontend:tender-publish", published_tender)).status_code == 302


@pytest.mark.parametrize("outsider", ["other_tenderer", "other_agent"])
def test_the_staff_of_another_tenderer_or_agency_cannot_manage_the_tender(personas, draft_tender, outsider):
    # For them the draft does not exist
    # (every manage action: tests/tendering/test_other_organizations_manage_nothing.py).
    page = signed_in(getattr(personas, outsider))
    before = Tender.objects.values().get(pk=draft_tender.pk)
    assert page.get(url("frontend:tender-edit", draft_tender)).status_code == 404
    assert page.post(url("frontend:tender-publish", draft_tender)).status_code == 404
    assert Tender.objects.values().get(pk=draft_tender.pk) == before


def test_an_agency_not_attached_to_the_draft_cannot_manage_it(personas, draft_tender):
    agent = signed_in(personas.agent)
    before = Tender.objects.values().get(pk=draft_tender.pk)
    assert agent.get(url("frontend:tender-edit", draft_tender)).status_code == 404
    assert agent.post(url("frontend:tender-publish", draft_tender)).status_code == 404
    assert Tender.objects.values().get(pk=draft_tender.pk) == before


def test_a_regulator_cannot_publish_or_edit_a_draft(personas, draft_tender, frozen_clock):
    regulator = signed_in(personas.regulator)
    assert regulator.post(url("frontend:tender-publish", draft_tender)).status_code == 403
    assert regulator.get(url("frontend:tender-edit", draft_tender)).status_code == 403
    assert (
        regulator.post(
            url("frontend:tender-edit", draft_tender), tender_form_data(frozen_clock(), personas.custodians)
        ).status_code
        == 403
    )
    assert regulator.get(url("frontend:tender-documents", draft_tender)).status_code == 403
    assert Tender.objects.get(pk=draft_tender.pk).published_at is None
    assert Tender.objects.get(pk=draft_tender.pk).title == draft_tender.title


def test_a_regulator_reads_drafts_without_any_change_button(personas, draft_tender):
    regulator = signed_in(personas.regulator)
    listing = regulator.get(reverse("frontend:supervision")).text
    assert draft_tender.title in listing

    page = regulator.get(url("frontend:tender-detail", draft_tender))
    assert page.status_code == 200
    assert "草稿" in page.text
    assert draft_tender.documents.get().sha256 in page.text
    for change in (
        "frontend:tender-publish",
        "frontend:tender-edit",
        "frontend:tender-documents",
        "frontend:tender-questions",
    ):
        assert f'"{url(change, draft_tender)}"' not in page.text


def test_the_tenderer_sees_the_change_buttons_of_its_draft(personas, draft_tender):
    page = signed_in(personas.tenderer).get(url("frontend:tender-detail", draft_tender)).text
    for change in ("frontend:tender-publish", "frontend:tender-edit", "frontend:tender-documents"):
        assert f'"{url(change, draft_tender)}"' in page


def test_a_user_cannot_revoke_someone_elses_key(personas):
    key = personas.custodians[0].public_keys.get(purpose="encryption")
    response = signed_in(personas.custodians[1]).post(reverse("frontend:key-revoke", args=[key.pk]))
    assert response.status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None
