"""The public pages: announcements, a tender's page, and what they must never show."""

from __future__ import annotations

import io

from django.urls import reverse

from tendering.models import Phase
from tendering.services import documents, questions, tenders
from tests.fixtures.personas import PDF_BYTES, tender_input
from tests.frontend.conftest import signed_in


def detail_url(tender):
    return reverse("frontend:tender-detail", args=[tender.public_id])


def test_anonymous_visitors_see_published_tenders_but_not_drafts(client, personas, published_tender, frozen_clock):
    draft = tenders.create_draft(
        personas.tenderer,
        tender_input(frozen_clock(), personas.custodians, number="RJ-2026-DRAFT", title="尚未发布的草稿项目"),
    )

    listing = client.get(reverse("frontend:tender-list"))
    assert listing.status_code == 200
    assert published_tender.title in listing.text
    assert draft.title not in listing.text
    assert client.get(detail_url(draft)).status_code == 404
    assert client.get(reverse("frontend:tender-list"), {"q": "草稿"}).text.count(draft.title) == 0


def test_a_bidder_does_not_see_someone_elses_draft_either(personas, draft_tender):
    bidder = signed_in(personas.bidder_a)
    assert bidder.get(detail_url(draft_tender)).status_code == 404
    assert draft_tender.title not in bidder.get(reverse("frontend:tender-list")).text


def test_the_list_searches_by_keyword_and_filters_by_phase(client, personas, published_tender, frozen_clock):
    other = tenders.create_draft(
        personas.tenderer,
        tender_input(frozen_clock(), personas.custodians, number="RJ-2026-002", title="城区绿化养护服务"),
    )
    documents.add_document(personas.tenderer, other, "绿化.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
    tenders.publish(personas.tenderer, other)

    found = client.get(reverse("frontend:tender-list"), {"q": "绿化"}).text
    assert other.title in found
    assert published_tender.title not in found
    assert published_tender.title in client.get(reverse("frontend:tender-list"), {"q": "RJ-2026-001"}).text

    open_now = client.get(reverse("frontend:tender-list"), {"phase": Phase.OPEN_FOR_BIDS}).text
    assert published_tender.title in open_now and other.title in open_now
    closed = client.get(reverse("frontend:tender-list"), {"phase": Phase.CLOSED}).text
    assert published_tender.title not in closed
    assert "没有符合条件的招标公告" in closed

    frozen_clock.advance(days=31)
    assert published_tender.title in client.get(reverse("frontend:tender-list"), {"phase": Phase.OPENING}).text


def test_the_tender_page_shows_documents_lots_custodians_and_deadlines_in_beijing_time(
    client, personas, published_tender
):
    page = client.get(detail_url(published_tender)).text
    document = published_tender.documents.get()
    assert document.name in page
    assert document.sha256 in page
    assert f"{document.size} 字节" in page
    assert reverse("frontend:document-download", args=[published_tender.public_id, document.public_id]) in page
    assert "路面工程" in page
    for slot in published_tender.custodian_slots.select_related("public_key", "user"):
        assert str(slot.user) in page
        assert slot.public_key.fingerprint in page
    assert '<strong id="threshold">2</strong>' in page
    # The frozen clock stands at 2026-03-02 09:00 Beijing time; the deadline is 30 days later.
    assert "2026-04-01 09:00" in page
    assert "投标中" in page


def test_the_asker_is_never_shown_on_the_public_page_nor_to_the_tenderer(client, personas, published_tender):
    question = questions.ask_question(personas.bidder_a, published_tender, "工期能否延长至 240 日历天？")
    questions.answer_question(personas.tenderer, question, "工期不变，仍为 180 日历天。")
    asker = personas.bidder_a

    pages = [
        client.get(detail_url(published_tender)).text,
        signed_in(personas.bidder_b).get(detail_url(published_tender)).text,
        signed_in(personas.tenderer).get(detail_url(published_tender)).text,
        signed_in(personas.tenderer).get(reverse("frontend:tender-questions", args=[published_tender.public_id])).text,
    ]
    for page in pages:
        assert "工期能否延长至 240 日历天？" in page
        assert "工期不变，仍为 180 日历天。" in page
        for clue in (asker.username, str(asker), asker.organization.name, asker.organization.credit_code):
            assert clue not in page


def test_a_bidder_sees_their_own_pending_question_but_not_another_bidders(personas, published_tender):
    questions.ask_question(personas.bidder_a, published_tender, "是否接受联合体投标？")
    assert "是否接受联合体投标？" in signed_in(personas.bidder_a).get(detail_url(published_tender)).text
    assert "是否接受联合体投标？" not in signed_in(personas.bidder_b).get(detail_url(published_tender)).text


def test_the_footer_links_to_the_api_documentation(client, db):
    assert 'href="/api/docs"' in client.get(reverse("frontend:tender-list")).text
