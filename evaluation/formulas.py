"""The evaluation's arithmetic, framework-free: qualification by majority, points, price scores, deviations, ranking.

Every quotient is exact (``Fraction``) until it is published, and each published number is rounded half-up to
two decimals from exact values or from numbers published before it, so anyone can recompute a ranking from
the report alone. docs/evaluation.md §2 gives every formula with worked examples.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Hashable, Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Generic, TypeVar

from tendering.method import Criterion, Method

Bid = TypeVar("Bid", bound=Hashable)
Expert = TypeVar("Expert", bound=Hashable)

CENT = Decimal("0.01")
BENCHMARK_FACTOR_CONTEXT = b"etender-benchmark-factor-v1"
CANDIDATES = 3


def round_half_up(value: Fraction | Decimal) -> Decimal:
    """``value`` to two decimals, halves away from zero (ROUND_HALF_UP), exactly."""
    exact = Fraction(value) * 100
    whole, rest = divmod(abs(exact.numerator), exact.denominator)
    if 2 * rest >= exact.denominator:
        whole += 1
    cents = whole if exact >= 0 else -whole
    return Decimal(cents).scaleb(-2)


# --- qualification -------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ItemVerdict(Generic[Expert]):
    """The committee's verdict on one qualification item of one bid: a strict majority passes it."""

    passed: bool
    passed_by: tuple[Expert, ...]
    failed_by: tuple[Expert, ...]

    @property
    def disagreement(self) -> bool:
        return bool(self.passed_by) and bool(self.failed_by)


@dataclasses.dataclass(frozen=True)
class QualificationResult(Generic[Bid, Expert]):
    """Per bid and item the verdict; a bid is qualified when every item passed; the disagreements to show."""

    verdicts: dict[Bid, dict[str, ItemVerdict[Expert]]]
    qualified: dict[Bid, bool]
    disagreements: list[tuple[Bid, str, ItemVerdict[Expert]]]


def qualification_result(
    marks_by_expert: Mapping[Expert, Mapping[Bid, Mapping[str, bool]]],
) -> QualificationResult[Bid, Expert]:
    """The committee's qualification result by majority of ``marks_by_expert[expert][bid][item]`` (True = pass).

    An item passes only with more passes than fails: a tie cannot pass a bid, it fails and shows as a
    disagreement. Every expert must have marked the same bids and items (a closed stage has every sheet).
    """
    experts = list(marks_by_expert)
    if not experts:
        raise ValueError("no sheets")
    first = marks_by_expert[experts[0]]
    shape = {bid: set(items) for bid, items in first.items()}
    for expert in experts[1:]:
        marks = marks_by_expert[expert]
        if {bid: set(items) for bid, items in marks.items()} != shape:
            raise ValueError(f"sheet of {expert!r} does not mark the same bids and items")
    verdicts: dict[Bid, dict[str, ItemVerdict[Expert]]] = {}
    disagreements: list[tuple[Bid, str, ItemVerdict[Expert]]] = []
    for bid, items in first.items():
        verdicts[bid] = {}
        for item in items:
            passed_by = tuple(e for e in experts if marks_by_expert[e][bid][item])
            failed_by = tuple(e for e in experts if not marks_by_expert[e][bid][item])
            verdict = ItemVerdict(len(passed_by) > len(failed_by), passed_by, failed_by)
            verdicts[bid][item] = verdict
            if verdict.disagreement:
                disagreements.append((bid, item, verdict))
    qualified = {bid: all(v.passed for v in items.values()) for bid, items in verdicts.items()}
    return QualificationResult(verdicts, qualified, disagreements)


# --- points --------------------------------------------------------------------------------------------------


def criterion_points(scores: Iterable[Decimal], criterion: Criterion) -> Decimal:
    """A criterion's points for one bid: mean of the experts' scores ÷ max_score × weight, rounded."""
    values = list(scores)
    if not values:
        raise ValueError("no scores")
    for score in values:
        if not criterion.min_score <= score <= criterion.max_score:
            raise ValueError(f"score {score} outside [{criterion.min_score}, {criterion.max_score}]")
    exact = sum((Fraction(s) for s in values), Fraction(0)) * Fraction(criterion.weight)
    return round_half_up(exact / (len(values) * Fraction(criterion.max_score)))


def points_by_bid(
    method: Method, scores_by_expert: Mapping[Expert, Mapping[Bid, Mapping[str, Decimal]]]
) -> dict[Bid, dict[str, Decimal]]:
    """Every criterion's points for every bid scored in ``scores_by_expert[expert][bid][criterion]``."""
    experts = list(scores_by_expert)
    if not experts:
        raise ValueError("no sheets")
    bids = list(scores_by_expert[experts[0]])
    return {
        bid: {c.id: criterion_points((scores_by_expert[e][bid][c.id] for e in experts), c) for c in method.criteria}
        for bid in bids
    }


# --- price ---------------------------------------------------------------------------------------------------


def trimmed_mean(prices: Iterable[Decimal]) -> Decimal:
    """The mean of valid prices, trimmed per GLOSSARY: ≤5 none dropped; 6 the highest; ≥7 highest and lowest."""
    ordered = sorted(prices)
    if not ordered:
        raise ValueError("no valid price")
    if len(ordered) == 6:
        ordered = ordered[:-1]
    elif len(ordered) >= 7:
        ordered = ordered[1:-1]
    return round_half_up(sum((Fraction(p) for p in ordered), Fraction(0)) / len(ordered))


def benchmark(prices: Iterable[Decimal], factor: Decimal) -> Decimal:
    """The benchmark price (评标基准价): the published trimmed mean × (1 + factor), rounded."""
    return round_half_up(Fraction(trimmed_mean(prices)) * (1 + Fraction(factor)))


