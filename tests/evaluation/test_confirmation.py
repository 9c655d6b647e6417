"""Drawn experts confirm or decline; a decline or a recusal invites the next of the order, recorded; the committee
complete opens the sign-in; names stay hidden from the tenderer and the bidders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from accounts.errors import Conflict, InvalidInput, NotFound
from archive.models import LedgerEntry
from config import clock as platform_clock
from evaluation import draw as algorithm
from evaluation.models import CommitteeMember, Evaluation, MemberState, Stage
from evaluation.services import confirmation
from tendering.models import Tender
from tests.evaluation.pool_helpers import drawn, eligible_pool
from tests.fixtures.personas import Personas


def entries(action: str) -> list[dict[str, Any]]:
    return [json.loads(e.data) for e in LedgerEntry.objects.filter(action=action).order_by("seq")]


@pytest.fixture
def invited(
    personas: Personas, published_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> Evaluation:
    eligible_pool(6, "TJ01")
    evaluation, _bids, _users = drawn(personas, published_tender, frozen_clock, tmp_path, {"TJ01": 3})
    return evaluation


def members(evaluation: Evaluation) -> list[CommitteeMember]:
    return list(evaluation.members.select_related("expert__user").order_by("draw_rank"))


def test_a_decline_invites_the_next_in_order_and_the_redraw_is_recorded(
    invited: Evaluation, published_tender: Tender
) -> None:
    first = members(invited)[0]
    record = invited.draw_record
    assert record is not None
    invited_codes = [s["expert"] for s in record["invited"]]
    expected_next = next(e for e in record["order"]["TJ01"] if e not in invited_codes)

    replacement = confirmation.decline(first.expert.user, published_tender, "当日另有评标任务")

    assert replacement is not None
    assert (replacement.expert.code, replacement.replaces_id, replacement.state) == (
        expected_next,
        first.pk,
        MemberState.INVITED,
    )
    first.refresh_from_db()
    assert (first.state, first.decline_reason) == (MemberState.DECLINED, "当日另有评标任务")
    assert entries("evaluation.member.declined")[0]["expert"] == first.expert.code
    redraw = entries("evaluation.member.invited")[0]
    assert (redraw["expert"], redraw["replaces"], redraw["replaces_expert"]) == (
        expected_next,
        first.pk,
        first.expert.code,
    )
    evaluation = Evaluation.objects.get(pk=invited.pk)
    assert evaluation.draw_record is not None
    assert evaluation.draw_record["redraws"] == [
        {
            "specialty": "TJ01",
            "replaced": first.expert.code,
            "reason": "declined",
            "expert": expected_next,
            "rank": record["order"]["TJ01"].index(expected_next),
        }
    ]
    assert algorithm.verify_record(evaluation.draw_record).ok


def test_every_seat_confirmed_opens_the_sign_in(invited: Evaluation, published_tender: Tender) -> None:
    drawn_members = members(invited)
    for member in drawn_members[:-1]:
        confirmation.confirm(member.expert.user, published_tender)
        assert Evaluation.objects.get(pk=invited.pk).stage == Stage.DRAW
    confirmation.confirm(drawn_members[-1].expert.user, published_tender)

    assert Evaluation.objects.get(pk=invited.pk).stage == Stage.SIGN_IN
    assert entries("evaluation.committee.complete") == [
        {"tender_id": published_tender.pk, "members": 3, "stage": "sign_in"}
    ]
    assert len(entries("evaluation.member.confirmed")) == 3


def test_refusals_change_nothing(invited: Evaluation, published_tender: Tender, personas: Personas) -> None:
    member = members(invited)[0]
    confirmation.confirm(member.expert.user, published_tender)
    before = LedgerEntry.objects.count()

    with pytest.raises(Conflict) as twice:
        confirmation.confirm(member.expert.user, published_tender)
    with pytest.raises(Conflict):
        confirmation.decline(member.expert.user, published_tender, "改主意")
    with pytest.raises(NotFound):
        confirmation.confirm(personas.expert, published_tender)  # an expert not drawn
    with pytest.raises(NotFound):
        confirmation.confirm(personas.bidder_a, published_tender)
    with pytest.raises(InvalidInput):
        confirmation.decline(members(invited)[1].expert.user, published_tender, "   ")
    with pytest.raises(InvalidInput):
        confirmation.decline(members(invited)[1].expert.user, published_tender, "长" * 501)

    assert twice.value.code == "already_answered"
    assert LedgerEntry.objects.count() == before
    assert [m.state for m in members(invited)] == [MemberState.CONFIRMED, MemberState.INVITED, MemberState.INVITED]


def test_a_recusal_at_sign_in_is_replaced_by_the_next_in_order(invited: Evaluation, published_tender: Tender) -> None:
    for member in members(invited):
        confirmation.confirm(member.expert.user, published_tender)
    recused = members(invited)[1]

    with transaction.atomic():
        replacement = confirmation.replace_member(recused, "recused")

    assert replacement is not None and replacement.replaces_id == recused.pk
    recused.refresh_from_db()
    assert recused.state == MemberState.RECUSED
    evaluation = Evaluation.objects.get(pk=invited.pk)
    assert evaluation.draw_record is not None
    assert evaluation.draw_record["redraws"][0]["reason"] == "recused"
    assert algorithm.verify_record(evaluation.draw_record).ok
    assert entries("evaluation.member.recused")[0]["member"] == recused.pk
    # The new member confirms; the committee is whole again.
    confirmation.confirm(replacement.expert.user, published_tender)
    assert evaluation.members.filter(state=MemberState.CONFIRMED).count() == 3


def test_an_order_with_nobody_left_leaves_the_seat_empty_and_says_so(
    personas: Personas, published_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> None:
    eligible_pool(3, "TJ01")
    evaluation, _bids, _users = drawn(personas, published_tender, frozen_clock, tmp_path, {"TJ01": 3})
    member = members(evaluation)[0]

    assert confirmation.decline(member.expert.user, published_tender, "生病") is None

    evaluation.refresh_from_db()
    assert evaluation.draw_record is not None
    assert evaluation.draw_record["redraws"][0]["expert"] is None
    assert algorithm.verify_record(evaluation.draw_record).ok
    assert entries("evaluation.member.invited")[0]["member"] is None
