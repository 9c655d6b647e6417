"""Experts of the pool made directly for the draw's tests, and the draw's steps in the order they happen."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from accounts.models import Role, User
from config import clock as platform_clock
from evaluation import draw as algorithm
from evaluation.models import Evaluation, Expert, ExpertRelationship, Specialty
from evaluation.services import draw
from tendering.models import Bid, Tender
from tests.evaluation.factories import open_bids
from tests.fixtures.personas import Personas, make_user


def specialty(code: str, name: str = "") -> Specialty:
    return Specialty.objects.get_or_create(code=code, defaults={"name": name or f"专业{code}"})[0]


def expert(
    code: str,
    *specialties: str,
    region: str = "440300",
    employer: str = "",
    employer_code: str = "",
    active: bool = True,
    related_to: tuple[str, str] | None = None,
) -> Expert:
    """An expert of the pool (region 440300 深圳 unless told); ``related_to`` = (credit code, name) declared."""
    now = platform_clock.now()
    user = make_user(f"pool_{code.lower()}", None, Role.EXPERT)
    user.display_name = f"姓名{code}"
    user.save(update_fields=["display_name"])
    made = Expert.objects.create(
        code=code,
        user=user,
        name=f"姓名{code}",
        region_code=region,
        region_name="某地",
        employer_name=employer or f"{code}设计院",
        employer_credit_code=employer_code,
        active=active,
        imported_at=now,
        updated_at=now,
    )
    made.specialties.set([specialty(s) for s in specialties])
    if related_to is not None:
        ExpertRelationship.objects.create(
            expert=made, organization_credit_code=related_to[0], organization_name=related_to[1], kind="interest"
        )
    return made


def eligible_pool(count: int, *specialties: str, prefix: str = "E") -> list[Expert]:
    return [expert(f"{prefix}{i:03d}", *specialties) for i in range(1, count + 1)]


def request_and_commit(
    personas: Personas, tender: Tender, lines: dict[str, int], regions: list[str] | None = None
) -> bytes:
    """The manager's request and the supervisor's commitment, before the deadline; the supervisor's secret."""
    draw.request_experts(personas.tenderer, tender, lines, regions or [])
    secret = secrets.token_bytes(32)
    draw.commit_supervisor(personas.regulator, tender, algorithm.commitment_of(secret))
    return secret


def drawn(
    personas: Personas,
    tender: Tender,
    clock: platform_clock.FrozenClock,
    folder: Path,
    lines: dict[str, int],
    regions: list[str] | None = None,
    n_bids: int = 3,
) -> tuple[Evaluation, list[Bid], list[User]]:
    """Request and commit, open ``n_bids`` bids, freeze the candidates and reveal: the committee invited."""
    secret = request_and_commit(personas, tender, lines, regions)
    bids, bidder_users = open_bids(personas, tender, clock, folder, n_bids)
    clock.advance(minutes=1)
    draw.freeze_candidates(personas.tenderer, tender)
    evaluation = draw.reveal_supervisor(personas.regulator, tender, secret.hex())
    return evaluation, bids, bidder_users


def later(clock: platform_clock.FrozenClock, minutes: int = 1) -> dt.datetime:
    clock.advance(minutes=minutes)
    return clock()
