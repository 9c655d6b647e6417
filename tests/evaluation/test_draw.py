"""The request, the commitments, the frozen candidates with each exclusion, the reveal and the draw."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from accounts.errors import Conflict, InvalidInput, PermissionDenied, WrongPhase
from archive.models import LedgerEntry
from config import clock as platform_clock
from evaluation import draw as algorithm
from evaluation.models import CommitteeMember, DrawParty, Evaluation, MemberState
from evaluation.services import draw
from tendering.models import Tender
from tendering.services import tenders
from tests.evaluation.factories import open_bids
from tests.evaluation.pool_helpers import drawn, eligible_pool, expert, request_and_commit
from tests.fixtures.personas import Personas, tender_input

pytestmark = pytest.mark.django_db(transaction=False)


def entries(action: str) -> list[dict[str, Any]]:
    return [json.loads(e.data) for e in LedgerEntry.objects.filter(action=action).order_by("seq")]


def test_each_conflict_is_excluded_with_its_reason_and_the_draw_recomputes(
    personas: Personas,
    published_tender: Tender,
    frozen_clock: platform_clock.FrozenClock,
    tmp_path: Path,
    settings: Any,
) -> None:
    settings.EVALUATION_SAME_TENDERER_LIMIT = 1
    tenderer, bidder_b = personas.tenderer_org, personas.bidder_org_b
    eligible_pool(5, "TJ01")
    eligible_pool(3, "TJ01", "SZ01", prefix="B")
    expert("X01", "TJ01", employer="红土建设（名称不同）", employer_code=personas.bidder_org_a.credit_code or "")
    expert("X02", "TJ01", employer=tenderer.name)
    expert("X03", "TJ01", related_to=(bidder_b.credit_code or "", bidder_b.name))
    expert("X04", "TJ01", "SZ01", region="360781")
    expert("X05", "SZ01", active=False)
    busy = expert("X06", "TJ01")
    # X06 already sat on a committee for the same tenderer within the window (the limit is 1 here).
    other = tenders.create_draft(
        personas.tenderer, tender_input(frozen_clock(), personas.custodians, number="RJ-2026-099")
    )
    earlier = Evaluation.objects.create(tender=other, requested_by=personas.tenderer, requested_at=frozen_clock())
    CommitteeMember.objects.create(
        evaluation=earlier,
        expert=busy,
        specialty=busy.specialties.get(),
        draw_rank=0,
        state=MemberState.CONFIRMED,
        invited_at=frozen_clock(),
        answered_at=frozen_clock(),
    )

    evaluation, _bids, _users = drawn(
        personas, published_tender, frozen_clock, tmp_path, {"TJ01": 3, "SZ01": 2}, regions=["3607"]
    )

    record = evaluation.draw_record
    assert record is not None
    reasons = {(e["expert"], e["specialty"]): e["reasons"] for e in record["exclusions"]}
    assert reasons == {
        ("X01", "TJ01"): ["employer_is_bidder"],
        ("X02", "TJ01"): ["employer_is_tenderer"],
        ("X03", "TJ01"): ["relationship"],
        ("X04", "TJ01"): ["region_excluded"],
        ("X04", "SZ01"): ["region_excluded"],
        ("X05", "SZ01"): ["inactive"],
        ("X06", "TJ01"): ["co_evaluation_limit"],
    }
    assert record["candidates"] == {
        "SZ01": ["B001", "B002", "B003"],
        "TJ01": ["B001", "B002", "B003", "E001", "E002", "E003", "E004", "E005"],
    }
    # The hash was recorded before any reveal, and matches the one the record carries.
    frozen = entries("evaluation.draw.candidates_frozen")
    made = entries("evaluation.draw.made")
    assert [e["candidates_sha256"] for e in frozen] == [record["candidates_sha256"]]
    assert (
        LedgerEntry.objects.get(action="evaluation.draw.candidates_frozen").seq
        < LedgerEntry.objects.get(action="evaluation.draw.made").seq
    )
    assert made[0]["draw_record"] == record
    members = list(evaluation.members.select_related("expert", "specialty"))
    assert sorted((m.specialty.code, m.expert.code, m.draw_rank) for m in members) == sorted(
        (s["specialty"], s["expert"], s["rank"]) for s in record["invited"]
    )
    assert [m.state for m in members] == [MemberState.INVITED] * 5
    assert len({m.expert_id for m in members}) == 5
    # The order is the seed's HMAC order, recomputed here without the module's helpers.
    import hashlib
    import hmac

    def by_hmac(code: str) -> list[str]:
        key = bytes.fromhex(record["seed"])
        return sorted(
            record["candidates"][code],
            key=lambda e: hmac.new(key, code.encode() + b"\x00" + e.encode(), hashlib.sha256).digest(),
        )

    assert record["order"] == {"SZ01": by_hmac("SZ01"), "TJ01": by_hmac("TJ01")}
    assert algorithm.verify_record(record) == algorithm.Result(True)
    assert "姓名" not in json.dumps(record, ensure_ascii=False)


def test_a_reveal_that_does_not_match_its_commitment_is_refused_and_changes_nothing(
    personas: Personas, published_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> None:
    eligible_pool(4, "TJ01")
    secret = request_and_commit(personas, published_tender, {"TJ01": 3})
    open_bids(personas, published_tender, frozen_clock, tmp_path, 3)
    draw.freeze_candidates(personas.tenderer, published_tender)
    before = LedgerEntry.objects.count()
    wrong = bytes([secret[0] ^ 1]) + secret[1:]

    with pytest.raises(Conflict) as refused:
        draw.reveal_supervisor(personas.regulator, published_tender, wrong.hex())

    assert refused.value.code == "reveal_mismatch"
    evaluation = Evaluation.objects.get(tender=published_tender)
    assert (evaluation.drawn_at, evaluation.seed, evaluation.members.count()) == (None, "", 0)
    assert all(c.reveal == "" for c in evaluation.commitments.all())
    assert evaluation.commitments.get(party=DrawParty.PLATFORM).sealed_secret != b""
    assert LedgerEntry.objects.count() == before
    # The right secret still draws.
    draw.reveal_supervisor(personas.regulator, published_tender, secret.hex())
    assert Evaluation.objects.get(tender=published_tender).members.count() == 3


def test_a_reveal_before_the_candidates_are_frozen_is_refused(
    personas: Personas, published_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> None:
    eligible_pool(3, "TJ01")
    secret = request_and_commit(personas, published_tender, {"TJ01": 3})
    open_bids(personas, published_tender, frozen_clock, tmp_path, 3)

    with pytest.raises(WrongPhase) as refused:
        draw.reveal_supervisor(personas.regulator, published_tender, secret.hex())

    assert refused.value.code == "candidates_not_frozen"
    assert not LedgerEntry.objects.filter(action="evaluation.draw.made").exists()
    assert Evaluation.objects.get(tender=published_tender).drawn_at is None


def test_a_commitment_or_a_request_after_the_deadline_is_refused(
    personas: Personas, published_tender: Tender, frozen_clock: platform_clock.FrozenClock
) -> None:
    eligible_pool(3, "TJ01")
    draw.request_experts(personas.tenderer, published_tender, {"TJ01": 3}, [])
    frozen_clock.set(published_tender.bid_deadline)
    before = LedgerEntry.objects.count()

    with pytest.raises(WrongPhase) as late_commitment:
        draw.commit_supervisor(personas.regulator, published_tender, algorithm.commitment_of(secrets.token_bytes(32)))
    with pytest.raises(WrongPhase) as late_request:
        draw.request_experts(personas.tenderer, published_tender, {"TJ01": 2}, [])

    assert (late_commitment.value.code, late_request.value.code) == ("after_bid_deadline", "after_bid_deadline")
    evaluation = Evaluation.objects.get(tender=published_tender)
    assert (evaluation.supervisor_id, evaluation.commitments.count()) == (None, 1)
    assert [line.count for line in evaluation.request_lines.all()] == [3]
    assert LedgerEntry.objects.count() == before


def test_the_first_regulator_supervises_and_a_second_is_refused(personas: Personas, published_tender: Tender) -> None:
    from accounts.models import Role
    from tests.fixtures.personas import make_user

    eligible_pool(3, "TJ01")
    draw.request_experts(personas.tenderer, published_tender, {"TJ01": 3}, [])
    second = make_user("regulator2", personas.regulator_org, Role.REGULATOR)
    first_commitment = algorithm.commitment_of(b"\x01" * 32)
    draw.commit_supervisor(personas.regulator, published_tender, first_commitment)

    with pytest.raises(Conflict) as refused:
        draw.commit_supervisor(second, published_tender, algorithm.commitment_of(b"\x02" * 32))
    with pytest.raises(PermissionDenied):
        draw.commit_supervisor(personas.bidder_a, published_tender, algorithm.commitment_of(b"\x02" * 32))

    assert refused.value.code == "supervisor_taken"
    evaluation = Evaluation.objects.get(tender=published_tender)
    assert evaluation.supervisor_id == personas.regulator.pk
    assert evaluation.commitments.get(party=DrawParty.SUPERVISOR).commitment == first_commitment


@pytest.mark.parametrize(
    ("lines", "regions", "field"),
    [
        ({}, [], "lines"),
        ({"NOPE": 2}, [], "lines"),
        ({"TJ01": 0}, [], "lines"),
        ({"TJ01": "3"}, [], "lines"),
        ({"TJ01": 3}, ["36x7"], "excluded_regions"),
        ({"TJ01": 3}, "3607", "excluded_regions"),
    ],
)
def test_a_bad_request_is_refused_and_stores_nothing(
    personas: Personas, published_tender: Tender, lines: Any, regions: Any, field: str
) -> None:
    eligible_pool(3, "TJ01")
    with pytest.raises(InvalidInput) as refused:
        draw.request_experts(personas.tenderer, published_tender, lines, regions)
    assert field in refused.value.fields
    assert not Evaluation.objects.filter(tender=published_tender).exists()


def test_only_the_manager_requests(personas: Personas, published_tender: Tender) -> None:
    eligible_pool(3, "TJ01")
    for outsider in (personas.bidder_a, personas.regulator, personas.other_tenderer, personas.admin):
        with pytest.raises(PermissionDenied):
            draw.request_experts(outsider, published_tender, {"TJ01": 3}, [])
    assert not Evaluation.objects.filter(tender=published_tender).exists()


def test_a_changed_request_keeps_the_platform_commitment(personas: Personas, published_tender: Tender) -> None:
    eligible_pool(3, "TJ01", "SZ01")
    first = draw.request_experts(personas.tenderer, published_tender, {"TJ01": 3}, [])
    commitment = first.commitments.get(party=DrawParty.PLATFORM).commitment
    changed = draw.request_experts(personas.tenderer, published_tender, {"TJ01": 2, "SZ01": 1}, ["3607", "3607"])
    assert changed.pk == first.pk
    assert changed.commitments.get(party=DrawParty.PLATFORM).commitment == commitment
    assert changed.excluded_regions == ["3607"]
    assert {line.specialty.code: line.count for line in changed.request_lines.all()} == {"TJ01": 2, "SZ01": 1}
    assert [e["platform_commitment"] for e in entries("evaluation.draw.request_changed")] == [commitment]


def test_too_few_eligible_candidates_refuse_the_freeze(
    personas: Personas, published_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> None:
    eligible_pool(2, "TJ01")
    expert("X01", "TJ01", region="360781")
    request_and_commit(personas, published_tender, {"TJ01": 3}, ["3607"])
    open_bids(personas, published_tender, frozen_clock, tmp_path, 3)

    with pytest.raises(Conflict) as refused:
        draw.freeze_candidates(personas.tenderer, published_tender)

    assert refused.value.code == "too_few_candidates"
    assert "候选专家不足" in str(refused.value.message)
    assert Evaluation.objects.get(tender=published_tender).candidates_frozen_at is None
    assert not LedgerEntry.objects.filter(action="evaluation.draw.candidates_frozen").exists()


def test_the_candidates_freeze_only_once_the_opening_is_closed(
    personas: Personas, published_tender: Tender, frozen_clock: platform_clock.FrozenClock
) -> None:
    eligible_pool(3, "TJ01")
    request_and_commit(personas, published_tender, {"TJ01": 3})
    frozen_clock.set(published_tender.opening_time)
    with pytest.raises(WrongPhase) as refused:
        draw.freeze_candidates(personas.tenderer, published_tender)
    assert refused.value.code == "opening_not_closed"
    assert Evaluation.objects.get(tender=published_tender).candidates_frozen_at is None


BENCHMARK_PRICE = {
    "rule": "benchmark",
    "weight": "50.00",
    "factors": ["-0.03", "-0.02", "-0.01", "0.00"],
    "deduct_above": "1.00",
    "deduct_below": "0.50",
}


def test_a_benchmark_rule_takes_its_factor_from_the_seed(
    personas: Personas, draft_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> None:
    from evaluation.formulas import benchmark_factor
    from tendering.method import validate_method
    from tests.evaluation.factories import METHOD, publish_with_method

    method = {**METHOD, "price": BENCHMARK_PRICE}
    published_tender = publish_with_method(personas, draft_tender, method)
    eligible_pool(3, "TJ01")

    evaluation, _bids, _users = drawn(personas, published_tender, frozen_clock, tmp_path, {"TJ01": 3})

    expected = benchmark_factor(
        validate_method(method, published_tender.evaluation_method), bytes.fromhex(evaluation.seed)
    )
    assert evaluation.benchmark_factor == expected
    assert evaluation.draw_record is not None
    assert evaluation.draw_record["benchmark"]["factor"] == str(expected)


def test_the_benchmark_factor_is_recomputed_offline(
    personas: Personas, draft_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> None:
    from tests.evaluation.factories import METHOD, publish_with_method

    price = BENCHMARK_PRICE
    published_tender = publish_with_method(personas, draft_tender, {**METHOD, "price": price})
    eligible_pool(3, "TJ01")
    evaluation, _bids, _users = drawn(personas, published_tender, frozen_clock, tmp_path, {"TJ01": 3})
    record = evaluation.draw_record
    assert record is not None and algorithm.verify_record(record).ok
    other = next(f for f in price["factors"] if f != record["benchmark"]["factor"])
    changed = {**record, "benchmark": {**record["benchmark"], "factor": other}}
    result = algorithm.verify_record(changed)
    assert not result.ok and result.problem is not None and result.problem.startswith("benchmark.factor")


def test_without_a_supervisor_commitment_the_draw_cannot_happen(
    personas: Personas, published_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> None:
    eligible_pool(3, "TJ01")
    draw.request_experts(personas.tenderer, published_tender, {"TJ01": 3}, [])
    open_bids(personas, published_tender, frozen_clock, tmp_path, 3)
    with pytest.raises(WrongPhase) as refused:
        draw.freeze_candidates(personas.tenderer, published_tender)
    assert refused.value.code == "no_supervisor_commitment"
    assert Evaluation.objects.get(tender=published_tender).candidates_frozen_at is None


def test_only_the_manager_or_the_supervisor_freezes_and_only_the_supervisor_reveals(
    personas: Personas, published_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> None:
    from accounts.models import Role
    from tests.fixtures.personas import make_user

    eligible_pool(3, "TJ01")
    secret = request_and_commit(personas, published_tender, {"TJ01": 3})
    open_bids(personas, published_tender, frozen_clock, tmp_path, 3)
    other_regulator = make_user("regulator2", personas.regulator_org, Role.REGULATOR)
    for outsider in (personas.bidder_a, other_regulator, personas.admin):
        with pytest.raises(PermissionDenied):
            draw.freeze_candidates(outsider, published_tender)
    assert Evaluation.objects.get(tender=published_tender).candidates_frozen_at is None
    draw.freeze_candidates(personas.regulator, published_tender)
    for outsider in (personas.tenderer, other_regulator):
        with pytest.raises(PermissionDenied):
            draw.reveal_supervisor(outsider, published_tender, secret.hex())
    assert Evaluation.objects.get(tender=published_tender).drawn_at is None
    with pytest.raises(InvalidInput):
        draw.reveal_supervisor(personas.regulator, published_tender, "xyz")
    draw.reveal_supervisor(personas.regulator, published_tender, secret.hex().upper())
    with pytest.raises(Conflict) as twice:
        draw.reveal_supervisor(personas.regulator, published_tender, secret.hex())
    assert twice.value.code == "already_drawn"


def test_benchmark_factors_changed_in_the_database_after_publication_refuse_the_reveal(
    personas: Personas, draft_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> None:
    """K is drawn from the published factors: factors written into the row after publication (to make K one the
    operator prefers) stop the draw at the reveal, and nothing of the reveal is kept."""
    from tests.evaluation.factories import METHOD, publish_with_method

    tender = publish_with_method(personas, draft_tender, {**METHOD, "price": BENCHMARK_PRICE})
    eligible_pool(3, "TJ01")
    secret = request_and_commit(personas, tender, {"TJ01": 3})
    open_bids(personas, tender, frozen_clock, tmp_path, 3)
    frozen_clock.advance(minutes=1)
    draw.freeze_candidates(personas.tenderer, tender)
    steered = {**METHOD, "price": {**BENCHMARK_PRICE, "factors": ["0.00"]}}
    Tender.objects.filter(pk=tender.pk).update(evaluation_criteria=steered)
    tender.refresh_from_db()
    entries = LedgerEntry.objects.count()
    with pytest.raises(tenders.MethodNotAsPublished) as refused:
        draw.reveal_supervisor(personas.regulator, tender, secret.hex())
    assert refused.value.code == "method_not_as_published"
    assert "发布后被改动" in str(refused.value.message)
    evaluation = Evaluation.objects.get(tender=tender)
    assert evaluation.seed == "" and evaluation.benchmark_factor is None
    assert not CommitteeMember.objects.filter(evaluation=evaluation).exists()
    assert evaluation.commitments.get(party=DrawParty.SUPERVISOR).reveal == ""
    assert LedgerEntry.objects.count() == entries
