"""Drafting through the pages: bad input is shown on its field and stores nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from archive.models import LedgerEntry
from tendering.models import Phase, Tender, TenderDocument
from tests.fixtures.personas import PDF_BYTES
from tests.frontend.conftest import local, signed_in, tender_form_data


def field_error(html: str, field: str) -> str:
    """The error list tied to a field (``id_<field>_error``), which its input names in aria-describedby."""
    match = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', html, re.S)
    assert match, f"no error shown on {field}"
    assert re.search(rf'aria-describedby="[^"]*id_{field}_error', html), f"{field} input is not tied to its error"
    return match.group(1)


def nothing_stored() -> None:
    assert not Tender.objects.exists()
    assert not LedgerEntry.objects.filter(action__startswith="tendering.").exists()


@pytest.mark.parametrize(
    ("field", "changes", "message"),
    [
        (
            "bid_deadline",
            lambda now: {
                "enquiry_deadline": local(now - dt.timedelta(days=2)),
                "bid_deadline": local(now - dt.timedelta(days=1)),
                "opening_time": local(now - dt.timedelta(days=1)),
            },
            "投标截止时间已过",
        ),
        (
            "opening_time",
            lambda now: {"opening_time": local(now + dt.timedelta(days=29))},
            "开标时间不能早于投标截止时间",
        ),
        (
            "enquiry_deadline",
            lambda now: {"enquiry_deadline": local(now + dt.timedelta(days=31))},
            "提问截止时间不能晚于投标截止时间",
        ),
        ("custodian_threshold", lambda now: {"custodian_threshold": "4"}, "开启门限 k"),
        ("number", lambda now: {"number": "x"}, "招标编号"),
        ("bid_deadline", lambda now: {"bid_deadline": "明天"}, ""),
    ],
)
def test_a_draft_that_breaks_a_rule_is_shown_with_its_field_error_and_not_stored(
    personas, frozen_clock, field, changes, message
):
    tenderer = signed_in(personas.tenderer)
    data = tender_form_data(frozen_clock(), personas.custodians, **changes(frozen_clock()))
    response = tenderer.post(reverse("frontend:tender-create"), data)
    assert response.status_code == 200
    assert message in field_error(response.text, field)
    assert 'role="alert"' in response.text
    nothing_stored()


def test_lot_rules_are_shown_above_the_lots(personas, frozen_clock):
    data = tender_form_data(frozen_clock(), personas.custodians, **{"lots-0-budget": "9000000.00"})
    response = signed_in(personas.tenderer).post(reverse("frontend:tender-create"), data)
    assert "各标段预算之和不能超过项目预算" in response.text
    assert 'id="lots-errors"' in response.text
    nothing_stored()


def test_a_tenderer_creates_a_draft_with_deadlines_read_in_beijing_time(personas, frozen_clock):
    tenderer = signed_in(personas.tenderer)
    data = tender_form_data(
        frozen_clock(), personas.custodians, bid_deadline="2026-04-10T09:30", opening_time="2026-04-10T10:00"
    )
    response = tenderer.post(reverse("frontend:tender-create"), data)

    tender = Tender.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("frontend:tender-documents", args=[tender.public_id])
    assert tender.bid_deadline == dt.datetime(2026, 4, 10, 1, 30, tzinfo=dt.UTC)
    assert tender.opening_time == dt.datetime(2026, 4, 10, 2, 0, tzinfo=dt.UTC)
    assert (tender.tenderer, tender.agency) == (personas.tenderer_org, None)
    assert [lot.name for lot in tender.lots.all()] == ["管网工程"]
    assert [slot.user for slot in tender.custodian_slots.all()] == personas.custodians
    assert tender.phase(frozen_clock()) == Phase.DRAFT


def test_an_agency_must_choose_the_tenderer_it_acts_for(personas, frozen_clock):
    agent = signed_in(personas.agent)
    form = agent.get(reverse("frontend:tender-create")).text
    assert 'name="tenderer"' in form and 'name="agency"' not in form

    refused = agent.post(reverse("frontend:tender-create"), tender_form_data(frozen_clock(), personas.custodians))
    assert field_error(refused.text, "tenderer")
    nothing_stored()

    data = tender_form_data(frozen_clock(), personas.custodians, tenderer=personas.tenderer_org.pk)
    assert agent.post(reverse("frontend:tender-create"), data).status_code == 302
    assert (Tender.objects.get().tenderer, Tender.objects.get().agency) == (personas.tenderer_org, personas.agency_org)


def test_the_edit_form_shows_the_draft_in_beijing_time_and_saves_changes(personas, draft_tender, frozen_clock):
    tenderer = signed_in(personas.tenderer)
    edit = reverse("frontend:tender-edit", args=[draft_tender.public_id])
    form = tenderer.get(edit).text
    assert 'value="2026-04-01T09:00"' in form
    assert 'value="路面工程"' in form

    data = tender_form_data(
        frozen_clock(), personas.custodians, number=draft_tender.number, title="乡村道路提升改造工程（二期）"
    )
    assert tenderer.post(edit, data).status_code == 302
    assert Tender.objects.get(pk=draft_tender.pk).title == "乡村道路提升改造工程（二期）"


def test_a_published_tender_cannot_be_edited_through_the_form(personas, published_tender, frozen_clock):
    tenderer = signed_in(personas.tenderer)
    edit = reverse("frontend:tender-edit", args=[published_tender.public_id])
    response = tenderer.post(edit, tender_form_data(frozen_clock(), personas.custodians, title="发布后修改"))
    assert response.status_code == 302
    assert Tender.objects.get(pk=published_tender.pk).title == published_tender.title


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("空文件.pdf", b"", "文件是空的"),
        ("程序.exe", b"MZ\x90\x00", "不允许的文件类型"),
        ("伪装.pdf", b"PK\x03\x04not a pdf", "文件内容与扩展名"),
    ],
)
def test_a_bad_document_is_shown_with_its_field_error_and_not_stored(personas, draft_tender, name, content, message):
    page = reverse("frontend:tender-documents", args=[draft_tender.public_id])
    before = list(TenderDocument.objects.values_list("pk", flat=True))
    response = signed_in(personas.tenderer).post(page, {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 200
    assert message in field_error(response.text, "file")
    assert list(TenderDocument.objects.values_list("pk", flat=True)) == before


def test_one_bad_file_among_several_stores_none_of_them(personas, draft_tender):
    page = reverse("frontend:tender-documents", args=[draft_tender.public_id])
    files = [SimpleUploadedFile("补充.pdf", PDF_BYTES), SimpleUploadedFile("空.pdf", b"")]
    response = signed_in(personas.tenderer).post(page, {"file": files})
    assert "文件是空的" in field_error(response.text, "file")
    assert list(TenderDocument.objects.values_list("name", flat=True)) == ["招标文件.pdf"]


def test_the_upload_form_is_multipart(personas, draft_tender):
    page = signed_in(personas.tenderer).get(reverse("frontend:tender-documents", args=[draft_tender.public_id])).text
    assert 'enctype="multipart/form-data"' in page


def test_a_tenderer_uploads_removes_and_publishes(personas, draft_tender, frozen_clock):
    tenderer = signed_in(personas.tenderer)
    page = reverse("frontend:tender-documents", args=[draft_tender.public_id])
    assert tenderer.post(page, {"file": [SimpleUploadedFile("工程量清单.pdf", PDF_BYTES)]}).status_code == 302
    added = TenderDocument.objects.get(name="工程量清单.pdf")
    assert (
        tenderer.post(reverse("frontend:document-remove", args=[draft_tender.public_id, added.public_id])).status_code
        == 302
    )
    assert TenderDocument.objects.get(pk=added.pk).withdrawn_at is not None

    response = tenderer.post(reverse("frontend:tender-publish", args=[draft_tender.public_id]), follow=True)
    assert "招标公告已发布" in response.text
    assert Tender.objects.get(pk=draft_tender.pk).published_at == frozen_clock()


def test_publishing_too_close_to_the_deadline_is_refused_with_the_reason(personas, draft_tender, frozen_clock):
    frozen_clock.advance(days=15)
    response = signed_in(personas.tenderer).post(
        reverse("frontend:tender-publish", args=[draft_tender.public_id]), follow=True
    )
    assert "自发布至投标截止不得少于 20 日" in response.text
    assert Tender.objects.get(pk=draft_tender.pk).published_at is None
