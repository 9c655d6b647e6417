"""Closing a stage (the chair): what it requires, the committee's result it publishes, and the next stage.

sign_in → qualification (every member signed in and declared, a chair elected); qualification → scoring (every
sheet in; fewer than three qualified bids fail the tender); scoring → price (every sheet in, every deviation
explained or revised; the technical scores are locked, 暗标 names shown); price → summary (price scores by the
formula); summary → report (the ranking; the report is built, evaluation.services.report)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, InvalidInput
from config import clock
from evaluation import formulas
from evaluation.models import CommitteeMember, ConflictDeclaration, Deviation, Evaluation, MemberState, SheetKind, Stage
from evaluation.services.session import events
from evaluation.services.session.common import (
    evaluation_of,
    ledger,
    lock_evaluation,
    method_of,
    opened_bids,
    require_chair,
    require_member,
    require_stage,
)
from evaluation.services.session.marks import all_sheets_in, qualification_result, qualified_bid_ids, submitted_marks
from evaluation.session_protocol import StageClosed, StageOpened, TenderFailed
from tendering.method import Method
from tendering.models import Tender
from tendering.services import outcome
from tendering.services.locks import lock_tender

NEXT = {
    Stage.SIGN_IN: Stage.QUALIFICATION,
    Stage.QUALIFICATION: Stage.SCORING,
    Stage.SCORING: Stage.PRICE,
    Stage.PRICE: Stage.SUMMARY,
    Stage.SUMMARY: Stage.REPORT,
}


def _confirmed(evaluation: Evaluation) -> list[CommitteeMember]:
    return list(CommitteeMember.objects.filter(evaluation=evaluation, state=MemberState.CONFIRMED))


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def qualification_summary(evaluation: Evaluation, tender: Tender) -> dict[str, Any]:
    result = qualification_result(evaluation)
    public = {b.bid.pk: str(b.bid.public_id) for b in opened_bids(tender)}
    return {
        "qualified": [public[pk] for pk, ok in result.qualified.items() if ok],
        "failed": [public[pk] for pk, ok in result.qualified.items() if not ok],
        "verdicts": {
            public[pk]: {
                item: {"passed": v.passed, "passed_by": list(v.passed_by), "failed_by": list(v.failed_by)}
                for item, v in items.items()
            }
            for pk, items in result.verdicts.items()
        },
        "disagreements": [{"bid": public[pk], "item": item} for pk, item, _v in result.disagreements],
    }


def points(evaluation: Evaluation, method: Method) -> dict[int, dict[str, Decimal]]:
    marks = submitted_marks(evaluation, SheetKind.SCORING)
    scores = {m: {b: {i: x.score for i, x in items.items()} for b, items in bids.items()} for m, bids in marks.items()}
    if not scores:
        return {}
    return formulas.points_by_bid(method, scores)  # type: ignore[arg-type]


def price_scores(evaluation: Evaluation, tender: Tender, method: Method) -> dict[int, Decimal]:
    qualified = qualified_bid_ids(evaluation)
    prices = {b.bid.pk: b.price for b in opened_bids(tender) if b.bid.pk in qualified}
    factor = evaluation.benchmark_factor if method.price.rule == "benchmark" else None
    if method.price.rule == "benchmark" and factor is None:
        raise Conflict(_("基准价系数尚未抽取，不能计算价格分。"), code="no_benchmark_factor")
    return formulas.price_scores(method, prices, factor)


def ranking(evaluation: Evaluation, tender: Tender, method: Method) -> list[formulas.Ranked[int]]:
    bids = opened_bids(tender)
    qualified = qualified_bid_ids(evaluation)
    return formulas.ranking(
        method,
        [b.bid.pk for b in bids if b.bid.pk in qualified],
        points(evaluation, method),
        price_scores(evaluation, tender, method),
        {b.bid.pk: b.price for b in bids},
        {b.bid.pk: b.position for b in bids},
    )


def result_of(evaluation: Evaluation, tender: Tender, stage: str, method: Method) -> dict[str, Any]:
    """The committee's result a closed stage publishes (recomputed from the recorded sheets)."""
    public = {b.bid.pk: str(b.bid.public_id) for b in opened_bids(tender)}
    if stage == Stage.QUALIFICATION:
        return qualification_summary(evaluation, tender)
    if stage == Stage.SCORING:
        return {
            "points": {
                public[b]: {c: _money(p) for c, p in items.items()} for b, items in points(evaluation, method).items()
            }
        }
    if stage == Stage.PRICE:
        return {
            "price_scores": {public[b]: _money(s) for b, s in price_scores(evaluation, tender, method).items()},
            "rule": method.price.rule,
            "factor": None if evaluation.benchmark_factor is None else f"{evaluation.benchmark_factor}",
        }
    if stage == Stage.SUMMARY:
        return {
            "ranking": [
                {
                    "rank": r.rank,
                    "bid": public[r.bid],
                    "price": _money(r.price),
                    "technical_points": None if r.technical_points is None else _money(r.technical_points),
                    "commercial_points": None if r.commercial_points is None else _money(r.commercial_points),
                    "price_score": None if r.price_score is None else _money(r.price_score),
                    "total": None if r.total is None else _money(r.total),
                    "candidate": r.candidate,
                }
                for r in ranking(evaluation, tender, method)
            ]
        }
    return {}


