"""Signing in from one's location (签到), the conflict declarations (回避声明) and the chair's election."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, InvalidInput
from config import clock
from evaluation.models import ChairVote, CommitteeMember, ConflictDeclaration, MemberState, Stage, Venue
from evaluation.services.session import events
from evaluation.services.session.common import ledger, lock_evaluation, opened_bids, require_member, require_stage
from evaluation.services.session.replacement import recuse_and_replace
from evaluation.session_protocol import (
    ChairElected,
    ChairVoteCast,
    MemberDeclared,
    MemberRecused,
    MemberReplaced,
    MemberSignedIn,
)
from tendering.models import Tender


def sign_in(user: Any, tender: Tender, venue: str, location: str) -> CommitteeMember:
    """The member signs in from ``venue`` (main or sub) and ``location``; signing in again is refused."""
    location = location.strip()
    if not location:
        raise InvalidInput({"location": [_("请填写评标地点。")]})
    with transaction.atomic():
        evaluation = lock_evaluation(tender)
        require_member(user, evaluation)
        require_stage(evaluation, Stage.SIGN_IN)
        # The evaluation's lock keeps every change of its members in turn: the member's row is not locked (a
        # replacement locks the evaluation again, which LOCK_ORDER refuses after a member's row).
        member = CommitteeMember.objects.get(evaluation=evaluation, expert__user=user)
        if member.signed_in_at is not None:
            raise Conflict(_("您已签到。"), code="already_signed_in")
        member.venue, member.location, member.signed_in_at = Venue(venue), location, clock.now()
        member.save(update_fields=["venue", "location", "signed_in_at"])
        ledger(
            evaluation,
            "signed_in",
            {"member_id": member.pk, "venue": venue, "location": location, "at": member.signed_in_at.isoformat()},
            user,
        )
        events.publish(
            evaluation,
            MemberSignedIn(member=member.pk, venue=venue, location=location, signed_in_at=member.signed_in_at),
        )
    return member


def declare(user: Any, tender: Tender, declarations: list[tuple[Any, bool, str]]) -> CommitteeMember:
    """The member's declaration for every opened bid at once (bid public id, conflict?, note).

    A declared conflict recuses the member (回避) and asks the draw for the next expert in its order."""
    with transaction.atomic():
        evaluation = lock_evaluation(tender)
        require_member(user, evaluation)
        require_stage(evaluation, Stage.SIGN_IN)
        member = CommitteeMember.objects.select_related("expert", "specialty").get(
            evaluation=evaluation, expert__user=user
        )
        if member.signed_in_at is None:
            raise Conflict(_("请先签到再作回避声明。"), code="not_signed_in")
        if ConflictDeclaration.objects.filter(member=member).exists():
            raise Conflict(_("您已作过回避声明。"), code="already_declared")
        bids = {opened.bid.public_id: opened.bid for opened in opened_bids(tender)}
        named = [d[0] for d in declarations]
        if len(set(named)) != len(named) or set(named) != set(bids):
            raise InvalidInput({"declarations": [_("请对每一家投标人各作一项声明，不多不少。")]})
        now = clock.now()
        ConflictDeclaration.objects.bulk_create(
            [
                ConflictDeclaration(member=member, bid=bids[bid_id], has_conflict=conflict, note=note, declared_at=now)
                for bid_id, conflict, note in declarations
            ]
        )
        conflicts = [str(bid_id) for bid_id, conflict, _note in declarations if conflict]
        ledger(evaluation, "declared", {"member_id": member.pk, "conflicts": sorted(conflicts)}, user)
        events.publish(evaluation, MemberDeclared(member=member.pk, conflicts=len(conflicts)))
        if conflicts:
            ChairVote.objects.filter(member=member).delete()
            ledger(evaluation, "recused", {"member_id": member.pk, "conflicts": sorted(conflicts)}, user)
            replacement = recuse_and_replace(member, user)
            member.refresh_from_db()
            events.publish(evaluation, MemberRecused(member=member.pk))
            events.publish(
                evaluation,
                MemberReplaced(member=member.pk, replacement=replacement.pk if replacement is not None else None),
            )
    return member


def vote_chair(user: Any, tender: Tender, candidate_id: int) -> CommitteeMember | None:
    """The member votes for a chair (or changes its vote); a candidate with more than half the confirmed
    members' votes is elected (then voting ends). Returns the chair once elected."""
    with transaction.atomic():
        evaluation = lock_evaluation(tender)
        voter = require_member(user, evaluation)
        require_stage(evaluation, Stage.SIGN_IN)
        if evaluation.chair_id is not None:
            raise Conflict(_("评标委员会主任已选出。"), code="chair_elected")
        confirmed = list(CommitteeMember.objects.filter(evaluation=evaluation, state=MemberState.CONFIRMED))
        candidate = next((m for m in confirmed if m.pk == candidate_id), None)
        if candidate is None:
            raise InvalidInput({"candidate": [_("候选人不是本评标委员会的成员。")]})
        ChairVote.objects.update_or_create(member=voter, defaults={"candidate": candidate, "voted_at": clock.now()})
        ids = {m.pk for m in confirmed}
        votes: dict[int, int] = {}
        for vote in ChairVote.objects.filter(member_id__in=ids, candidate_id__in=ids):
            votes[vote.candidate_id] = votes.get(vote.candidate_id, 0) + 1
        ledger(evaluation, "chair_vote", {"member_id": voter.pk, "candidate_id": candidate.pk}, user)
        events.publish(evaluation, ChairVoteCast(member=voter.pk, votes=sum(votes.values())))
        leader = max(votes, key=lambda pk: votes[pk])
        if votes[leader] * 2 <= len(confirmed):
            return None
        evaluation.chair_id = leader
        evaluation.save(update_fields=["chair"])
        tally = {str(pk): n for pk, n in sorted(votes.items())}
        ledger(evaluation, "chair_elected", {"member_id": leader, "votes": tally}, user)
        events.publish(evaluation, ChairElected(member=leader, votes=tally))
        return next(m for m in confirmed if m.pk == leader)
