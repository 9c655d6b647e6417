"""API of the expert draw: the public draw record (expert codes only), the committee's counts, and the steps of
the request, the commitments, the freeze, the reveal and the expert's answer (the same services as the pages).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import Field

from accounts.errors import NotFound
from config.api_auth import AUTHENTICATED, OPTIONAL, actor
from evaluation.models import Evaluation
from evaluation.services import confirmation, draw
from tendering.permissions import visible_tender

router = Router(tags=["draw"])


class RequestIn(Schema):
    lines: dict[str, int] = Field(description='Experts asked per specialty code, e.g. {"A01": 5}')
    excluded_regions: list[str] = Field(default_factory=list, description="Region code prefixes to exclude")


class CommitmentIn(Schema):
    commitment: str = Field(max_length=64, description="SHA-256 hex of the supervisor's 32-byte secret")


class RevealIn(Schema):
    secret: str = Field(max_length=64, description="The supervisor's 32-byte secret, hex")


class DeclineIn(Schema):
    reason: str = Field(max_length=500)


class CountsOut(Schema):
    requested: int
    invited: int
    confirmed: int
    drawn: bool
    candidates_sha256: str


def _counts(evaluation: Evaluation) -> dict[str, Any]:
    return {
        **confirmation.committee_counts(evaluation),
        "drawn": evaluation.drawn_at is not None,
        "candidates_sha256": evaluation.candidates_sha256,
    }


@router.get(
    "/{public_id}/draw",
    auth=OPTIONAL,
    response=dict[str, Any],
    summary="The public record of the expert draw (etender-draw-v1), once drawn: python -m evaluation.draw_check",
)
def draw_record(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    tender = visible_tender(actor(request), public_id, published=True)
    record = draw.public_record(tender)
    if record is None:
        raise NotFound(_("该项目尚未抽取评标专家。"), code="not_drawn")
    return record


@router.get(
    "/{public_id}/draw/committee",
    auth=OPTIONAL,
    response=CountsOut,
    summary="How many experts are asked, invited and confirmed (names stay hidden until published)",
)
def committee(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    tender = visible_tender(actor(request), public_id, published=True)
    evaluation = Evaluation.objects.filter(tender=tender).first()
    if evaluation is None:
        raise NotFound(_("该招标项目尚未提出专家抽取申请。"), code="no_expert_request")
    return _counts(evaluation)


@router.post("/{public_id}/draw/request", auth=AUTHENTICATED, response=CountsOut, summary="Ask for experts (manager)")
def request_experts(request: HttpRequest, public_id: uuid.UUID, body: RequestIn) -> dict[str, Any]:
    user = actor(request)
    evaluation = draw.request_experts(user, visible_tender(user, public_id), body.lines, body.excluded_regions)
    return _counts(evaluation)


@router.post("/{public_id}/draw/commitment", auth=AUTHENTICATED, summary="Commit to a secret (supervisor)")
def commit(request: HttpRequest, public_id: uuid.UUID, body: CommitmentIn) -> dict[str, str]:
    user = actor(request)
    made = draw.commit_supervisor(user, visible_tender(user, public_id, published=True), body.commitment)
    return {"commitment": made.commitment}


@router.post("/{public_id}/draw/freeze", auth=AUTHENTICATED, response=CountsOut, summary="Freeze the candidates")
def freeze(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    user = actor(request)
    return _counts(draw.freeze_candidates(user, visible_tender(user, public_id, published=True)))


@router.post("/{public_id}/draw/reveal", auth=AUTHENTICATED, response=dict[str, Any], summary="Reveal and draw")
def reveal(request: HttpRequest, public_id: uuid.UUID, body: RevealIn) -> dict[str, Any]:
    user = actor(request)
    evaluation = draw.reveal_supervisor(user, visible_tender(user, public_id, published=True), body.secret)
    assert evaluation.draw_record is not None
    return evaluation.draw_record


@router.post("/{public_id}/invitation/confirm", auth=AUTHENTICATED, summary="Confirm an invitation (expert)")
def confirm(request: HttpRequest, public_id: uuid.UUID) -> dict[str, str]:
    user = actor(request)
    member = confirmation.confirm(user, visible_tender(user, public_id, published=True))
    return {"state": member.state}


@router.post("/{public_id}/invitation/decline", auth=AUTHENTICATED, summary="Decline an invitation (expert)")
def decline(request: HttpRequest, public_id: uuid.UUID, body: DeclineIn) -> dict[str, str]:
    user = actor(request)
    confirmation.decline(user, visible_tender(user, public_id, published=True), body.reason)
    return {"state": "declined"}
