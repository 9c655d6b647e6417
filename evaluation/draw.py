"""The expert draw "etender-draw-v1": the candidates' hash, the seed, the order, and the offline recompute.

Framework-free (no Django), so that ``python -m evaluation.draw_check RECORD.json`` can recompute a published
draw on any computer. docs/evaluation.md §3 says why nobody can steer or predict it.

A record (public: expert codes only, never names)::

    {"format": "etender-draw-v1", "tender": "<tender uuid>",
     "request": [{"specialty": "A01", "count": 2}, …],          # in specialty code order
     "excluded_regions": ["3607"],                               # sorted
     "candidates": {"A01": ["E001", …], …},                      # eligible expert codes per specialty, sorted
     "candidates_sha256": "…",                                   # SHA-256 of the canonical frozen list
     "exclusions": [{"expert": "E009", "specialty": "A01", "reasons": ["employer_is_bidder"]}, …],
     "commitments": {"platform": "…", "supervisor": "…"},        # SHA-256 hex of each 32-byte secret
     "reveals": {"platform": "…", "supervisor": "…"},            # the secrets, hex
     "bid_manifests_sha256": ["…", …],                           # the accepted bids' manifests, sorted
     "seed": "…",
     "order": {"A01": ["E003", "E001", …], …},                   # every candidate, HMAC order
     "invited": [{"specialty": "A01", "expert": "E003", "rank": 0}, …],
     "benchmark": {"factors": ["-0.03", …], "factor": "-0.02"},  # only for the benchmark price rule
     "redraws": [{"specialty": "A01", "replaced": "E003", "reason": "declined", "expert": "E007", "rank": 2}, …]}
                                                                 # expert and rank null: nobody was left

The first ``count`` of each specialty's order are invited, skipping an expert already invited for an earlier
specialty; a decline or a recusal invites the next one of that specialty's order not yet invited for anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from archive.canonical import canonical_json
from evaluation.formulas import BENCHMARK_FACTOR_CONTEXT

FORMAT = "etender-draw-v1"
SEED_CONTEXT = FORMAT.encode() + b"\x00"
SECRET_SIZE = 32
REDRAW_REASONS = ("declined", "recused")

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def commitment_of(secret: bytes) -> str:
    """The commitment to a secret: SHA-256 hex of its bytes."""
    return hashlib.sha256(secret).hexdigest()


def is_sha256_hex(text: object) -> bool:
    return isinstance(text, str) and _HEX64.fullmatch(text) is not None


def frozen_list(
    tender: str, request: Mapping[str, int], excluded_regions: Iterable[str], candidates: Mapping[str, Iterable[str]]
) -> dict[str, Any]:
    """The candidates frozen before any reveal, in their one canonical shape."""
    return {
        "format": FORMAT,
        "tender": tender,
        "request": [{"specialty": code, "count": request[code]} for code in sorted(request)],
        "excluded_regions": sorted(set(excluded_regions)),
        "candidates": {code: sorted(set(candidates.get(code, ()))) for code in sorted(request)},
    }


def candidates_sha256(frozen: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``{format, tender, request, excluded_regions, candidates}``."""
    keys = ("format", "tender", "request", "excluded_regions", "candidates")
    return hashlib.sha256(canonical_json({k: frozen[k] for k in keys})).hexdigest()


def seed_of(candidates_hash: str, platform_secret: bytes, supervisor_secret: bytes, manifests: Iterable[str]) -> str:
    """SHA-256("etender-draw-v1\\0" ‖ candidates hash ‖ platform secret ‖ supervisor secret ‖ sorted manifests)."""
    digest = hashlib.sha256(SEED_CONTEXT)
    digest.update(bytes.fromhex(candidates_hash))
    digest.update(platform_secret)
    digest.update(supervisor_secret)
    for manifest in sorted(bytes.fromhex(h) for h in manifests):
        digest.update(manifest)
    return digest.hexdigest()


