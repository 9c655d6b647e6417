"""Questions from bidders (答疑) and public answers. The asker is never shown."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, InvalidInput, NotFound, PermissionDenied, WrongPhase
from accounts.models import User
from archive.ledger import record
from config import clock
from tendering import permissions
from tendering.models import Question, Tender
from tendering.services.locks import lock_one


def _clean_text(text: str, field: str) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise InvalidInput({field: [_("内容不能为空。")]})
    if len(cleaned) > settings.QUESTION_MAX_CHARS:
        raise InvalidInput({field: [_("内容不能超过 %(max)d 个字符。") % {"max": settings.QUESTION_MAX_CHARS}]})
    return cleaned


@transaction.atomic
def ask_question(user: User, tender: Tender, text: str) -> Question:
    if not permissions.is_bidder(user):
        raise PermissionDenied(_("只有投标人可以提问。"))
    tender = lock_one(Tender.objects.filter(pk=tender.pk))
    now = clock.now()
    if tender.published_at is None:
        raise NotFound(_("找不到该招标项目。"))
    if not tender.enquiry_open(now):
        raise WrongPhase(
            _("提问期已于 %(when)s 结束。") % {"when": clock.local_text(tender.enquiry_deadline)}, code="enquiry_closed"
        )
    question = Question.objects.create(tender=tender, text=_clean_text(text, "text"), asked_by=user, asked_at=now)
    # The asker is recorded (auditors may need it) but never published.
    record(
        tender.case, "tendering.question.asked", {"question_id": str(question.public_id), "text": question.text}, user
    )
    return question


@transaction.atomic
def answer_question(actor: User, question: Question, text: str) -> Question:
    question = lock_one(Question.objects.select_related("tender").filter(pk=question.pk))
    tender = question.tender
    permissions.require_manage(actor, tender, _("只有本项目的招标人或代理机构可以答复。"))
    if question.answered_at is not None:
        raise Conflict(_("此问题已答复；如需更正请发布澄清或修改。"), code="already_answered")
    now = clock.now()
    if now >= tender.bid_deadline:
        raise WrongPhase(_("投标截止后不能再答复问题。"), code="deadline_passed")
    question.answer = _clean_text(text, "answer")
    question.answered_by = actor
    question.answered_at = now
    question.save(update_fields=["answer", "answered_by", "answered_at"])
    record(
        tender.case,
        "tendering.question.answered",
        {"question_id": str(question.public_id), "question": question.text, "answer": question.answer},
        actor,
    )
    return question


def public_questions(tender: Tender) -> Any:
    """Answered questions, as everyone sees them (no asker)."""
    return tender.questions.filter(answered_at__isnull=False).order_by("answered_at", "pk")


def questions_for(user: Any, tender: Tender) -> Any:
    if permissions.can_manage(user, tender):
        return tender.questions.all()
    if user.is_authenticated:
        return tender.questions.filter(asked_by=user)
    return Question.objects.none()
