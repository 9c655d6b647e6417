import datetime as dt
import io

import pytest

from accounts.errors import Conflict, InvalidInput, PermissionDenied, WrongPhase
from archive.models import LedgerEntry
from tendering.models import Notification, Question, Tender
from tendering.services import amendments, documents, questions
from tests.fixtures.personas import PDF_BYTES


def test_only_bidders_may_ask_and_only_during_the_enquiry_period(personas, frozen_clock, published_tender):
    for user in (personas.tenderer, personas.regulator, personas.expert):
        with pytest.raises(PermissionDenied):
            questions.ask_question(user, published_tender, "?")
    frozen_clock.set(published_tender.enquiry_deadline)
    with pytest.raises(WrongPhase) as exc:
        questions.ask_question(personas.bidder_a, published_tender, "工期可以延长吗？")
    assert exc.value.code == "enquiry_closed"
    assert not Question.objects.exists()


def test_empty_or_overlong_questions_are_refused(personas, published_tender, settings):
    with pytest.raises(InvalidInput):
        questions.ask_question(personas.bidder_a, published_tender, "   ")
    with pytest.raises(InvalidInput):
        questions.ask_question(personas.bidder_a, published_tender, "问" * (settings.QUESTION_MAX_CHARS + 1))
    assert not Question.objects.exists()


def test_a_question_on_a_draft_is_refused(personas, draft_tender):
    from accounts.errors import NotFound

    with pytest.raises(NotFound):
        questions.ask_question(personas.bidder_a, draft_tender, "?")
    assert not Question.objects.exists()
    assert not LedgerEntry.objects.filter(action__startswith="tendering.question").exists()


def test_answers_are_public_without_the_asker_and_given_once(personas, published_tender):
    question = questions.ask_question(personas.bidder_a, published_tender, "工期可以延长吗？")
    assert list(questions.public_questions(published_tender)) == []
    with pytest.raises(PermissionDenied):
        questions.answer_question(personas.bidder_b, question, "可以")
    questions.answer_question(personas.tenderer, question, "不可以，工期为 180 日历天。")
    with pytest.raises(Conflict):
        questions.answer_question(personas.tenderer, question, "改口")
    assert Question.objects.get().answer == "不可以，工期为 180 日历天。"
    assert list(questions.questions_for(personas.bidder_b, published_tender)) == []
    entry = LedgerEntry.objects.get(action="tendering.question.answered")
    assert "bidder_a" not in entry.data


def test_an_amendment_close_to_the_deadline_must_move_it(personas, frozen_clock, published_tender):
    frozen_clock.advance(days=20)  # 10 days before the deadline, notice is 15
    deadline = published_tender.bid_deadline
    with pytest.raises(InvalidInput) as exc:
        amendments.issue_amendment(personas.tenderer, published_tender, "调整工程量清单")
    assert "new_deadline" in exc.value.fields
    with pytest.raises(InvalidInput):
        amendments.issue_amendment(
            personas.tenderer, published_tender, "调整", new_deadline=frozen_clock() + dt.timedelta(days=14)
        )
    assert Tender.objects.get(pk=published_tender.pk).bid_deadline == deadline
    new_deadline = frozen_clock() + dt.timedelta(days=15)
    amendment = amendments.issue_amendment(personas.tenderer, published_tender, "调整", new_deadline=new_deadline)
    tender = Tender.objects.get(pk=published_tender.pk)
    assert (tender.bid_deadline, tender.opening_time, amendment.previous_deadline) == (
        new_deadline,
        new_deadline,
        deadline,
    )


def test_an_amendment_after_the_deadline_is_refused(personas, frozen_clock, published_tender):
    frozen_clock.set(published_tender.bid_deadline + dt.timedelta(minutes=1))
    with pytest.raises(WrongPhase) as exc:
        amendments.issue_amendment(
            personas.tenderer, published_tender, "迟到的修改", new_deadline=frozen_clock() + dt.timedelta(days=20)
        )
    assert exc.value.code == "amendment_after_deadline"
    assert not published_tender.amendments.exists()


def test_bidders_who_downloaded_earlier_versions_are_notified(personas, frozen_clock, published_tender):
    documents.record_download(personas.bidder_a, published_tender.documents.get())
    frozen_clock.advance(hours=1)
    amendments.issue_amendment(
        personas.tenderer, published_tender, "补充图纸", files=[("图纸.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))]
    )
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["bidder_a"]
    assert published_tender.documents.filter(amendment__number=1).count() == 1
    entry = LedgerEntry.objects.get(action="tendering.amendment.issued")
    assert "图纸.pdf" in entry.data


def test_a_bidder_cannot_amend_a_tender(personas, published_tender):
    with pytest.raises(PermissionDenied):
        amendments.issue_amendment(personas.bidder_a, published_tender, "我来改")
    assert not published_tender.amendments.exists()


def test_an_amendment_notice_is_worded_in_the_readers_language_with_local_time(
    personas, frozen_clock, published_tender
):
    from django.utils import translation

    documents.record_download(personas.bidder_a, published_tender.documents.get())
    frozen_clock.advance(days=20)
    new_deadline = frozen_clock() + dt.timedelta(days=16)
    with translation.override("en"):
        amendments.issue_amendment(personas.tenderer, published_tender, "调整", new_deadline=new_deadline)
    notice = Notification.objects.get()
    local = new_deadline.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    with translation.override("zh-hans"):
        assert "第 1 号澄清或修改" in notice.message and local in notice.message
    with translation.override("en"):
        assert "amendment" in notice.message.lower() and local in notice.message
