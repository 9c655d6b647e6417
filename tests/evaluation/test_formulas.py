"""The evaluation's formulas (evaluation/formulas.py) on the hand-computed worked examples of docs/evaluation.md §2
(tests/data/evaluation_worked_examples.json)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from evaluation import formulas
from tendering.method import Criterion, default_method, validate_method

EXAMPLES = json.loads((Path(__file__).parents[1] / "data" / "evaluation_worked_examples.json").read_text("utf-8"))


def decimals(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: decimals(v) if isinstance(v, dict) else Decimal(v) for k, v in mapping.items()}


def comprehensive_with(price: dict[str, Any]) -> Any:
    """The default method (criteria weighing 50) with this price rule of weight 50."""
    method = default_method("comprehensive")
    method["price"] = price
    return validate_method(method, "comprehensive")


@pytest.mark.parametrize("example", EXAMPLES["criterion_points"], ids=lambda e: e["name"])
def test_a_criterions_points_are_the_mean_score_over_the_maximum_times_the_weight(example):
    criterion = Criterion(
        "T1",
        "施工组织设计",
        "technical",
        Decimal(example["weight"]),
        Decimal(example["min_score"]),
        Decimal(example["max_score"]),
    )
    assert formulas.criterion_points([Decimal(s) for s in example["scores"]], criterion) == Decimal(example["points"])


def test_a_score_outside_the_criterions_range_is_refused():
    criterion = Criterion("T1", "施工组织设计", "technical", Decimal("30.00"), Decimal("0.00"), Decimal("10.00"))
    with pytest.raises(ValueError, match="outside"):
        formulas.criterion_points([Decimal("10.01")], criterion)
    with pytest.raises(ValueError, match="no scores"):
        formulas.criterion_points([], criterion)


def test_lowest_ratio_scores_the_lowest_valid_price_over_each_price_times_the_weight():
    example = EXAMPLES["lowest_ratio"]
    method = comprehensive_with({"rule": "lowest_ratio", "weight": example["weight"]})
    assert formulas.price_scores(method, decimals(example["prices"])) == decimals(example["scores"])


@pytest.mark.parametrize("example", EXAMPLES["trimmed_mean"], ids=lambda e: e["name"])
def test_the_trimmed_mean_drops_the_highest_at_six_and_the_highest_and_lowest_from_seven(example):
    assert formulas.trimmed_mean(Decimal(p) for p in example["prices"]) == Decimal(example["mean"])


def test_the_benchmark_rule_deducts_per_percent_above_and_below_and_never_below_zero():
    example = EXAMPLES["benchmark"]
    method = comprehensive_with(example["price"])
    prices = decimals(example["prices"])
    factor = Decimal(example["factor"])
    assert formulas.trimmed_mean(prices.values()) == Decimal(example["trimmed_mean"])
    assert formulas.benchmark(prices.values(), factor) == Decimal(example["benchmark"])
    assert formulas.price_scores(method, prices, factor) == decimals(example["scores"])


def test_the_benchmark_rule_refuses_a_factor_the_method_does_not_name():
    example = EXAMPLES["benchmark"]
    method = comprehensive_with(example["price"])
    for factor in (None, Decimal("-0.05")):
        with pytest.raises(ValueError, match="factors"):
            formulas.price_scores(method, decimals(example["prices"]), factor)


@pytest.mark.parametrize("example", EXAMPLES["benchmark_factor"], ids=lambda e: e["seed_hex"][:8])
def test_the_benchmark_factor_is_drawn_from_the_seed_by_hmac(example):
    method = comprehensive_with(EXAMPLES["benchmark"]["price"])
    factor = formulas.benchmark_factor(method, bytes.fromhex(example["seed_hex"]))
    assert factor == Decimal(example["factor"])
    assert method.price.factors.index(factor) == example["index"]


def test_no_factor_is_drawn_for_a_rule_without_factors():
    with pytest.raises(ValueError, match="factors"):
        formulas.benchmark_factor(validate_method(default_method("comprehensive"), "comprehensive"), bytes(32))


@pytest.mark.parametrize("key", ["qualification", "qualification_tie"])
def test_qualification_is_by_strict_majority_and_shows_each_disagreement(key):
    example = EXAMPLES[key]
    result = formulas.qualification_result(example["marks"])
    assert {b: {i: v.passed for i, v in items.items()} for b, items in result.verdicts.items()} == example["verdicts"]
    assert result.qualified == example["qualified"]
    assert [
        {"bid": bid, "item": item, "passed_by": list(v.passed_by), "failed_by": list(v.failed_by)}
        for bid, item, v in result.disagreements
    ] == example["disagreements"]


def test_qualification_refuses_sheets_that_do_not_mark_the_same_items():
    with pytest.raises(ValueError, match="same bids and items"):
        formulas.qualification_result({"e1": {"b1": {"Q1": True}}, "e2": {"b1": {"Q2": True}}})


def test_a_score_further_than_the_threshold_from_the_mean_deviates_and_one_at_the_threshold_does_not():
    example = EXAMPLES["deviations"]
    found = formulas.deviations(decimals(example["scores"]), Decimal(example["threshold_percent"]))
    assert [
        {
            "expert": d.expert,
            "bid": d.bid,
            "criterion": d.criterion,
            "score": str(d.score),
            "mean": str(d.mean),
            "percent": str(d.percent),
        }
        for d in found
    ] == example["flagged"]


def test_with_a_mean_of_zero_any_other_score_deviates():
    flagged = formulas.deviations({"e1": {"b1": {"T1": Decimal("0.00")}}}, Decimal("30.00"))
    assert flagged == []
    # Scores are never negative, so a mean of 0 means every score is 0; the rule is still defined.
    found = formulas.deviations(
        {"e1": {"b1": {"T1": Decimal("1.00")}}, "e2": {"b1": {"T1": Decimal("-1.00")}}}, Decimal("30.00")
    )
    assert [(d.expert, d.percent) for d in found] == [("e1", None), ("e2", None)]


def test_a_comprehensive_evaluation_from_sheets_to_ranking_matches_the_worked_example():
    example = EXAMPLES["comprehensive"]
    method = validate_method(example["method"], "comprehensive")
    points = formulas.points_by_bid(method, decimals(example["scores"]))
    assert points == decimals(example["points"])
    prices = decimals(example["prices"])
    scores = formulas.price_scores(method, prices)
    assert scores == decimals(example["price_scores"])
    ranked = formulas.ranking(method, list(prices), points, scores, prices, example["positions"])
    assert [{"bid": r.bid, "total": str(r.total)} for r in ranked] == example["ranking"]
    assert [r.rank for r in ranked] == [1, 2, 3]
    assert ranked[0].technical_points == Decimal("21.00") and ranked[0].commercial_points == Decimal("14.00")


def test_equal_totals_go_by_lower_price_then_higher_technical_points_then_opening_position():
    example = EXAMPLES["ties"]
    method = validate_method(EXAMPLES["comprehensive"]["method"], "comprehensive")
    ranked = formulas.ranking(
        method,
        list(example["points"]),
        decimals(example["points"]),
        decimals(example["price_scores"]),
        decimals(example["prices"]),
        example["positions"],
    )
    assert [r.bid for r in ranked] == example["ranking"]
    assert [r.bid for r in formulas.candidates(ranked)] == example["candidates"]


def test_the_lowest_evaluated_price_ranks_by_price_then_opening_position_with_no_scores():
    example = EXAMPLES["lowest_evaluated"]
    method = validate_method(default_method("lowest_price"), "lowest_price")
    prices = decimals(example["prices"])
    assert formulas.price_scores(method, prices) == {}
    ranked = formulas.ranking(method, list(prices), {}, {}, prices, example["positions"])
    assert [r.bid for r in ranked] == example["ranking"]
    assert [r.bid for r in formulas.candidates(ranked)] == example["candidates"]
    assert all(r.total is None and r.price_score is None for r in ranked)


@pytest.mark.parametrize(
    ("value", "rounded"),
    [("0.005", "0.01"), ("0.004999", "0.00"), ("-0.005", "-0.01"), ("2.675", "2.68"), ("1.0", "1.00")],
)
def test_rounding_is_half_up_to_two_decimals(value, rounded):
    assert str(formulas.round_half_up(Decimal(value))) == rounded