def _check_ready(evaluation: Evaluation, stage: Stage) -> None:
    members = _confirmed(evaluation)
    if stage == Stage.SIGN_IN:
        waiting = [m for m in members if m.signed_in_at is None]
        undeclared = [m for m in members if not ConflictDeclaration.objects.filter(member=m).exists()]
        if waiting or undeclared:
            raise Conflict(
                _("尚有 %(n)d 位专家未签到或未作回避声明。") % {"n": len(set(waiting) | set(undeclared))},
                code="members_not_ready",
            )
        if evaluation.chair_id is None:
            raise Conflict(_("评标委员会主任尚未选出。"), code="no_chair")
    elif stage in (Stage.QUALIFICATION, Stage.SCORING):
        kind = SheetKind.QUALIFICATION if stage == Stage.QUALIFICATION else SheetKind.SCORING
        if not all_sheets_in(evaluation, kind):
            raise Conflict(_("尚有专家未提交评审表，不能结束本阶段。"), code="sheets_missing")
        if stage == Stage.SCORING:
            open_ = [
                d
                for d in Deviation.objects.filter(mark__sheet__member__in=members, mark__sheet__kind=kind)
                if not d.resolved
            ]
            if open_:
                raise Conflict(
                    _("尚有 %(n)d 项评分偏离未说明或修改，不能结束本阶段。") % {"n": len(open_)},
                    code="deviations_unresolved",
                )


def _too_few_qualified(evaluation: Evaluation) -> bool:
    return (
        evaluation.stage == Stage.QUALIFICATION
        and all_sheets_in(evaluation, SheetKind.QUALIFICATION)
        and len(qualified_bid_ids(evaluation)) < outcome.MINIMUM_VALID_BIDS
    )


def close_stage(user: Any, tender: Tender, stage: str) -> Stage:
    """The chair closes the current stage ``stage``; the next stage, or CONCLUDED when the tender failed.

    The chair's command goes through ``evaluation.services.closing.close_stage``, which builds the report in the
    same transaction when this returns REPORT."""
    method = method_of(tender)
    if stage not in NEXT:
        raise InvalidInput({"stage": [_("该阶段不能由评标委员会结束。")]})
    with transaction.atomic():
        # The tender fails (outcome.fail locks its row) before the evaluation's row is locked: LOCK_ORDER has the
        # tender first. Whether it fails is read before that lock and checked again under it.
        lock_tender(tender.pk)
        seen = evaluation_of(tender)
        require_chair(require_member(user, seen), seen)
        will_fail = stage == Stage.QUALIFICATION and _too_few_qualified(seen)
        if will_fail:
            outcome.fail(tender, outcome.FailureReason.TOO_FEW_QUALIFIED, user, {"evaluation_id": seen.pk})
        evaluation = lock_evaluation(tender)
        member = require_member(user, evaluation)
        require_chair(member, evaluation)
        require_stage(evaluation, Stage(stage))
        _check_ready(evaluation, Stage(stage))
        current = Stage(stage)
        result = result_of(evaluation, tender, current, method)
        failed = current == Stage.QUALIFICATION and len(result["qualified"]) < outcome.MINIMUM_VALID_BIDS
        if failed != will_fail:
            raise Conflict(_("评审结果刚刚发生变化，请重试。"), code="changed")
        following = NEXT[current]
        if current == Stage.QUALIFICATION and not method.scored:
            following = Stage.PRICE
        now = clock.now()
        if current == Stage.SCORING:
            evaluation.technical_locked_at = now
        if failed:
            following = Stage.CONCLUDED
            evaluation.concluded_at = now
        evaluation.stage = following
        evaluation.save(update_fields=["stage", "technical_locked_at", "concluded_at"])
        ledger(evaluation, "stage_closed", {"stage": stage, "next": following.value, "result": result}, user)
        events.publish(evaluation, StageClosed(stage=stage, result=result))
        if failed:
            reason = outcome.FailureReason.TOO_FEW_QUALIFIED
            events.publish(evaluation, TenderFailed(reason=reason.value, message=str(reason.label)))
            return following
        events.publish(evaluation, StageOpened(stage=following.value))
    return following