def benchmark_factor(method: Method, seed: bytes) -> Decimal:
    """The factor K drawn with the draw's public seed: HMAC-SHA256(seed, context) as an integer mod len(factors)."""
    factors = method.price.factors
    if method.price.rule != "benchmark" or not factors:
        raise ValueError("the method's price rule has no factors")
    digest = hmac.new(seed, BENCHMARK_FACTOR_CONTEXT, hashlib.sha256).digest()
    return factors[int.from_bytes(digest, "big") % len(factors)]


def price_scores(method: Method, prices: Mapping[Bid, Decimal], factor: Decimal | None = None) -> dict[Bid, Decimal]:
    """The price score of each valid bid (``prices`` holds only qualified bids). None for the lowest evaluated price.

    lowest_ratio: lowest ÷ price × weight. benchmark: weight − deduct_above × percent above the benchmark, or
    − deduct_below × percent below it, never below 0. lowest_evaluated has no scores: an empty result.
    """
    rule = method.price
    if rule.rule == "lowest_evaluated":
        return {}
    if not prices:
        return {}
    if any(p <= 0 for p in prices.values()):
        raise ValueError("prices must be positive")
    weight = Fraction(rule.weight)
    if rule.rule == "lowest_ratio":
        lowest = Fraction(min(prices.values()))
        return {bid: round_half_up(lowest / Fraction(p) * weight) for bid, p in prices.items()}
    if factor is None or factor not in rule.factors:
        raise ValueError("the benchmark rule needs one of the method's factors")
    base = Fraction(benchmark(prices.values(), factor))
    scores: dict[Bid, Decimal] = {}
    for bid, price in prices.items():
        percent = (Fraction(price) - base) / base * 100
        deduct = Fraction(rule.deduct_above) if percent > 0 else Fraction(rule.deduct_below)
        scores[bid] = round_half_up(max(Fraction(0), weight - deduct * abs(percent)))
    return scores


# --- deviations ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Deviation(Generic[Expert, Bid]):
    """A score far from the committee's mean for its bid and criterion (评分偏离).

    ``percent`` is (score − mean) ÷ mean × 100 rounded, None when the mean is 0 (any other score deviates).
    """

    expert: Expert
    bid: Bid
    criterion: str
    score: Decimal
    mean: Decimal
    percent: Decimal | None


def deviations(
    scores_by_expert: Mapping[Expert, Mapping[Bid, Mapping[str, Decimal]]], threshold_percent: Decimal
) -> list[Deviation[Expert, Bid]]:
    """Every score with |score − mean| > threshold% × mean, in the order bid, criterion, expert of the input.

    The comparison is exact (the rounded mean and percent are for display). With a mean of 0 every
    non-zero score deviates (no percentage of 0 allows any distance).
    """
    experts = list(scores_by_expert)
    found: list[Deviation[Expert, Bid]] = []
    if not experts:
        return found
    threshold = Fraction(threshold_percent)
    for bid, criteria in scores_by_expert[experts[0]].items():
        for criterion in criteria:
            scores = [Fraction(scores_by_expert[e][bid][criterion]) for e in experts]
            mean = sum(scores, Fraction(0)) / len(scores)
            for expert, score in zip(experts, scores, strict=True):
                distance = abs(score - mean)
                if distance * 100 > threshold * mean or (mean == 0 and score != 0):
                    percent = round_half_up((score - mean) / mean * 100) if mean else None
                    found.append(
                        Deviation(
                            expert,
                            bid,
                            criterion,
                            scores_by_expert[expert][bid][criterion],
                            round_half_up(mean),
                            percent,
                        )
                    )
    return found


# --- ranking -------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Ranked(Generic[Bid]):
    """One qualified bid's place. ``total`` and the points are None for the lowest evaluated price."""

    rank: int
    bid: Bid
    price: Decimal
    technical_points: Decimal | None
    commercial_points: Decimal | None
    price_score: Decimal | None
    total: Decimal | None

    @property
    def candidate(self) -> bool:
        """Among the winning candidates (中标候选人): the first three."""
        return self.rank <= CANDIDATES


def ranking(
    method: Method,
    qualified: Iterable[Bid],
    points: Mapping[Bid, Mapping[str, Decimal]],
    price_scores: Mapping[Bid, Decimal],
    prices: Mapping[Bid, Decimal],
    positions: Mapping[Bid, int],
) -> list[Ranked[Bid]]:
    """The qualified bids in order, ranks from 1.

    Comprehensive: higher total first, then lower price, then higher technical points, then the earlier
    opening position. Lowest evaluated price: lower price first, then the earlier opening position.
    """
    bids = list(qualified)
    rows: list[tuple[tuple[Fraction | Decimal | int, ...], Bid, Ranked[Bid]]] = []
    for bid in bids:
        price = prices[bid]
        if not method.scored:
            rows.append(((price, positions[bid]), bid, Ranked(0, bid, price, None, None, None, None)))
            continue
        technical = _sum(points[bid][c.id] for c in method.criteria if c.kind == "technical")
        commercial = _sum(points[bid][c.id] for c in method.criteria if c.kind == "commercial")
        total = round_half_up(Fraction(technical + commercial + price_scores[bid]))
        key = (-total, price, -technical, positions[bid])
        rows.append((key, bid, Ranked(0, bid, price, technical, commercial, price_scores[bid], total)))
    rows.sort(key=lambda row: row[0])
    return [dataclasses.replace(row[2], rank=i + 1) for i, row in enumerate(rows)]


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, Decimal("0.00")).quantize(CENT)


def candidates(ranked: Sequence[Ranked[Bid]]) -> list[Ranked[Bid]]:
    """The winning candidates: the first three of the ranking."""
    return [row for row in ranked if row.candidate]
