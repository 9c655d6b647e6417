"""A regulator reads everything and changes nothing (监督人员只读)."""

import datetime as dt
import io

import pytest

from accounts.errors import PermissionDenied
from archive.models import LedgerEntry
from tendering.models import Amendment, Question, TenderDocument
from tendering.permissions import can_view
from tendering.services import amendments, documents, questions, tenders
from tests.fixtures.personas import PDF_BYTES, tender_input


def test_a_regulator_can_change_nothing_and_nothing_is_recorded(personas, frozen_clock, draft_tender):
    regulator = personas.regulator
    assert can_view(regulator, draft_tender)
    before = LedgerEntry.objects.count()
    attempts = [
        lambda: tenders.create_draft(regulator, tender_input(frozen_clock(), personas.custodians, number="REG-1")),
        lambda: tenders.update_draft(regulator, draft_tender, tender_input(frozen_clock(), personas.custodians)),
        lambda: documents.add_document(regulator, draft_tender, "x.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES)),
        lambda: documents.withdraw_draft_document(regulator, draft_tender.documents.get()),
        lambda: tenders.publish(regulator, draft_tender),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            attempt()
    tenders.publish(personas.tenderer, draft_tender)
    question = questions.ask_question(personas.bidder_a, draft_tender, "工期？")
    before = LedgerEntry.objects.count()
    for attempt in [
        lambda: questions.ask_question(regulator, draft_tender, "?"),
        lambda: questions.answer_question(regulator, question, "可以"),
        lambda: amendments.issue_amendment(
            regulator, draft_tender, "改", new_deadline=frozen_clock() + dt.timedelta(days=40)
        ),
        lambda: tenders.close_opening(regulator, draft_tender),
    ]:
        with pytest.raises(PermissionDenied):
            attempt()
    assert LedgerEntry.objects.count() == before
    assert (Amendment.objects.count(), TenderDocument.objects.count()) == (0, 1)
    assert Question.objects.get().answered_at is None
