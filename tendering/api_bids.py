"""API for sealed bids: upload in parts, finalize, receipts, withdraw. Bidders see only their own bids.

A part is the raw request body (``application/octet-stream``), streamed into the
object store, never read whole into memory by this code.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import Field

from accounts.errors import InvalidInput, PermissionDenied
from config.api_auth import AUTHENTICATED, actor
from tendering import permissions
from tendering.models import Bid, BidUpload
from tendering.permissions import visible_tender as get_tender
from tendering.services import bids

router = Router(tags=["bids"])
tender_bids_router = Router(tags=["bids"])

MAX_MANIFEST_BYTES = 1024 * 1024


class UploadIn(Schema):
    bid_id: uuid.UUID
    size: int = Field(gt=0)


class PartOut(Schema):
    number: int
    size: int
    sha256: str


class UploadOut(Schema):
    upload_id: uuid.UUID
    bid_id: uuid.UUID
    tender_id: uuid.UUID
    size: int
    part_size: int
    expected_parts: int
    received_parts: int
    received_bytes: int
    state: str
    part_sha256: list[str] = Field(description="The SHA-256 of parts 1…received_parts, in order")
    part_window: int = Field(description="How many parts past received_parts may be sent at once")
    confirmed_parts: list[PartOut] = Field(
        description="Every part the platform confirmed, by number (parts past received_parts included)"
    )


class FinalizeIn(Schema):
    manifest: str = Field(description="The canonical manifest bytes, base64", max_length=2 * MAX_MANIFEST_BYTES)
    signature: str = Field(description="ECDSA P-256 SHA-256 signature (DER), base64", max_length=400)


class BidOut(Schema):
    bid_id: uuid.UUID
    tender_id: uuid.UUID
    status: str
    size: int
    sha256: str
    accepted_at: dt.datetime
    withdrawn_at: dt.datetime | None
    superseded_at: dt.datetime | None
    ledger_seq: int
    receipt: str = Field(description="The signed, time-stamped receipt (canonical JSON), base64")
    withdrawal_ledger_seq: int | None = Field(description="The withdrawal's ledger entry; null unless withdrawn")
    withdrawal_receipt: str = Field(
        description="The withdrawal's signed, time-stamped receipt (canonical JSON), base64; empty unless withdrawn"
    )


class BidCountOut(Schema):
    tender_id: uuid.UUID
    disclosed_from: dt.datetime = Field(
        description="The opening time: before it neither the number nor the names are shown (招标投标法 Art 22)"
    )
    accepted_bids: int | None = Field(description="Null before the opening time")
    bidders: list[str] | None = Field(description="Null before the opening time")


class BidderOut(Schema):
    organization: str
    credit_code: str = Field(description="统一社会信用代码: the sealed bid's `bidder` (manifest and price summary)")


def _upload_out(upload: BidUpload) -> dict[str, Any]:
    confirmed = bids.confirmed_parts(upload)
    return {
        "upload_id": upload.public_id,
        "bid_id": upload.bid_id,
        "tender_id": upload.tender.public_id,
        "size": upload.declared_size,
        "part_size": upload.part_size,
        "expected_parts": upload.expected_parts,
        "received_parts": upload.received_parts,
        "received_bytes": upload.received_bytes,
        "state": upload.state,
        "part_sha256": [p.sha256 for p in confirmed[: upload.received_parts]],
        "part_window": bids.PART_WINDOW,
        "confirmed_parts": [{"number": p.number, "size": p.size, "sha256": p.sha256} for p in confirmed],
    }


def _bid_out(bid: Bid) -> dict[str, Any]:
    return {
        "bid_id": bid.public_id,
        "tender_id": bid.tender.public_id,
        "status": bid.status,
        "size": bid.size,
        "sha256": bid.sha256,
        "accepted_at": bid.accepted_at,
        "withdrawn_at": bid.withdrawn_at,
        "superseded_at": bid.superseded_at,
        "ledger_seq": bid.ledger_seq,
        "receipt": base64.b64encode(bytes(bid.receipt)).decode(),
        "withdrawal_ledger_seq": bid.withdrawal_ledger_seq,
        "withdrawal_receipt": base64.b64encode(bytes(bid.withdrawal_receipt)).decode(),
    }


def _b64(value: str, field: str, limit: int) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput({field: [_("不是有效的 base64。")]}) from None
    if not raw or len(raw) > limit:
        raise InvalidInput({field: [_("长度不符合要求。")]})
    return raw


@tender_bids_router.post(
    "/{public_id}/bids/uploads", auth=AUTHENTICATED, response={201: UploadOut}, summary="Start uploading a sealed bid"
)
def start_upload(request: HttpRequest, public_id: uuid.UUID, payload: UploadIn) -> Status[Any]:
    user = actor(request)
    upload = bids.start_upload(user, get_tender(user, public_id), payload.bid_id, payload.size)
    return Status(201, _upload_out(upload))


@tender_bids_router.get(
    "/{public_id}/bids/count",
    auth=AUTHENTICATED,
    response=BidCountOut,
    summary="How many bids stand and whose, from the opening time (managers, regulators)",
)
def bid_count(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    user = actor(request)
    tender = get_tender(user, public_id)
    from accounts.models import Role

    if not (permissions.can_manage(user, tender) or user.has_role(Role.REGULATOR)):
        raise PermissionDenied(_("只有招标人、代理机构和监督人员可以查看投标数量。"))
    return {
        "tender_id": tender.public_id,
        "disclosed_from": tender.opening_time,
        "accepted_bids": bids.bid_count(tender),
        "bidders": bids.standing_bidders(tender),
    }


@router.get(
    "/uploads", auth=AUTHENTICATED, response=list[UploadOut], summary="My organization's uploads (find one by bid id)"
)
def my_uploads(request: HttpRequest, bid_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    return [_upload_out(u) for u in bids.own_uploads(actor(request), bid_id)]


@router.get(
    "/uploads/{upload_id}", auth=AUTHENTICATED, response=UploadOut, summary="Where an upload stands (to resume it)"
)
def upload_status(request: HttpRequest, upload_id: uuid.UUID) -> dict[str, Any]:
    return _upload_out(bids.upload_status(actor(request), upload_id))


@router.put(
    "/uploads/{upload_id}/parts/{number}", auth=AUTHENTICATED, response=PartOut, summary="Upload one part (raw body)"
)
def upload_part(request: HttpRequest, upload_id: uuid.UUID, number: int) -> dict[str, Any]:
    try:
        length = int(request.headers.get("Content-Length", ""))
    except ValueError:
        raise InvalidInput({"part": [_("请求需要 Content-Length。")]}) from None
    if number < 1 or number > 10000:
        raise InvalidInput({"number": [_("分片编号必须在 1 到 10000 之间。")]})
    part = bids.upload_part(actor(request), upload_id, number, request, length)  # type: ignore[arg-type]
    return {"number": part.number, "size": part.size, "sha256": part.sha256}


@router.delete("/uploads/{upload_id}", auth=AUTHENTICATED, response=UploadOut, summary="Abandon an upload")
def abort_upload(request: HttpRequest, upload_id: uuid.UUID) -> dict[str, Any]:
    return _upload_out(bids.abort_upload(actor(request), upload_id))


@router.post(
    "/uploads/{upload_id}/finalize",
    auth=AUTHENTICATED,
    response={201: BidOut},
    summary="Finalize: check and accept the bid",
)
def finalize(request: HttpRequest, upload_id: uuid.UUID, payload: FinalizeIn) -> Status[Any]:
    manifest = _b64(payload.manifest, "manifest", MAX_MANIFEST_BYTES)
    signature = _b64(payload.signature, "signature", 256)
    bid = bids.finalize(actor(request), upload_id, manifest, signature)
    return Status(201, _bid_out(bid))


@router.get("", auth=AUTHENTICATED, response=list[BidOut], summary="My organization's bids")
def my_bids(request: HttpRequest, tender: uuid.UUID | None = None) -> list[dict[str, Any]]:
    user = actor(request)
    qs = bids.own_bids(user)
    if tender is not None:
        qs = qs.filter(tender__public_id=tender)
    return [_bid_out(b) for b in qs]


@router.get("/bidder", auth=AUTHENTICATED, response=BidderOut, summary="The organization the caller bids for")
def bidder_identity(request: HttpRequest) -> dict[str, Any]:
    """What a client sealing a bid needs to name the bidder (declared before ``/{bid_id}``, which would match it)."""
    user = actor(request)
    if not permissions.is_bidder(user):
        raise PermissionDenied(_("只有投标人可以提交投标文件。"))
    return {"organization": user.organization.name, "credit_code": user.organization.credit_code or ""}


@router.get("/{bid_id}", auth=AUTHENTICATED, response=BidOut)
def bid_detail(request: HttpRequest, bid_id: uuid.UUID) -> dict[str, Any]:
    return _bid_out(bids.own_bid(actor(request), bid_id))


@router.post("/{bid_id}/withdraw", auth=AUTHENTICATED, response=BidOut, summary="Withdraw before the deadline")
def withdraw(request: HttpRequest, bid_id: uuid.UUID) -> dict[str, Any]:
    return _bid_out(bids.withdraw(actor(request), bid_id))