def order_of(seed: str, specialty: str, experts: Iterable[str]) -> list[str]:
    """The specialty's candidates by HMAC-SHA256(seed, specialty ‖ 0x00 ‖ expert code), ascending."""
    key = bytes.fromhex(seed)

    def rank(expert: str) -> tuple[bytes, str]:
        message = specialty.encode() + b"\x00" + expert.encode()
        return hmac.new(key, message, hashlib.sha256).digest(), expert

    return sorted(experts, key=rank)


def orders(seed: str, candidates: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    return {code: order_of(seed, code, candidates[code]) for code in sorted(candidates)}


@dataclasses.dataclass(frozen=True)
class Seat:
    """An expert invited for a specialty, at its place (``rank``, 0 first) in that specialty's order."""

    specialty: str
    expert: str
    rank: int


class Exhausted(Exception):
    """A specialty's order has no candidate left to invite."""

    def __init__(self, specialty: str) -> None:
        super().__init__(f"no candidate left for specialty {specialty}")
        self.specialty = specialty


def first_invited(order: Mapping[str, Sequence[str]], request: Mapping[str, int]) -> list[Seat]:
    """The first ``count`` of each specialty (code order), skipping experts invited for an earlier one."""
    taken: set[str] = set()
    seats = []
    for code in sorted(request):
        picked = 0
        for rank, expert in enumerate(order[code]):
            if picked == request[code]:
                break
            if expert in taken:
                continue
            taken.add(expert)
            seats.append(Seat(code, expert, rank))
            picked += 1
        if picked < request[code]:
            raise Exhausted(code)
    return seats


def next_in_order(order: Sequence[str], specialty: str, after_rank: int, invited: Iterable[str]) -> Seat:
    """The next expert of ``specialty``'s order after ``after_rank`` not yet invited for anything."""
    already = set(invited)
    for rank in range(after_rank + 1, len(order)):
        if order[rank] not in already:
            return Seat(specialty, order[rank], rank)
    raise Exhausted(specialty)


@dataclasses.dataclass(frozen=True)
class Result:
    """``ok``, or the first part of the record that does not match (``problem``)."""

    ok: bool
    problem: str | None = None


class _Mismatch(Exception):
    pass


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise _Mismatch(problem)


def verify_record(record: Mapping[str, Any]) -> Result:
    """Recompute the draw from its record: the candidates' hash, each reveal against its commitment, the seed,
    every specialty's order, the invited and every redraw. Names the first mismatch."""
    try:
        _verify(record)
    except _Mismatch as exc:
        return Result(False, str(exc))
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        return Result(False, f"malformed record: {exc!r}")
    return Result(True)


def _verify(record: Mapping[str, Any]) -> None:
    _require(record.get("format") == FORMAT, f"format is not {FORMAT}")
    request = {line["specialty"]: line["count"] for line in record["request"]}
    _require(
        all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in request.values()),
        "request: a count is not a positive integer",
    )
    frozen = frozen_list(record["tender"], request, record["excluded_regions"], record["candidates"])
    _require(frozen["request"] == record["request"], "request is not in specialty code order")
    _require(frozen["excluded_regions"] == record["excluded_regions"], "excluded_regions are not sorted and unique")
    _require(frozen["candidates"] == record["candidates"], "candidates are not one sorted list per requested specialty")
    _require(
        candidates_sha256(frozen) == record["candidates_sha256"], "candidates_sha256 does not match the candidates"
    )
    for exclusion in record.get("exclusions", []):
        _require(
            exclusion["expert"] not in record["candidates"].get(exclusion["specialty"], []),
            f"exclusions: {exclusion['expert']} is excluded and yet a candidate for {exclusion['specialty']}",
        )
    secrets: dict[str, bytes] = {}
    for party in ("platform", "supervisor"):
        commitment, reveal = record["commitments"][party], record["reveals"][party]
        _require(is_sha256_hex(commitment), f"commitments.{party} is not a SHA-256 hex digest")
        _require(is_sha256_hex(reveal), f"reveals.{party} is not 32 bytes of lowercase hex")
        secrets[party] = bytes.fromhex(reveal)
        _require(commitment_of(secrets[party]) == commitment, f"reveals.{party} does not match commitments.{party}")
    manifests = record["bid_manifests_sha256"]
    _require(all(is_sha256_hex(h) for h in manifests), "bid_manifests_sha256: not SHA-256 hex digests")
    _require(list(manifests) == sorted(manifests), "bid_manifests_sha256 are not sorted")
    seed = seed_of(record["candidates_sha256"], secrets["platform"], secrets["supervisor"], manifests)
    _require(seed == record["seed"], "seed does not match the candidates, the reveals and the manifests")
    expected_order = orders(seed, record["candidates"])
    for code in expected_order:
        _require(record["order"].get(code) == expected_order[code], f"order.{code} is not the seed's order")
    _require(set(record["order"]) == set(expected_order), "order names a specialty that was not requested")
    try:
        seats = first_invited(expected_order, request)
    except Exhausted as exc:
        raise _Mismatch(f"invited: specialty {exc.specialty} has fewer candidates than requested") from None
    expected_invited = [dataclasses.asdict(seat) for seat in seats]
    for index, (got, want) in enumerate(zip(record["invited"], expected_invited, strict=False)):
        _require(got == want, f"invited[{index}] is not {want['expert']} at rank {want['rank']} of {want['specialty']}")
    _require(len(record["invited"]) == len(expected_invited), "invited does not hold the first count of each specialty")
    _verify_redraws(record["redraws"], expected_order, seats)
    if "benchmark" in record:
        _verify_benchmark(record["benchmark"], seed)


