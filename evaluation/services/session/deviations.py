"""Answering a flagged deviation: its expert explains the score in writing, or revises it (recorded)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, InvalidInput, PermissionDenied
from config import clock
from evaluation.models import Deviation, Mark, MarkRevision, Stage
from evaluation.services.session import events
from evaluation.services.session.common import ledger, lock_evaluation, method_of, require_member, require_stage
from evaluation.services.session.marks import deviation_view, parse_score
from evaluation.session_protocol import DeviationExplained, ScoreRevised
from tendering.models import Tender
from tendering.services.locks import lock_one


def _own_open_deviation(user: Any, tender: Tender, deviation_id: int) -> tuple[Any, Deviation]:
    evaluation = lock_evaluation(tender)
    member = require_member(user, evaluation)
    require_stage(evaluation, Stage.SCORING)
    found = Deviation.objects.filter(pk=deviation_id, mark__sheet__member__evaluation=evaluation).first()
    if found is None:
        raise InvalidInput({"deviation": [_("没有这项评分偏离。")]})
    if found.mark.sheet.member_id != member.pk:
        raise PermissionDenied(_("只有打出该分数的专家本人可以说明或修改。"), code="not_your_deviation")
    mark = lock_one(Mark.objects.filter(pk=found.mark_id))
    deviation = lock_one(Deviation.objects.select_related("mark", "mark__sheet", "mark__bid").filter(pk=found.pk))
    if deviation.resolved:
        raise Conflict(_("该评分偏离已经说明或修改过。"), code="deviation_resolved")
    deviation.mark = mark
    return evaluation, deviation


def explain_deviation(user: Any, tender: Tender, deviation_id: int, explanation: str) -> Deviation:
    explanation = explanation.strip()
    if not explanation:
        raise InvalidInput({"explanation": [_("请写明理由。")]})
    with transaction.atomic():
        evaluation, deviation = _own_open_deviation(user, tender, deviation_id)
        deviation.explanation, deviation.explained_at = explanation, clock.now()
        deviation.save(update_fields=["explanation", "explained_at"])
        ledger(evaluation, "deviation_explained", {"deviation_id": deviation.pk, "explanation": explanation}, user)
        events.publish(evaluation, DeviationExplained(**deviation_view(deviation).model_dump()))
    return deviation


def revise_score(user: Any, tender: Tender, deviation_id: int, score: str, reason: str) -> MarkRevision:
    """The expert changes its locked score to answer the deviation: the old and new value are recorded."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput({"reason": [_("请写明修改理由。")]})
    method = method_of(tender)
    with transaction.atomic():
        evaluation, deviation = _own_open_deviation(user, tender, deviation_id)
        mark = deviation.mark
        criterion = method.criterion(mark.item)
        new = parse_score(score, criterion.min_score, criterion.max_score)
        old = mark.score
        assert old is not None
        if new == old:
            raise InvalidInput({"score": [_("新分数与原分数相同：如不修改，请说明理由。")]})
        now = clock.now()
        mark.score, mark.updated_at = new, now
        mark.save(update_fields=["score", "updated_at"])
        deviation.revised_at = now
        deviation.save(update_fields=["revised_at"])
        revision = MarkRevision(mark=mark, old_score=old, new_score=new, reason=reason, revised_at=now)
        revision.ledger_seq = ledger(
            evaluation,
            "score_revised",
            {
                "deviation_id": deviation.pk,
                "mark_id": mark.pk,
                "old": f"{old:.2f}",
                "new": f"{new:.2f}",
                "reason": reason,
            },
            user,
        )
        revision.save()
        view = deviation_view(deviation).model_dump()
        events.publish(evaluation, ScoreRevised(**view, old_score=f"{old:.2f}", reason=reason))
    return revision
