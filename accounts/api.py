"""API for accounts: tokens for programs, the caller's identity, public keys."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.security import HttpBasicAuth
from pydantic import Field

from accounts import key_ca, key_certificates, services
from accounts.errors import NotFound, PermissionDenied
from accounts.login_throttle import password_sign_in_succeeded
from accounts.models import PublicKey
from config.api_auth import AUTHENTICATED, actor, bearer
from config.untrusted import nul_paths, refuse_nul

router = Router(tags=["accounts"])


class PasswordAuth(HttpBasicAuth):
    """Username and password, only to obtain a token (the CLI's `login`)."""

    def authenticate(self, request: HttpRequest, username: str, password: str) -> Any:
        # PostgreSQL cannot compare a NUL: refused (422) before any lookup or throttling record.
        refuse_nul(nul_paths({"username": username, "password": password}))
        # Throttled with the pages' sign-ins (accounts/login_throttle.py): a locked-out
        # pair gets None here and AxesMiddleware answers 429 login_locked.
        user = authenticate(request, username=username, password=password)
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


class KeyProofIn(Schema):
    challenge: str = Field(min_length=1, max_length=200)
    signature: str | None = Field(
        default=None, max_length=200, description="signing key: base64 DER ECDSA signature over the statement"
    )
    nonce: str | None = Field(
        default=None, max_length=200, description="encryption key: base64 of the 32 bytes opened from `sealed`"
    )


class KeyIn(Schema):
    purpose: str = Field(pattern="^(signing|encryption)$")
    public_key: str = Field(min_length=1, max_length=4000, description="SPKI, PEM")
    label: str = Field(default="", max_length=100)
    proof: KeyProofIn | None = Field(
        default=None, description="the answer to a challenge from POST /keys/challenges (required)"
    )


class ChallengeIn(Schema):
    purpose: str = Field(pattern="^(signing|encryption)$")
    public_key: str = Field(min_length=1, max_length=4000, description="SPKI, PEM or base64 DER")


class ChallengeOut(Schema):
    challenge: str
    statement: str = Field(description="base64 of the canonical JSON statement (etender-key-proof-v1)")
    sealed: str | None = Field(
        description="encryption key: base64 HPKE envelope of 32 secret bytes; null for a signing key"
    )
    expires_at: dt.datetime


class CertificateIn(Schema):
    certificate: str = Field(min_length=1, max_length=20000, description="X.509 certificate, PEM")


class KeyOut(Schema):
    id: int
    purpose: str
    algorithm: str
    fingerprint: str
    label: str
    registered_at: dt.datetime
    revoked_at: dt.datetime | None
    public_key: str
    certificate: str | None = Field(description="the key CA's certificate for this key, PEM")
    proof_statement: str = Field(description="base64 of the proof-of-possession statement it was registered with")
    proof_signature: str | None = Field(description="signing key: base64 DER signature over proof_statement")


class KeyCaOut(Schema):
    certificates: list[str] = Field(
        description="PEM; informative only: clients take trust from their own list, never from here"
    )


def _b64(data: bytes | memoryview) -> str:
    return base64.b64encode(bytes(data)).decode("ascii")


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
        "certificate": key_certificates.certificate_pem(key.certificate_der) if key.certificate_der else None,
        "proof_statement": _b64(key.proof_statement),
        "proof_signature": _b64(key.proof) if key.purpose == "signing" and key.proof else None,
    }


def _public_key_text(text: str) -> str | bytes:
    """PEM as it is; base64 SPKI (what WebCrypto exports) as its DER bytes."""
    if text.lstrip().startswith("-----BEGIN"):
        return text
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return text  # load_p256_spki refuses it with its own message


@router.post(
    "/tokens", auth=PasswordAuth(), response={201: TokenOut}, summary="Obtain an API token with username and password"
)
def create_token(request: HttpRequest, payload: TokenIn) -> Status[Any]:
    plaintext, token = services.issue_api_token(request.auth, payload.name)  # type: ignore[attr-defined]
    return Status(201, {"token": plaintext, "name": token.name, "expires_at": token.expires_at})


@router.post(
    "/tokens/current/revoke", auth=bearer, response={204: None}, summary="Revoke the token this request presents"
)
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


@router.post(
    "/keys/challenges",
    auth=AUTHENTICATED,
    response={201: ChallengeOut},
    summary="A one-time challenge to prove you hold a key you register",
)
def key_challenge(request: HttpRequest, payload: ChallengeIn) -> Status[Any]:
    issued = services.issue_key_challenge(actor(request), payload.purpose, _public_key_text(payload.public_key))
    return Status(
        201,
        {
            "challenge": issued.challenge,
            "statement": _b64(issued.statement),
            "sealed": _b64(issued.sealed) if issued.sealed is not None else None,
            "expires_at": issued.expires_at,
        },
    )


@router.post("/keys", auth=AUTHENTICATED, response={201: KeyOut}, summary="Register a key with its proof of possession")
def register_key(request: HttpRequest, payload: KeyIn) -> Status[Any]:
    proof = services.KeyProof.from_json(payload.proof.model_dump()) if payload.proof is not None else None
    key = services.register_public_key(
        actor(request), payload.purpose, _public_key_text(payload.public_key), payload.label, proof=proof
    )
    return Status(201, _key_out(key))


@router.post(
    "/keys/{fingerprint}/certificate",
    auth=AUTHENTICATED,
    response=KeyOut,
    summary="Attach the key CA's certificate to your key",
)
def attach_certificate(request: HttpRequest, fingerprint: str, payload: CertificateIn) -> dict[str, Any]:
    return _key_out(services.attach_certificate(actor(request), fingerprint, payload.certificate))


@router.post("/keys/{key_id}/revoke", auth=AUTHENTICATED, response=KeyOut)
def revoke_key(request: HttpRequest, key_id: int) -> dict[str, Any]:
    key = PublicKey.objects.filter(pk=key_id).first()
    if key is None:
        raise NotFound(_("找不到该公钥。"))
    if key.owner_id != actor(request).pk:
        raise PermissionDenied(_("只能撤销自己的公钥。"))
    return _key_out(services.revoke_public_key(actor(request), key))


pki_router = Router(tags=["accounts"])


@pki_router.get(
    "/key-ca",
    auth=None,
    response=KeyCaOut,
    summary="The key CA certificates this platform is configured with (informative)",
)
def key_ca_certificates(request: HttpRequest) -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization

    return {
        "certificates": [c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in key_ca.trusted_anchors()]
    }