def _verify_benchmark(benchmark: Mapping[str, Any], seed: str) -> None:
    """The benchmark price rule's K: HMAC-SHA256(seed, its context) mod the number of factors (§2.4)."""
    factors = [Decimal(f) for f in benchmark["factors"]]
    _require(bool(factors), "benchmark.factors is empty")
    digest = hmac.new(bytes.fromhex(seed), BENCHMARK_FACTOR_CONTEXT, hashlib.sha256).digest()
    expected = factors[int.from_bytes(digest, "big") % len(factors)]
    _require(Decimal(benchmark["factor"]) == expected, f"benchmark.factor is not the seed's factor {expected}")


def _verify_redraws(
    redraws: Sequence[Mapping[str, Any]], order: Mapping[str, Sequence[str]], seats: list[Seat]
) -> None:
    seated = {seat.expert: seat for seat in seats}
    invited = [seat.expert for seat in seats]
    last_rank = {code: max((s.rank for s in seats if s.specialty == code), default=-1) for code in order}
    for index, redraw in enumerate(redraws):
        where = f"redraws[{index}]"
        replaced = seated.get(redraw["replaced"])
        _require(replaced is not None, f"{where}: {redraw['replaced']} does not hold a seat")
        assert replaced is not None
        _require(redraw["specialty"] == replaced.specialty, f"{where}: not the replaced expert's specialty")
        _require(redraw["reason"] in REDRAW_REASONS, f"{where}: reason is not one of {', '.join(REDRAW_REASONS)}")
        try:
            seat = next_in_order(order[replaced.specialty], replaced.specialty, last_rank[replaced.specialty], invited)
        except Exhausted:
            # The seat stays empty: the record says so with no expert.
            _require(redraw["expert"] is None, f"{where}: no candidate was left to invite")
            del seated[replaced.expert]
            continue
        _require(
            (redraw["expert"], redraw["rank"]) == (seat.expert, seat.rank),
            f"{where}: the next in order is {seat.expert} at rank {seat.rank}",
        )
        del seated[replaced.expert]
        seated[seat.expert] = seat
        invited.append(seat.expert)
        last_rank[seat.specialty] = seat.rank
