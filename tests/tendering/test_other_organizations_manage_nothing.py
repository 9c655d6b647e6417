"""The staff of a second tenderer, and of a second agency the tenderer has not entrusted, manage nothing of the
tender: every manage action, through the services, the API and the pages, is refused and changes nothing."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.errors import DomainError
from accounts.services import issue_api_token
from archive.models import LedgerEntry
from tendering.models import Amendment, Question, Tender, TenderDocument
from tendering.services import amendments, documents, questions, tenders
from tendering.services.opening import admission, bid_retried, conclusion, confirmations
from tests.fixtures.personas import PDF_BYTES, Personas, tender_input
from tests.frontend.conftest import signed_in, tender_form_data
from tests.tendering.test_api import draft_body

OUTSIDERS = ["other_tenderer", "other_agent"]


def stored(tender: Tender) -> dict[str, Any]:
    """Everything a manage action could change, as stored."""
    return {
        "tender": Tender.objects.values().get(pk=tender.pk),
        "documents": list(TenderDocument.objects.filter(tender=tender).order_by("pk").values("name", "withdrawn_at")),
        "amendments": list(Amendment.objects.filter(tender=tender).values_list("pk", flat=True)),
        "answers": list(Question.objects.filter(tender=tender).order_by("pk").values_list("answer", flat=True)),
        "ledger": LedgerEntry.objects.count(),
    }


def refused(action: Any) -> DomainError:
    with pytest.raises(DomainError) as exc:
        action()
    assert exc.value.status in (403, 404), exc.value.code
    return exc.value


def test_the_outsiders_are_what_their_names_say(personas: Personas) -> None:
    assert personas.other_tenderer.organization_id != personas.tenderer.organization_id
    assert personas.other_agent.organization_id != personas.agent.organization_id
    assert personas.other_tenderer.has_role("tenderer_staff") and personas.other_agent.has_role("agency_staff")


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_they_cannot_edit_publish_or_change_the_documents_of_a_draft(personas, draft_tender, frozen_clock, outsider):
    user = getattr(personas, outsider)
    document = draft_tender.documents.get()
    before = stored(draft_tender)

    refused(
        lambda: tenders.update_draft(
            user, draft_tender, tender_input(frozen_clock(), personas.custodians, title="被篡改")
        )
    )
    refused(lambda: tenders.publish(user, draft_tender))
    refused(lambda: documents.add_document(user, draft_tender, "冒名文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES)))
    refused(lambda: documents.withdraw_draft_document(user, document))

    assert stored(draft_tender) == before


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_they_cannot_amend_a_published_tender_or_answer_its_questions(personas, published_tender, outsider):
    user = getattr(personas, outsider)
    question = questions.ask_question(personas.bidder_a, published_tender, "工期能否延长？")
    before = stored(published_tender)

    refused(lambda: amendments.issue_amendment(user, published_tender, "冒名修改"))
    refused(lambda: questions.answer_question(user, question, "可以。"))
    for transition in (tenders.close_opening, tenders.publish_candidates, tenders.award, tenders.file_case):
        refused(lambda transition=transition: transition(user, published_tender))

    assert stored(published_tender) == before


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_they_take_no_part_in_the_opening(personas, published_tender, frozen_clock, outsider):
    user = getattr(personas, outsider)
    frozen_clock.set(published_tender.opening_time)
    before = stored(published_tender)

    assert admission.roles_in_hall(user, published_tender) == set()
    for action in (
        lambda: admission.sign_in(user, published_tender),
        lambda: conclusion.conclude_decryption(user, published_tender),
        lambda: bid_retried.retry_decryption(user, published_tender, published_tender.public_id),
        lambda: confirmations.answer_objection(user, published_tender, 1, "驳回。"),
        lambda: conclusion.close_opening(user, published_tender),
    ):
        assert refused(action).code == "not_in_hall"

    assert stored(published_tender) == before


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_the_api_refuses_them_every_manage_action(personas, draft_tender, frozen_clock, outsider):
    user = getattr(personas, outsider)
    auth = {"HTTP_AUTHORIZATION": "Bearer " + issue_api_token(user, "cli")[0]}
    client = Client()
    url = f"/api/tenders/{draft_tender.public_id}"
    body = json.dumps(draft_body(frozen_clock(), personas, title="被篡改"))
    before = stored(draft_tender)

    responses = [
        client.put(url, body, content_type="application/json", **auth),
        client.post(url + "/publish", **auth),
        client.post(url + "/documents", {"file": io.BytesIO(PDF_BYTES)}, **auth),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]  # for them, another's draft does not exist
    assert stored(draft_tender) == before


MANAGEMENT_PAGES = [
    "frontend:tender-edit",
    "frontend:tender-documents",
    "frontend:tender-questions",
    "frontend:amendment-create",
]


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_the_pages_of_a_draft_do_not_exist_for_them(personas, draft_tender, frozen_clock, outsider):
    page = signed_in(getattr(personas, outsider))
    upload = io.BytesIO(PDF_BYTES)
    upload.name = "冒名文件.pdf"
    before = stored(draft_tender)

    for name in MANAGEMENT_PAGES:
        assert page.get(reverse(name, args=[draft_tender.public_id])).status_code == 404, name
    form = tender_form_data(frozen_clock(), personas.custodians, title="被篡改")
    assert page.post(reverse("frontend:tender-edit", args=[draft_tender.public_id]), form).status_code == 404
    assert (
        page.post(reverse("frontend:tender-documents", args=[draft_tender.public_id]), {"file": upload}).status_code
        == 404
    )
    assert page.post(reverse("frontend:tender-publish", args=[draft_tender.public_id])).status_code == 404

    assert stored(draft_tender) == before


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_the_management_pages_of_a_published_tender_refuse_them(personas, published_tender, outsider):
    page = signed_in(getattr(personas, outsider))
    question = questions.ask_question(personas.bidder_a, published_tender, "工期能否延长？")
    before = stored(published_tender)

    for name in MANAGEMENT_PAGES:
        assert page.get(reverse(name, args=[published_tender.public_id])).status_code == 403, name
    assert (
        page.post(
            reverse("frontend:amendment-create", args=[published_tender.public_id]), {"summary": "冒名修改"}
        ).status_code
        == 403
    )
    answer = reverse("frontend:question-answer", args=[published_tender.public_id, question.public_id])
    assert page.post(answer, {f"q{question.pk}-answer": "可以。"}).status_code == 403

    assert stored(published_tender) == before
