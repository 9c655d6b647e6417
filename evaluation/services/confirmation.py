"""Drawn experts confirm or decline; a decline (or a recusal at sign-in) invites the next expert of the draw's
order for that specialty, and the redraw goes into the public draw record (evaluation/draw.py).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, InvalidInput, NotFound, WrongPhase
from accounts.models import User
from archive.ledger import record
from config import clock
from evaluation import draw as algorithm
from evaluation.models import CommitteeMember, Evaluation, Expert, MemberState, Stage
from tendering.models import Notification, NotificationKind, Phase, Tender
from tendering.services.locks import lock_one

MAX_REASON = 500
REPLACEMENT_REASONS = {"declined": MemberState.DECLINED, "recused": MemberState.RECUSED}


def _invitation(expert_user: User, tender: Tender) -> tuple[Evaluation, CommitteeMember]:
    """The user's own invitation for ``tender``, locked with its evaluation; "not found" for anyone else."""
    member = (
        CommitteeMember.objects.filter(evaluation__tender=tender, expert__user=expert_user)
        .exclude(state__in=[MemberState.DECLINED, MemberState.RECUSED])
        .first()
    )
    if member is None:
        raise NotFound(_("您没有该项目的评标邀请。"), code="no_invitation")
    evaluation = lock_one(Evaluation.objects.filter(pk=member.evaluation_id))
    member = lock_one(CommitteeMember.objects.filter(pk=member.pk).select_related("expert", "specialty"))
    if member.state != MemberState.INVITED:
        raise Conflict(_("您已经答复过该项目的评标邀请。"), code="already_answered")
    if tender.phase(clock.now()) != Phase.EVALUATION:
        raise WrongPhase(_("该项目已不在评标阶段。"), code="not_in_evaluation")
    return evaluation, member


def seats_requested(evaluation: Evaluation) -> int:
    return sum(line.count for line in evaluation.request_lines.all())


def confirm(expert_user: User, tender: Tender) -> CommitteeMember:
    """The drawn expert confirms it will evaluate; with every seat confirmed the session opens for sign-in."""
    with transaction.atomic():
        evaluation, member = _invitation(expert_user, tender)
        now = clock.now()
        member.state, member.answered_at = MemberState.CONFIRMED, now
        member.save(update_fields=["state", "answered_at"])
        record(
            tender.case,
            "evaluation.member.confirmed",
            {"tender_id": tender.pk, "member": member.pk, "expert": member.expert.code},
            expert_user,
        )
        _open_sign_in_when_complete(evaluation, expert_user)
    return member


def _open_sign_in_when_complete(evaluation: Evaluation, actor: User | None) -> None:
    confirmed = evaluation.members.filter(state=MemberState.CONFIRMED).count()
    if evaluation.stage == Stage.DRAW and confirmed == seats_requested(evaluation):
        evaluation.stage = Stage.SIGN_IN
        evaluation.save(update_fields=["stage"])
        record(
            evaluation.tender.case,
            "evaluation.committee.complete",
            {"tender_id": evaluation.tender_id, "members": confirmed, "stage": Stage.SIGN_IN.value},
            actor,
        )


