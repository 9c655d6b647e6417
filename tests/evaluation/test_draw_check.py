"""The offline recompute of a draw: a real draw's record passes, and one changed byte of each part fails,
named; the tool runs in a fresh interpreter with no Django, no settings and no database."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config import clock as platform_clock
from evaluation import draw as algorithm
from evaluation.models import Evaluation
from evaluation.services import confirmation
from tendering.models import Tender
from tests.evaluation.pool_helpers import drawn, eligible_pool
from tests.fixtures.personas import Personas

REPO = Path(__file__).resolve().parents[2]


def flip_hex(text: str) -> str:
    """``text`` (hex) with its last byte changed."""
    return text[:-2] + f"{int(text[-2:], 16) ^ 1:02x}"


def check(path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE", "ETENDER", "REDIS"))}
    return subprocess.run(
        [sys.executable, "-I", "-m", "evaluation.draw_check", str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=path.parent,
        check=False,
    )


@pytest.fixture
def real_record(
    personas: Personas, published_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> dict[str, Any]:
    """A draw made through the services, with one decline redrawn: its public record."""
    eligible_pool(4, "TJ01")
    eligible_pool(3, "TJ01", "SZ01", prefix="B")
    evaluation, _bids, _users = drawn(
        personas, published_tender, frozen_clock, tmp_path / "bids", {"TJ01": 3, "SZ01": 1}
    )
    first = evaluation.members.filter(specialty__code="TJ01").order_by("draw_rank").first()
    assert first is not None
    confirmation.decline(first.expert.user, published_tender, "出差")
    record = Evaluation.objects.get(pk=evaluation.pk).draw_record
    assert record is not None and len(record["redraws"]) == 1
    return record


# Each part of the record, how to change one byte of it, and the words of the mismatch that must be named.
TAMPERINGS = [
    (
        "tender",
        lambda r: r.__setitem__("tender", r["tender"][:-1] + ("0" if r["tender"][-1] != "0" else "1")),
        "candidates_sha256",
    ),
    ("request", lambda r: r["request"][0].__setitem__("count", r["request"][0]["count"] + 1), "candidates_sha256"),
    ("excluded_regions", lambda r: r.__setitem__("excluded_regions", ["4403"]), "candidates_sha256"),
    ("candidates", lambda r: r["candidates"]["TJ01"].__setitem__(0, "A001"), "candidates_sha256"),
    (
        "candidates_sha256",
        lambda r: r.__setitem__("candidates_sha256", flip_hex(r["candidates_sha256"])),
        "candidates_sha256",
    ),
    (
        "commitments",
        lambda r: r["commitments"].__setitem__("supervisor", flip_hex(r["commitments"]["supervisor"])),
        "reveals.supervisor does not match commitments.supervisor",
    ),
    (
        "reveals",
        lambda r: r["reveals"].__setitem__("platform", flip_hex(r["reveals"]["platform"])),
        "reveals.platform does not match commitments.platform",
    ),
    (
        "bid_manifests_sha256",
        lambda r: r["bid_manifests_sha256"].__setitem__(0, flip_hex(r["bid_manifests_sha256"][0])),
        "seed does not match the candidates, the reveals and the manifests",
    ),
    ("seed", lambda r: r.__setitem__("seed", flip_hex(r["seed"])), "seed does not match"),
    ("order", lambda r: r["order"]["TJ01"].reverse(), "order.TJ01"),
    ("invited", lambda r: r["invited"][0].__setitem__("rank", r["invited"][0]["rank"] + 1), "invited[0]"),
    ("redraws", lambda r: r["redraws"][0].__setitem__("rank", r["redraws"][0]["rank"] + 1), "redraws[0]"),
]


def test_a_real_draw_recomputes_offline_in_a_fresh_interpreter(real_record: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    path.write_text(json.dumps(real_record, ensure_ascii=False), encoding="utf-8")
    done = check(path)
    assert (done.returncode, done.stdout.split(":")[0]) == (0, "ok")
    assert real_record["seed"] in done.stdout


@pytest.mark.parametrize(("part", "tamper", "named"), TAMPERINGS, ids=[t[0] for t in TAMPERINGS])
def test_one_changed_byte_of_each_part_fails_naming_it(
    real_record: dict[str, Any], tmp_path: Path, part: str, tamper: Any, named: str
) -> None:
    changed = copy.deepcopy(real_record)
    tamper(changed)
    assert changed != real_record
    result = algorithm.verify_record(changed)
    assert not result.ok and result.problem is not None and named in result.problem
    # The same through the tool (one part is enough to prove the exit code; all are cheap).
    path = tmp_path / f"{part}.json"
    path.write_text(json.dumps(changed), encoding="utf-8")
    done = check(path)
    assert done.returncode == 1
    assert done.stdout.startswith("mismatch: ") and named in done.stdout


def test_the_tool_imports_no_django(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-I", "-c", "import sys, evaluation.draw_check; print('django' in sys.modules)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert done.stdout.strip() == "False"


def test_an_unreadable_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    assert check(path).returncode == 2


def test_a_redraw_with_nobody_left_is_recorded_with_no_expert() -> None:
    frozen = algorithm.frozen_list("t-1", {"A": 2}, [], {"A": ["E1", "E2"]})
    digest = algorithm.candidates_sha256(frozen)
    platform, supervisor = b"\x01" * 32, b"\x02" * 32
    seed = algorithm.seed_of(digest, platform, supervisor, [])
    order = algorithm.orders(seed, frozen["candidates"])
    seats = algorithm.first_invited(order, {"A": 2})
    record = {
        **frozen,
        "candidates_sha256": digest,
        "commitments": {
            "platform": algorithm.commitment_of(platform),
            "supervisor": algorithm.commitment_of(supervisor),
        },
        "reveals": {"platform": platform.hex(), "supervisor": supervisor.hex()},
        "bid_manifests_sha256": [],
        "seed": seed,
        "order": order,
        "invited": [{"specialty": s.specialty, "expert": s.expert, "rank": s.rank} for s in seats],
        "redraws": [
            {"specialty": "A", "replaced": seats[0].expert, "reason": "declined", "expert": None, "rank": None}
        ],
    }
    assert algorithm.verify_record(record).ok
    record["redraws"][0]["expert"] = seats[1].expert
    assert not algorithm.verify_record(record).ok


def test_the_commitment_vector_the_browser_checks_too() -> None:
    vector = json.loads((REPO / "tests" / "data" / "draw_vectors.json").read_text(encoding="utf-8"))
    assert algorithm.commitment_of(bytes.fromhex(vector["secret_hex"])) == vector["commitment"]
    assert vector["commitment"] == hashlib.sha256(bytes(range(32))).hexdigest()
