"""API of custody confirmations (docs/custody.md §C): public to read, the custodian's to sign."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from config.api_auth import AUTHENTICATED, OPTIONAL, actor
from tendering.api_bids import _b64 as decode_b64
from tendering.permissions import visible_tender
from tendering.services import custody

router = Router(tags=["custody"])


class SigningKeyOut(Schema):
    fingerprint: str
    spki: str = Field(description="base64 SubjectPublicKeyInfo DER")
    certificate: str | None = Field(description="the key CA's certificate (PEM), or null")


class ConfirmationOut(Schema):
    statement: str = Field(description="base64 of the canonical JSON statement (etender-custody-v1)")
    signature: str = Field(description="base64 DER ECDSA P-256/SHA-256 over the statement")
    signing_key: SigningKeyOut
    confirmed_at: dt.datetime


class EncryptionKeyOut(Schema):
    fingerprint: str
    spki: str


class CustodianOut(Schema):
    index: int
    name: str
    username: str
    encryption_key: EncryptionKeyOut
    confirmation: ConfirmationOut | None


class CustodyOut(Schema):
    tender: str
    threshold: int
    recipients: list[str]
    custodians: list[CustodianOut]
    confirmed: bool


class ConfirmationIn(Schema):
    statement: str = Field(min_length=1, max_length=8000, description="base64 of the statement the custodian signed")
    signature: str = Field(min_length=1, max_length=200, description="base64 DER signature")


@router.get(
    "/{public_id}/custody",
    auth=OPTIONAL,
    response=CustodyOut,
    summary="The custodians' keys and signed confirmations (anybody may check them)",
)
def tender_custody(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    return custody.custody_view(visible_tender(actor(request), public_id))


@router.post(
    "/{public_id}/custody/confirmation",
    auth=AUTHENTICATED,
    response={201: CustodyOut},
    summary="Confirm your custodian slot with your signing key",
)
def confirm(request: HttpRequest, public_id: uuid.UUID, payload: ConfirmationIn) -> Status[Any]:
    user = actor(request)
    tender = visible_tender(user, public_id)
    custody.confirm_custody(
        user,
        tender,
        decode_b64(payload.statement, "statement", custody.STATEMENT_MAX_BYTES),
        decode_b64(payload.signature, "signature", 200),
    )
    return Status(201, custody.custody_view(tender))
