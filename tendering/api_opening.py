"""API of the opening (开标) for programs: the ``etender`` client releases keys and submits
custodians' parts here; the hall's page uses the WebSocket (tendering/consumers.py),
which calls the same services. docs/opening.md describes both.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import Field

from accounts.errors import NotFound
from archive.storage import get_object_store
from config.api_auth import AUTHENTICATED, actor
from tendering.permissions import visible_tender
from tendering.services.opening import admission, bid_retried, conclusion, confirmations, keys, payloads, views
from tendering.services.opening import custodian_parts as custodian_parts_service

router = Router(tags=["opening"])


class KeyIn(Schema):
    file_key: str = Field(
        max_length=64, description="The bid's 32-byte file key, base64, opened from the bidder's own envelope"
    )


class PartIn(Schema):
    bid: uuid.UUID
    members: list[int] = Field(
        min_length=1, max_length=9, description="The subset, as in the manifest (custodians numbered from 0)"
    )
    part: str = Field(max_length=64, description="The 32-byte part, base64")


class RefusalIn(Schema):
    statement: str = Field(
        max_length=2048, description='The signed "does not open" statement (etender-part-refusal-v1), base64'
    )
    signature: str = Field(
        max_length=200,
        description="Its ECDSA P-256/SHA-256 signature by the custodian's registered signing key, DER, base64",
    )


class PartsIn(Schema):
    parts: list[PartIn] = Field(max_length=20000)
    refusals: list[RefusalIn] = Field(
        default=[], max_length=20000, description="One statement for each part that did not open"
    )


class TextIn(Schema):
    text: str = Field(max_length=20000)


class BidStateOut(Schema):
    bid: uuid.UUID
    position: int
    state: str
    key_source: str


class ManifestOut(Schema):
    bid: uuid.UUID
    position: int
    state: str
    manifest: str = Field(description="The bid's signed canonical manifest, base64: its envelopes are what keys open")


class PartsOut(Schema):
    parts: int
    refusals: int


class ObjectionOut(Schema):
    id: int
    text: str
    answer: str


@router.get("/{public_id}/opening", auth=AUTHENTICATED, summary="The opening hall as the caller sees it now (snapshot)")
def hall_snapshot(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    user = actor(request)
    return views.snapshot(user, visible_tender(user, public_id))


@router.get(
    "/{public_id}/opening/manifests",
    auth=AUTHENTICATED,
    response=list[ManifestOut],
    summary="Manifests whose envelopes the caller opens",
)
def manifests(request: HttpRequest, public_id: uuid.UUID) -> list[dict[str, Any]]:
    user = actor(request)
    return views.manifests_for(user, visible_tender(user, public_id))


@router.post("/{public_id}/opening/sign-in", auth=AUTHENTICATED, summary="Sign in to the hall (签到)")
def sign_in(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    user = actor(request)
    attendance = admission.sign_in(user, visible_tender(user, public_id))
    return payloads.attendance_view(attendance)


@router.post(
    "/{public_id}/opening/bids/{bid_id}/key",
    auth=AUTHENTICATED,
    response=BidStateOut,
    summary="Release a bid's file key (bidder)",
)
def release_key(request: HttpRequest, public_id: uuid.UUID, bid_id: uuid.UUID, payload: KeyIn) -> dict[str, Any]:
    user = actor(request)
    released = keys.release_key(
        user, visible_tender(user, public_id), bid_id, keys.decode_key(payload.file_key, "file_key")
    )
    return {
        "bid": released.bid.public_id,
        "position": released.position,
        "state": released.state,
        "key_source": released.key_source,
    }


@router.post(
    "/{public_id}/opening/custodian-parts",
    auth=AUTHENTICATED,
    response=PartsOut,
    summary="Submit every part of the caller's (custodian)",
)
def custodian_parts(request: HttpRequest, public_id: uuid.UUID, payload: PartsIn) -> dict[str, Any]:
    user = actor(request)
    parts = [
        custodian_parts_service.SubmittedPart(p.bid, tuple(p.members), keys.decode_key(p.part, f"parts.{i}.part"))
        for i, p in enumerate(payload.parts)
    ]
    refusals = custodian_parts_service.decode_refusals([(r.statement, r.signature) for r in payload.refusals])
    submission = custodian_parts_service.submit_custodian_parts(user, visible_tender(user, public_id), parts, refusals)
    return {"parts": submission.part_count, "refusals": len(submission.refusals)}


@router.post(
    "/{public_id}/opening/bids/{bid_id}/retry",
    auth=AUTHENTICATED,
    response=BidStateOut,
    summary="Try a bid's decryption again now (tenderer)",
)
def retry(request: HttpRequest, public_id: uuid.UUID, bid_id: uuid.UUID) -> dict[str, Any]:
    user = actor(request)
    retried = bid_retried.retry_decryption(user, visible_tender(user, public_id), bid_id)
    return {
        "bid": retried.bid.public_id,
        "position": retried.position,
        "state": retried.state,
        "key_source": retried.key_source,
    }


@router.post("/{public_id}/opening/conclude", auth=AUTHENTICATED, summary="End the decryption (tenderer)")
def conclude(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    user = actor(request)
    tender = visible_tender(user, public_id)
    conclusion.conclude_decryption(user, tender)
    return views.snapshot(user, tender)


@router.post("/{public_id}/opening/record/confirm", auth=AUTHENTICATED, summary="Confirm the opening record (bidder)")
def confirm(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    user = actor(request)
    confirmed = confirmations.confirm_record(user, visible_tender(user, public_id))
    return {"position": confirmed.position, "confirmed_at": confirmed.confirmed_at}


@router.post(
    "/{public_id}/opening/record/objections",
    auth=AUTHENTICATED,
    response={201: ObjectionOut},
    summary="Object to the opening record (bidder)",
)
def object_to_record(request: HttpRequest, public_id: uuid.UUID, payload: TextIn) -> tuple[int, dict[str, Any]]:
    user = actor(request)
    objection = confirmations.raise_objection(user, visible_tender(user, public_id), payload.text)
    return 201, {"id": objection.pk, "text": objection.text, "answer": objection.answer}


@router.post(
    "/{public_id}/opening/record/objections/{objection_id}/answer",
    auth=AUTHENTICATED,
    response=ObjectionOut,
    summary="Answer an objection (tenderer)",
)
def answer(request: HttpRequest, public_id: uuid.UUID, objection_id: int, payload: TextIn) -> dict[str, Any]:
    user = actor(request)
    objection = confirmations.answer_objection(user, visible_tender(user, public_id), objection_id, payload.text)
    return {"id": objection.pk, "text": objection.text, "answer": objection.answer}


@router.post("/{public_id}/opening/close", auth=AUTHENTICATED, summary="Close the opening (tenderer)")
def close(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    user = actor(request)
    tender = visible_tender(user, public_id)
    conclusion.close_opening(user, tender)
    return views.snapshot(user, tender)


@router.get(
    "/{public_id}/opening/record.pdf", auth=AUTHENTICATED, summary="The signed opening record (PDF), once filed"
)
def record_pdf(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = actor(request)
    tender = visible_tender(user, public_id)
    filed = views.filed_record(user, tender)
    if filed is None:
        raise NotFound(_("开标记录表尚未生成。"))
    with get_object_store().open(filed.record_object_key, filed.record_version_id or None) as stored:
        data = stored.read()
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="opening-record-{tender.number}.pdf"'
    return response
