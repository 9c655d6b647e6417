"""Steps of a session, through its services, for the tests (the consumer tests send the same as frames)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from evaluation.models import SessionEvent, Stage
from evaluation.services.session import marks, signing_in, stages
from tests.evaluation.factories import SessionCase


def sign_in_all(case: SessionCase) -> None:
    for i, user in enumerate(case.experts):
        signing_in.sign_in(user, case.tender, "main" if i == 0 else "sub", f"南昌评标分中心 {i + 1} 号室")


def declare_all(case: SessionCase) -> None:
    for user in case.experts:
        signing_in.declare(user, case.tender, [(bid.public_id, False, "") for bid in case.bids])


def elect(case: SessionCase, chair: int = 0) -> None:
    for user in case.experts:
        if signing_in.vote_chair(user, case.tender, case.members[chair].pk) is not None:
            return


def to_qualification(case: SessionCase) -> None:
    sign_in_all(case)
    declare_all(case)
    elect(case)
    stages.close_stage(case.experts[0], case.tender, Stage.SIGN_IN)


def submit(case: SessionCase, index: int, kind: str) -> Any:
    user = case.experts[index]
    statement, _sha = marks.sheet_statement(user, case.tender, kind)
    return marks.submit_sheet(user, case.tender, kind, case.fingerprint(index), case.sign(index, statement))


def qualify_all(case: SessionCase, passed: Callable[[int, int, str], bool] = lambda e, b, i: True) -> None:
    """Every member marks every item of every bid (``passed(expert index, bid index, item)``) and submits."""
    items = [q["id"] for q in case.tender.evaluation_criteria["qualification"]]
    for e, user in enumerate(case.experts):
        for b, bid in enumerate(case.bids):
            for item in items:
                ok = passed(e, b, item)
                marks.save_mark(
                    user, case.tender, "qualification", bid.public_id, item, passed=ok, reason="" if ok else "材料缺失"
                )
        submit(case, e, "qualification")


def score_all(case: SessionCase, score: Callable[[int, int, str], str], bids: list[Any] | None = None) -> None:
    criteria = [c["id"] for c in case.tender.evaluation_criteria["criteria"]]
    for e, user in enumerate(case.experts):
        for b, bid in enumerate(bids if bids is not None else case.bids):
            for item in criteria:
                marks.save_mark(user, case.tender, "scoring", bid.public_id, item, score=score(e, b, item))
        submit(case, e, "scoring")


def kinds(case: SessionCase) -> list[str]:
    return list(SessionEvent.objects.filter(evaluation=case.evaluation).order_by("seq").values_list("kind", flat=True))


def even(e: int, b: int, item: str) -> str:
    """Scores close to each other (no deviation): 7 + bid/10 + expert/20."""
    return f"{Decimal(7) + Decimal(b) / 10 + Decimal(e) / 20:.2f}"
