"""API for accounts: tokens for programs, the caller's identity, public keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.security import HttpBasicAuth
from pydantic import Field

from accounts import services
from accounts.errors import NotFound, PermissionDenied
from accounts.login_throttle import password_sign_in_succeeded
from accounts.models import PublicKey
from config.api_auth import AUTHENTICATED, actor, bearer

router = Router(tags=["accounts"])


class PasswordAuth(HttpBasicAuth):
    """Username and password, only to obtain a token (the CLI's `login`)."""

    def authenticate(self, request: HttpRequest, username: str, password: str) -> Any:
        user = authenticate(request, username=username, password=password)
        # Throttled with the pages' sign-ins (accounts/login_throttle.py): a locked-out
        # pair gets None here and AxesMiddleware answers 429 login_locked.
        if user is None or not user.is_active:
            return None
        password_sign_in_succeeded(request, user)
        return user


class TokenIn(Schema):
    name: str = Field(min_length=1, max_length=100)


class TokenOut(Schema):
    token: str
    name: str
    expires_at: dt.datetime


class MeOut(Schema):
    username: str
    display_name: str
    organization: str | None
    organization_kind: str | None
    organization_credit_code: str | None
    roles: list[str]


class KeyIn(Schema):
    purpose: str = Field(pattern="^(signing|encryption)$")
    public_key: str = Field(min_length=1, max_length=4000, description="SPKI, PEM")
    label: str = Field(default="", max_length=100)


class KeyOut(Schema):
    id: int
    purpose: str
    algorithm: str
    fingerprint: str
    label: str
    registered_at: dt.datetime
    revoked_at: dt.datetime | None
    public_key: str


def _key_out(key: PublicKey) -> dict[str, Any]:
    return {
        "id": key.pk,
        "purpose": key.purpose,
        "algorithm": key.algorithm,
        "fingerprint": key.fingerprint,
        "label": key.label,
        "registered_at": key.registered_at,
        "revoked_at": key.revoked_at,
        "public_key": key.pem,
    }


@router.post("/tokens", auth=PasswordAuth(), response={201: TokenOut}, summary="Obtain an API token with username and password")
def create_token(request: HttpRequest, payload: TokenIn) -> Status[Any]:
    plaintext, token = services.issue_api_token(request.auth, payload.name)  # type: ignore[attr-defined]
    return Status(201, {"token": plaintext, "name": token.name, "expires_at": token.expires_at})


@router.post("/tokens/current/revoke", auth=bearer, response={204: None}, summary="Revoke the token this request presents")
def revoke_current_token(request: HttpRequest) -> Status[Any]:
    presented = request.headers.get("Authorization", "").partition(" ")[2].strip()
    services.revoke_presented_token(presented)
    return Status(204, None)


@router.get("/me", auth=AUTHENTICATED, response=MeOut)
def me(request: HttpRequest) -> dict[str, Any]:
    user = actor(request)
    org = user.organization
    return {
        "username": user.username,
        "display_name": str(user),
        "organization": org.name if org else None,
        "organization_kind": org.kind if org else None,
        "organization_credit_code": org.credit_code if org else None,
        "roles": sorted(user.roles),
    }


@router.get("/keys", auth=AUTHENTICATED, response=list[KeyOut])
def list_keys(request: HttpRequest) -> list[dict[str, Any]]:
    return [_key_out(k) for k in PublicKey.objects.filter(owner=actor(request))]


@router.post("/keys", auth=AUTHENTICATED, response={201: KeyOut})
def register_key(request: HttpRequest, payload: KeyIn) -> Status[Any]:
    key = services.register_public_key(actor(request), payload.purpose, payload.public_key, payload.label)
    return Status(201, _key_out(key))


@router.post("/keys/{key_id}/revoke", auth=AUTHENTICATED, response=KeyOut)
def revoke_key(request: HttpRequest, key_id: int) -> dict[str, Any]:
    key = PublicKey.objects.filter(pk=key_id).first()
    if key is None:
        raise NotFound(_("找不到该公钥。"))
    if key.owner_id != actor(request).pk:
        raise PermissionDenied(_("只能撤销自己的公钥。"))
    return _key_out(services.revoke_public_key(actor(request), key))
