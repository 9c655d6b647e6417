"""API for entrustments (委托): the tenderer's staff grant and revoke them; both sides list theirs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from config.api_auth import AUTHENTICATED, actor
from tendering.models import Entrustment
from tendering.services import entrustments

router = Router(tags=["entrustments"])


class EntrustmentIn(Schema):
    agency_id: int
    tender_number: str = Field(
        default="", max_length=50, description="Scope one tender, by its number (招标编号); or give a period"
    )
    valid_from: dt.datetime | None = Field(default=None, description="Scope a period: from (inclusive)")
    valid_until: dt.datetime | None = Field(default=None, description="Scope a period: until (exclusive)")


class EntrustmentOut(Schema):
    id: uuid.UUID
    tenderer: str
    agency: str
    agency_id: int
    tender_number: str
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    granted_by: str
    granted_at: dt.datetime
    revoked_at: dt.datetime | None


def entrustment_out(entrustment: Entrustment) -> dict[str, Any]:
    return {
        "id": entrustment.public_id,
        "tenderer": entrustment.tenderer.name,
        "agency": entrustment.agency.name,
        "agency_id": entrustment.agency_id,
        "tender_number": entrustment.tender_number,
        "valid_from": entrustment.valid_from,
        "valid_until": entrustment.valid_until,
        "granted_by": str(entrustment.granted_by),
        "granted_at": entrustment.granted_at,
        "revoked_at": entrustment.revoked_at,
    }


@router.get(
    "", auth=AUTHENTICATED, response=list[EntrustmentOut], summary="Entrustments my organization granted or received"
)
def list_entrustments(request: HttpRequest) -> list[dict[str, Any]]:
    return [entrustment_out(e) for e in entrustments.visible_entrustments(actor(request))[:500]]


@router.post("", auth=AUTHENTICATED, response={201: EntrustmentOut}, summary="Entrust an agency (tenderer staff)")
def grant_entrustment(request: HttpRequest, payload: EntrustmentIn) -> Status[Any]:
    granted = entrustments.grant(
        actor(request),
        payload.agency_id,
        tender_number=payload.tender_number,
        valid_from=payload.valid_from,
        valid_until=payload.valid_until,
    )
    return Status(201, entrustment_out(granted))


@router.post(
    "/{entrustment_id}/revoke",
    auth=AUTHENTICATED,
    response=EntrustmentOut,
    summary="Revoke an entrustment (tenderer staff)",
)
def revoke_entrustment(request: HttpRequest, entrustment_id: uuid.UUID) -> dict[str, Any]:
    return entrustment_out(entrustments.revoke(actor(request), entrustment_id))
