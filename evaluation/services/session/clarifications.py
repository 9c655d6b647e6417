"""Clarification (澄清): the chair asks one bidder a question with a reply deadline; the bid's bidder answers, in
text only, on its own page (over HTTP: the bidder never enters the session). The answer cannot touch the bid."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, InvalidInput, NotFound, PermissionDenied, WrongPhase
from config import clock
from evaluation.models import Clarification, Stage
from evaluation.services.session import events
from evaluation.services.session.common import (
    SESSION_STAGES,
    bid_named,
    ledger,
    lock_evaluation,
    require_chair,
    require_member,
    require_stage,
)
from evaluation.session_protocol import ClarificationAnswered, ClarificationAsked, ClarificationView
from tendering.models import Tender
from tendering.services.locks import lock_one

LONGEST_WAIT = dt.timedelta(days=7)
SHORTEST_WAIT = dt.timedelta(minutes=5)


def clarification_view(row: Clarification) -> ClarificationView:
    return ClarificationView(
        id=row.pk,
        bid=str(row.bid.public_id),
        question=row.question,
        asked_by=row.asked_by_id,
        asked_at=row.asked_at,
        reply_deadline=row.reply_deadline,
        answer=row.answer,
        answered_at=row.answered_at,
    )


def ask_clarification(
    user: Any, tender: Tender, bid_public_id: Any, question: str, deadline: dt.datetime
) -> Clarification:
    question = question.strip()
    if not question:
        raise InvalidInput({"question": [_("请填写澄清问题。")]})
    if deadline.tzinfo is None:
        raise InvalidInput({"reply_deadline": [_("答复截止时间须带时区。")]})
    now = clock.now()
    if not now + SHORTEST_WAIT <= deadline <= now + LONGEST_WAIT:
        raise InvalidInput({"reply_deadline": [_("答复截止时间须在 5 分钟之后、7 天之内。")]})
    with transaction.atomic():
        evaluation = lock_evaluation(tender)
        member = require_member(user, evaluation)
        require_chair(member, evaluation)
        require_stage(evaluation, Stage.QUALIFICATION, Stage.SCORING, Stage.PRICE, Stage.SUMMARY)
        opened = bid_named(tender, bid_public_id)
        row = Clarification.objects.create(
            evaluation=evaluation,
            bid=opened.bid,
            question=question,
            asked_by=member,
            asked_at=now,
            reply_deadline=deadline,
        )
        ledger(
            evaluation,
            "clarification_asked",
            {
                "clarification_id": row.pk,
                "bid_id": str(opened.bid.public_id),
                "question": question,
                "reply_deadline": deadline.isoformat(),
            },
            user,
        )
        events.publish(evaluation, ClarificationAsked(**clarification_view(row).model_dump()))
    return row


def clarifications_for_bidder(user: Any, tender: Tender) -> list[Clarification]:
    """The questions addressed to the user's organization's bid of ``tender`` (its own page shows them)."""
    if not getattr(user, "is_authenticated", False) or user.organization_id is None:
        return []
    return list(
        Clarification.objects.select_related("bid")
        .filter(evaluation__tender=tender, bid__bidder_id=user.organization_id)
        .order_by("asked_at", "pk")
    )


def answer_clarification(user: Any, clarification: Clarification, text: str) -> Clarification:
    """The bid's bidder answers in text; refused after the deadline, a second time, or by anyone else."""
    text = text.strip()
    if not text:
        raise InvalidInput({"answer": [_("请填写答复内容。")]})
    if len(text) > 5000:
        raise InvalidInput({"answer": [_("答复内容不能超过 5000 字。")]})
    tender = clarification.evaluation.tender
    with transaction.atomic():
        evaluation = lock_evaluation(tender)
        row = lock_one(Clarification.objects.select_related("bid").filter(pk=clarification.pk, evaluation=evaluation))
        if not getattr(user, "is_authenticated", False) or user.organization_id != row.bid.bidder_id:
            raise PermissionDenied(_("只有被澄清的投标人可以答复。"), code="not_the_bidder")
        if evaluation.stage not in SESSION_STAGES:
            raise WrongPhase(_("评标已结束，不能再答复澄清。"), code="session_over")
        if row.answered_at is not None:
            raise Conflict(_("该澄清已经答复过。"), code="already_answered")
        now = clock.now()
        if now > row.reply_deadline:
            raise WrongPhase(_("已超过答复截止时间，不能再答复。"), code="clarification_deadline_passed")
        row.answer, row.answered_at, row.answered_by = text, now, user
        row.save(update_fields=["answer", "answered_at", "answered_by"])
        ledger(evaluation, "clarification_answered", {"clarification_id": row.pk, "answer": text}, user)
        events.publish(evaluation, ClarificationAnswered(**clarification_view(row).model_dump()))
    return row


def clarification_by_id(clarification_id: int) -> Clarification:
    found = Clarification.objects.select_related("evaluation__tender", "bid").filter(pk=clarification_id).first()
    if found is None:
        raise NotFound(_("找不到该澄清。"))
    return found