def decline(expert_user: User, tender: Tender, reason: str) -> CommitteeMember | None:
    """The drawn expert declines (with its reason); the next of its specialty's order is invited (returned, or
    None when the order has nobody left: the seat stays empty and the record says so)."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text or len(text) > MAX_REASON:
        raise InvalidInput({"reason": [_("请填写拒绝理由（不超过 %(n)d 字）。") % {"n": MAX_REASON}]})
    with transaction.atomic():
        evaluation, member = _invitation(expert_user, tender)
        member.decline_reason = text
        return _replace(evaluation, member, "declined", expert_user)


def replace_member(member: CommitteeMember, reason_code: str, actor: User | None = None) -> CommitteeMember | None:
    """For the session (H3): ``member`` leaves the committee (``"recused"``: a conflict declared at sign-in; or
    ``"declined"``) and the next expert of its specialty's order is invited. Runs in the caller's transaction,
    which must not have locked a model after CommitteeMember; returns the new member or None."""
    if reason_code not in REPLACEMENT_REASONS:
        raise ValueError(f"reason_code must be one of {sorted(REPLACEMENT_REASONS)}")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("replace_member runs inside the caller's transaction")
    evaluation = lock_one(Evaluation.objects.filter(pk=member.evaluation_id))
    member = lock_one(CommitteeMember.objects.filter(pk=member.pk).select_related("expert", "specialty"))
    if member.state not in (MemberState.INVITED, MemberState.CONFIRMED):
        raise Conflict(_("该专家已不在评标委员会中。"), code="not_a_member")
    return _replace(evaluation, member, reason_code, actor)


def _replace(
    evaluation: Evaluation, member: CommitteeMember, reason_code: str, actor: User | None
) -> CommitteeMember | None:
    now = clock.now()
    tender = evaluation.tender
    member.state, member.answered_at = REPLACEMENT_REASONS[reason_code], now
    member.save(update_fields=["state", "answered_at", "decline_reason"])
    record(
        tender.case,
        f"evaluation.member.{reason_code}",
        {"tender_id": tender.pk, "member": member.pk, "expert": member.expert.code, "reason": member.decline_reason},
        actor,
    )
    assert evaluation.draw_record is not None
    draw_record = dict(evaluation.draw_record)
    code = member.specialty.code
    ranks = evaluation.members.filter(specialty=member.specialty).values_list("draw_rank", flat=True)
    invited = list(evaluation.members.values_list("expert__code", flat=True))
    replacement: CommitteeMember | None = None
    try:
        seat = algorithm.next_in_order(draw_record["order"][code], code, max(ranks), invited)
    except algorithm.Exhausted:
        redraw: dict[str, Any] = {
            "specialty": code,
            "replaced": member.expert.code,
            "reason": reason_code,
            "expert": None,
            "rank": None,
        }
    else:
        replacement = CommitteeMember.objects.create(
            evaluation=evaluation,
            expert=Expert.objects.get(code=seat.expert),
            specialty=member.specialty,
            draw_rank=seat.rank,
            replaces=member,
            invited_at=now,
        )
        redraw = {
            "specialty": code,
            "replaced": member.expert.code,
            "reason": reason_code,
            "expert": seat.expert,
            "rank": seat.rank,
        }
        tell_invited(tender, [replacement], redraw=True)
    draw_record["redraws"] = [*draw_record.get("redraws", []), redraw]
    evaluation.draw_record = draw_record
    evaluation.save(update_fields=["draw_record"])
    record(
        tender.case,
        "evaluation.member.invited",
        {
            "tender_id": tender.pk,
            "member": replacement.pk if replacement else None,
            "expert": redraw["expert"],
            "specialty": code,
            "rank": redraw["rank"],
            "replaces": member.pk,
            "replaces_expert": member.expert.code,
        },
        actor,
    )
    return replacement


def tell_invited(tender: Tender, members: list[CommitteeMember], *, redraw: bool = False) -> None:
    """A notice on each invited expert's own dashboard: which tender, its specialty, when the evaluation starts
    and where to answer. Nobody else is told, and the notice names no other expert."""
    now = clock.now()
    Notification.objects.bulk_create(
        Notification(
            recipient_id=member.expert.user_id,
            tender=tender,
            kind=NotificationKind.EXPERT_INVITED,
            params={
                "specialty": f"{member.specialty.code} {member.specialty.name}",
                "evaluation_at": (tender.opening_closed_at or tender.opening_time).isoformat(),
                "redraw": redraw,
            },
            created_at=now,
        )
        for member in members
    )


def invitations_for(expert_user: User) -> list[CommitteeMember]:
    """The expert's own invitations and memberships, newest first (the expert dashboard)."""
    return list(
        CommitteeMember.objects.filter(expert__user=expert_user)
        .select_related("evaluation__tender", "specialty")
        .order_by("-invited_at")
    )


def invitation_of(expert_user: User, tender: Tender) -> CommitteeMember | None:
    """The expert's own latest invitation for ``tender`` (whatever its answer), or None."""
    return (
        CommitteeMember.objects.filter(evaluation__tender=tender, expert__user=expert_user)
        .select_related("evaluation", "specialty")
        .order_by("-invited_at", "-pk")
        .first()
    )


def committee_counts(evaluation: Evaluation) -> dict[str, int]:
    """What the tenderer and the bidders may know before names are published: counts only."""
    members = evaluation.members.all()
    return {
        "requested": seats_requested(evaluation),
        "invited": sum(1 for m in members if m.state == MemberState.INVITED),
        "confirmed": sum(1 for m in members if m.state == MemberState.CONFIRMED),
    }
