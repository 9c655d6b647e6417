"""A whole session through its services: sign-in, declarations, the chair, both sheets signed and locked, a
deviation explained and one revised, price scores and the ranking, which equals an independent calculation from
the recorded sheets; the ledger tells it; a recusal; too few qualified bids fail the tender."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from archive.ledger import verify_ledger
from archive.models import LedgerEntry
from evaluation.models import Deviation, Mark, MarkRevision, MemberState, SessionEvent, Sheet, Stage
from evaluation.services import closing
from evaluation.services.session import deviations, stages
from tendering.models import Phase
from tests.evaluation.session.helpers import even, kinds, qualify_all, score_all, to_qualification

pytestmark = pytest.mark.django_db

CENT = Decimal("0.01")


def half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def independent_ranking(case: Any) -> list[tuple[str, Decimal]]:
    """The ranking from the recorded (signed, then revised) marks, by the published formulas, written again here."""
    method = case.tender.evaluation_criteria
    criteria = {c["id"]: c for c in method["criteria"]}
    totals = {}
    prices = dict(zip((b.pk for b in case.bids), (Decimal(p) for p in case.prices), strict=True))
    lowest = min(prices.values())
    for bid in case.bids:
        points = Decimal(0)
        for cid, c in criteria.items():
            scores = [m.score for m in Mark.objects.filter(sheet__kind="scoring", bid=bid, item=cid)]
            mean = sum(scores, Decimal(0)) / len(scores)
            points += half_up(mean / Decimal(c["max_score"]) * Decimal(c["weight"]))
        price_score = half_up(lowest / prices[bid.pk] * Decimal(method["price"]["weight"]))
        totals[str(bid.public_id)] = (half_up(points + price_score), prices[bid.pk])
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
    return [(bid, total) for bid, (total, _price) in ordered]


def test_a_whole_session_ends_with_the_ranking_an_independent_calculation_gives(session_case: Any) -> None:
    case = session_case(n_bids=4, n_experts=5)
    to_qualification(case)
    case.evaluation.refresh_from_db()
    assert case.evaluation.stage == Stage.QUALIFICATION and case.evaluation.chair_id == case.members[0].pk
    qualify_all(case)
    assert "scores.revealed" in kinds(case)
    assert stages.close_stage(case.experts[0], case.tender, "qualification") == Stage.SCORING

    def scores(e: int, b: int, item: str) -> str:
        # Expert 4 scores bid 0's T1 far below the others: a deviation; expert 3 bid 1's C1 too: another.
        if (e, b, item) == (4, 0, "T1"):
            return "2.00"
        if (e, b, item) == (3, 1, "C1"):
            return "1.00"
        return even(e, b, item)

    score_all(case, scores)
    flagged = list(Deviation.objects.select_related("mark", "mark__sheet").order_by("pk"))
    assert {(d.mark.sheet.member_id, d.mark.item) for d in flagged} == {
        (case.members[4].pk, "T1"),
        (case.members[3].pk, "C1"),
    }
    assert kinds(case).count("deviation.flagged") == 2
    with pytest.raises(Exception) as unresolved:
        stages.close_stage(case.experts[0], case.tender, "scoring")
    assert getattr(unresolved.value, "code", "") == "deviations_unresolved"
    low = next(d for d in flagged if d.mark.item == "T1")
    high = next(d for d in flagged if d.mark.item == "C1")
    deviations.explain_deviation(case.experts[4], case.tender, low.pk, "该施工组织设计缺少冬季施工措施，故低分。")
    revision = deviations.revise_score(case.experts[3], case.tender, high.pk, "7.40", "复核业绩证明后上调。")
    assert (revision.old_score, revision.new_score) == (Decimal("1.00"), Decimal("7.40"))
    assert MarkRevision.objects.get().mark_id == high.mark_id
    assert stages.close_stage(case.experts[0], case.tender, "scoring") == Stage.PRICE
    assert stages.close_stage(case.experts[0], case.tender, "price") == Stage.SUMMARY
    assert closing.close_stage(case.experts[0], case.tender, "summary") == Stage.REPORT

    closed = SessionEvent.objects.filter(evaluation=case.evaluation, kind="stage.closed").order_by("seq")
    summary = closed.last()
    assert summary is not None
    published = [(row["bid"], Decimal(row["total"])) for row in summary.payload["result"]["ranking"]]
    assert published == independent_ranking(case)
    assert [row["candidate"] for row in summary.payload["result"]["ranking"]] == [True, True, True, False]
    # Numbered without gaps; the ledger tells each step and verifies.
    seqs = list(SessionEvent.objects.filter(evaluation=case.evaluation).values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    actions = list(
        LedgerEntry.objects.filter(action__startswith="evaluation.session.").values_list("action", flat=True)
    )
    assert actions.count("evaluation.session.sheet_submitted") == 10
    assert actions.count("evaluation.session.stage_closed") == 5
    assert "evaluation.session.score_revised" in actions and "evaluation.session.deviation_explained" in actions
    assert verify_ledger().ok
    # Each sheet keeps what its member signed.
    sheet = Sheet.objects.get(member=case.members[2], kind="scoring")
    statement = json.loads(bytes(sheet.statement))
    assert statement["member"] == case.members[2].pk and len(statement["marks"]) == 4 * 2


def test_fewer_than_three_qualified_bids_fail_the_tender(session_case: Any) -> None:
    case = session_case(n_bids=3, n_experts=3)
    to_qualification(case)
    # Every expert fails bid 2 on Q1: two bids qualify.
    qualify_all(case, lambda e, b, item: not (b == 2 and item == "Q1"))
    assert stages.close_stage(case.experts[0], case.tender, "qualification") == Stage.CONCLUDED
    case.tender.refresh_from_db()
    assert case.tender.phase(case.clock()) == Phase.FAILED and case.tender.failure_reason == "too_few_qualified"
    assert kinds(case)[-2:] == ["stage.closed", "tender.failed"]
    closed = SessionEvent.objects.get(evaluation=case.evaluation, kind="stage.closed", payload__stage="qualification")
    result = closed.payload["result"]
    assert result["failed"] == [str(case.bids[2].public_id)]


def test_a_declared_conflict_recuses_the_member(session_case: Any) -> None:
    from evaluation.services.session import signing_in

    case = session_case(n_bids=3, n_experts=3)
    user = case.experts[1]
    signing_in.sign_in(user, case.tender, "sub", "赣州分中心")
    declarations = [(bid.public_id, i == 0, "曾在该单位任职" if i == 0 else "") for i, bid in enumerate(case.bids)]
    signing_in.declare(user, case.tender, declarations)
    case.members[1].refresh_from_db()
    assert case.members[1].state == MemberState.RECUSED
    replaced = SessionEvent.objects.get(evaluation=case.evaluation, kind="member.replaced").payload
    assert replaced["member"] == case.members[1].pk
    assert kinds(case)[-3:] == ["member.declared", "member.recused", "member.replaced"]
    # The recused member is no longer one: its next command is refused.
    with pytest.raises(Exception) as refused:
        signing_in.vote_chair(user, case.tender, case.members[0].pk)
    assert getattr(refused.value, "code", "") == "not_a_member"


def test_under_anonymous_scoring_bids_are_codes_until_the_technical_scores_are_locked(session_case: Any) -> None:
    from evaluation.services.session import admission, discussion, views
    from tests.evaluation.factories import METHOD

    case = session_case(n_bids=3, n_experts=3, method={**METHOD, "anonymous_technical": True})
    to_qualification(case)

    def shown(user: Any) -> dict[str, Any]:
        evaluation, member, role = admission.require_session(user, case.tender)
        return views.snapshot(user, case.tender, evaluation, member, role)

    names = {b.bidder.name for b in case.bids}
    assert {b["bidder"] for b in shown(case.experts[0])["bids"]} == names  # the qualification review sees names
    qualify_all(case)
    stages.close_stage(case.experts[0], case.tender, "qualification")
    discussion.post_message(case.experts[1], case.tender, "请大家注意施工组织设计的工期安排。")
    for user in (case.experts[0], case.supervisor):
        bids = shown(user)["bids"]
        assert [(b["bidder"], b["position"], b["price"]) for b in bids] == [(None, None, None)] * 3
        assert sorted(b["code"] for b in bids) == ["A", "B", "C"]
        assert not any(name in json.dumps(shown(user), ensure_ascii=False, default=str) for name in names)
    # The supervisor reads the discussion; it has no member and no drafts.
    watched = shown(case.supervisor)
    assert watched["you"] == {"member": None, "role": "supervisor", "marks": []}
    assert [m["text"] for m in watched["messages"]] == ["请大家注意施工组织设计的工期安排。"]
    score_all(case, even)
    stages.close_stage(case.experts[0], case.tender, "scoring")
    assert {b["bidder"] for b in shown(case.experts[0])["bids"]} == names


def test_under_the_lowest_evaluated_price_the_qualified_bids_rank_by_price_without_a_scoring_stage(
    session_case: Any,
) -> None:
    from tendering.models import EvaluationMethod
    from tests.evaluation.factories import METHOD

    method = {**METHOD, "criteria": [], "price": {"rule": "lowest_evaluated"}}
    case = session_case(n_bids=4, n_experts=3, method=method, evaluation_method=EvaluationMethod.LOWEST_PRICE)
    to_qualification(case)
    qualify_all(case)
    assert stages.close_stage(case.experts[0], case.tender, "qualification") == Stage.PRICE
    assert stages.close_stage(case.experts[0], case.tender, "price") == Stage.SUMMARY
    closing.close_stage(case.experts[0], case.tender, "summary")
    summary = SessionEvent.objects.get(evaluation=case.evaluation, kind="stage.closed", payload__stage="summary")
    ranking = summary.payload["result"]["ranking"]
    by_price = sorted(zip(case.prices, (str(b.public_id) for b in case.bids), strict=True), key=lambda p: Decimal(p[0]))
    assert [(r["price"], r["bid"]) for r in ranking] == by_price
    assert all(r["total"] is None and r["price_score"] is None for r in ranking)


def test_a_benchmark_price_rule_scores_with_the_drawn_factor(session_case: Any) -> None:
    from tests.evaluation.factories import METHOD

    price = {
        "rule": "benchmark",
        "weight": "50.00",
        "factors": ["-0.02", "0.00"],
        "deduct_above": "1.00",
        "deduct_below": "0.50",
    }
    case = session_case(n_bids=5, n_experts=3, method={**METHOD, "price": price})
    to_qualification(case)
    qualify_all(case)
    stages.close_stage(case.experts[0], case.tender, "qualification")
    score_all(case, even)
    stages.close_stage(case.experts[0], case.tender, "scoring")
    # No factor drawn yet: refused, nothing changes.
    with pytest.raises(Exception) as missing:
        stages.close_stage(case.experts[0], case.tender, "price")
    assert getattr(missing.value, "code", "") == "no_benchmark_factor"
    case.evaluation.refresh_from_db()
    assert case.evaluation.stage == Stage.PRICE
    case.evaluation.benchmark_factor = Decimal("-0.02")
    case.evaluation.save(update_fields=["benchmark_factor"])
    stages.close_stage(case.experts[0], case.tender, "price")
    result = SessionEvent.objects.get(evaluation=case.evaluation, kind="stage.closed", payload__stage="price")
    prices = [Decimal(p) for p in case.prices]
    base = half_up(half_up(sum(prices, Decimal(0)) / len(prices)) * Decimal("0.98"))
    expected = {}
    for bid, p in zip(case.bids, prices, strict=True):
        percent = (p - base) / base * 100
        deduct = Decimal("1.00") if percent > 0 else Decimal("0.50")
        expected[str(bid.public_id)] = f"{half_up(max(Decimal(0), Decimal(50) - deduct * abs(percent))):.2f}"
    assert result.payload["result"]["price_scores"] == expected
    assert result.payload["result"]["factor"] == "-0.0200"
