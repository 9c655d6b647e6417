"""Questions and answers, amendments and the notices they send, through the pages."""

from __future__ import annotations

import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tendering.models import Amendment, Notification, Question, Tender
from tendering.services import documents, questions
from tests.fixtures.personas import PDF_BYTES
from tests.frontend.conftest import local, signed_in
from tests.frontend.test_drafting_pages import field_error


def detail(tender):
    return reverse("frontend:tender-detail", args=[tender.public_id])


def test_only_a_bidder_may_ask_and_only_while_the_enquiry_period_is_open(
    client, personas, published_tender, frozen_clock
):
    ask = reverse("frontend:question-ask", args=[published_tender.public_id])
    assert client.post(ask, {"text": "匿名提问"}).status_code == 302  # to sign in
    assert signed_in(personas.tenderer).post(ask, {"text": "自问自答"}).status_code == 403
    assert signed_in(personas.regulator).post(ask, {"text": "监督提问"}).status_code == 403
    assert 'name="text"' not in signed_in(personas.tenderer).get(detail(published_tender)).text

    frozen_clock.advance(days=21)  # past the enquiry deadline (deadline − 10 days)
    bidder = signed_in(personas.bidder_a)
    assert 'name="text"' not in bidder.get(detail(published_tender)).text
    refused = bidder.post(ask, {"text": "截止后的提问"}, follow=True)
    assert "提问期已于" in refused.text
    assert not Question.objects.exists()


def test_an_empty_question_is_shown_with_its_field_error(personas, published_tender):
    response = signed_in(personas.bidder_a).post(
        reverse("frontend:question-ask", args=[published_tender.public_id]), {"text": "   "}
    )
    assert field_error(response.text, "text")
    assert not Question.objects.exists()


def test_a_bidder_asks_the_tenderer_answers_and_everyone_reads_the_answer(client, personas, published_tender):
    bidder = signed_in(personas.bidder_a)
    asked = bidder.post(
        reverse("frontend:question-ask", args=[published_tender.public_id]), {"text": "是否需要提供近三年业绩？"}
    )
    assert asked.status_code == 302
    question = Question.objects.get()
    assert question.asked_by == personas.bidder_a
    assert "是否需要提供近三年业绩？" not in client.get(detail(published_tender)).text

    tenderer = signed_in(personas.tenderer)
    inbox = tenderer.get(reverse("frontend:tender-questions", args=[published_tender.public_id])).text
    assert "是否需要提供近三年业绩？" in inbox
    answer = reverse("frontend:question-answer", args=[published_tender.public_id, question.public_id])
    empty = tenderer.post(answer, {f"q{question.pk}-answer": ""})
    assert field_error(empty.text, f"q{question.pk}-answer")
    assert tenderer.post(answer, {f"q{question.pk}-answer": "需要，提供 2023 年以来的类似业绩。"}).status_code == 302

    page = client.get(detail(published_tender)).text
    assert "是否需要提供近三年业绩？" in page and "需要，提供 2023 年以来的类似业绩。" in page
    dashboard = bidder.get(reverse("frontend:dashboard")).text
    assert "需要，提供 2023 年以来的类似业绩。" in dashboard


def test_a_bidder_cannot_answer_a_question(personas, published_tender):
    question = questions.ask_question(personas.bidder_a, published_tender, "保证金金额？")
    answer = reverse("frontend:question-answer", args=[published_tender.public_id, question.public_id])
    assert signed_in(personas.bidder_b).post(answer, {f"q{question.pk}-answer": "十万元"}).status_code == 403
    assert Question.objects.get().answered_at is None


def test_an_amendment_that_moves_the_deadline_backwards_is_shown_on_its_field(personas, published_tender, frozen_clock):
    form = reverse("frontend:amendment-create", args=[published_tender.public_id])
    earlier = local(published_tender.bid_deadline - dt.timedelta(days=1))
    response = signed_in(personas.tenderer).post(form, {"summary": "调整工期", "new_deadline": earlier})
    assert "澄清或修改不能提前投标截止时间" in field_error(response.text, "new_deadline")
    assert not Amendment.objects.exists()


def test_an_amendment_with_a_bad_file_is_shown_on_the_file_field(personas, published_tender):
    form = reverse("frontend:amendment-create", args=[published_tender.public_id])
    response = signed_in(personas.tenderer).post(
        form, {"summary": "补充图纸", "attachments": SimpleUploadedFile("图纸.dwg", b"AC1032")}
    )
    assert "不允许的文件类型" in field_error(response.text, "attachments")
    assert not Amendment.objects.exists()


def test_an_amendment_is_published_and_earlier_downloaders_are_notified(personas, published_tender, frozen_clock):
    documents.record_download(personas.bidder_a, published_tender.documents.get())
    frozen_clock.advance(days=16)  # 14 days left: under the 15-day notice the deadline must move
    form = reverse("frontend:amendment-create", args=[published_tender.public_id])
    tenderer = signed_in(personas.tenderer)

    too_late = tenderer.post(form, {"summary": "调整工程量清单"})
    assert "必须将投标截止时间顺延" in field_error(too_late.text, "new_deadline")
    assert not Amendment.objects.exists()

    new_deadline = "2026-04-20T09:00"
    response = tenderer.post(
        form,
        {
            "summary": "调整工程量清单",
            "new_deadline": new_deadline,
            "attachments": [SimpleUploadedFile("工程量清单（修订）.pdf", PDF_BYTES)],
        },
    )
    assert response.status_code == 302
    tender = Tender.objects.get(pk=published_tender.pk)
    assert tender.bid_deadline == dt.datetime(2026, 4, 20, 1, 0, tzinfo=dt.UTC)
    page = signed_in(personas.bidder_b).get(detail(tender)).text
    assert "第 1 号澄清或修改" in page and "调整工程量清单" in page and "工程量清单（修订）.pdf" in page
    assert "2026-04-20 09:00" in page

    notice = Notification.objects.get()
    assert notice.recipient == personas.bidder_a
    assert notice.message in signed_in(personas.bidder_a).get(reverse("frontend:dashboard")).text
    assert notice.message not in signed_in(personas.bidder_b).get(reverse("frontend:dashboard")).text
