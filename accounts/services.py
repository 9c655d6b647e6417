"""Changes to accounts: key registration and API tokens."""

from __future__ import annotations

import datetime as dt
import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, DomainError, PermissionDenied
from accounts.models import ApiToken, KeyPurpose, PublicKey, User
from accounts.signals import public_key_registered, public_key_revoked
from config import clock

TOKEN_PREFIX = "etk_"  # noqa: S105  (a public prefix, not a secret)


def load_p256_spki(data: bytes | str) -> bytes:
    """Parse a P-256 public key (SPKI, PEM or DER) and return its DER bytes.

    Anything else (another curve, RSA, a private key, garbage) is refused.
    """
    raw = data.encode() if isinstance(data, str) else data
    try:
        if raw.lstrip().startswith(b"-----BEGIN"):
            if b"PRIVATE KEY" in raw:
                raise DomainError(_("这是私钥，请只上传公钥（私钥永远不要离开您的设备）。"), code="private_key_uploaded")
            key = serialization.load_pem_public_key(raw)
        else:
            key = serialization.load_der_public_key(raw)
    except DomainError:
        raise
    except (ValueError, TypeError):
        raise DomainError(_("无法解析公钥：需要 PEM 或 DER 格式的 SubjectPublicKeyInfo。"), code="invalid_public_key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise DomainError(_("只接受 P-256 (secp256r1) 椭圆曲线公钥。"), code="unsupported_key_type")
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@transaction.atomic
def register_public_key(user: User, purpose: str, public_key: bytes | str, label: str = "") -> PublicKey:
    if not user.is_authenticated or not user.is_active:
        raise PermissionDenied(_("请先登录。"))
    if purpose not in KeyPurpose.values:
        raise DomainError(_("用途必须是 signing 或 encryption。"), code="invalid_purpose")
    if len(label) > 100:
        raise DomainError(_("备注不能超过 100 个字符。"), code="invalid_label")
    der = load_p256_spki(public_key)
    fingerprint = PublicKey.fingerprint_of(der)
    if PublicKey.objects.filter(fingerprint=fingerprint).exists():
        raise Conflict(_("此公钥已登记过。"), code="key_already_registered")
    key = PublicKey.objects.create(
        owner=user,
        organization=user.organization,
        purpose=purpose,
        spki_der=der,
        fingerprint=fingerprint,
        label=label,
        registered_at=clock.now(),
    )
    public_key_registered.send(sender=PublicKey, key=key, actor=user)
    return key


@transaction.atomic
def revoke_public_key(user: User, key: PublicKey) -> PublicKey:
    key = PublicKey.objects.select_for_update().get(pk=key.pk)
    if key.owner_id != user.pk:
        raise PermissionDenied(_("只能撤销自己的公钥。"))
    if key.revoked_at is not None:
        raise Conflict(_("此公钥已撤销。"), code="key_already_revoked")
    key.revoked_at = clock.now()
    key.save(update_fields=["revoked_at"])
    public_key_revoked.send(sender=PublicKey, key=key, actor=user)
    return key


def active_key(user: User, purpose: str) -> PublicKey | None:
    return PublicKey.objects.filter(owner=user, purpose=purpose, revoked_at__isnull=True).order_by("-registered_at").first()


@transaction.atomic
def issue_api_token(user: User, name: str, ttl_days: int | None = None) -> tuple[str, ApiToken]:
    """Create a token; the plaintext is returned once and never stored."""
    if not user.is_authenticated or not user.is_active:
        raise PermissionDenied(_("请先登录。"))
    name = name.strip()
    if not name or len(name) > 100:
        raise DomainError(_("令牌名称必须为 1 到 100 个字符。"), code="invalid_token_name")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=plaintext[: len(TOKEN_PREFIX) + 6],
        token_hash=ApiToken.hash_of(plaintext),
        created_at=now,
        expires_at=now + dt.timedelta(days=ttl_days or settings.API_TOKEN_TTL_DAYS),
    )
    return plaintext, token


def user_for_token(plaintext: str) -> User | None:
    """The active user a bearer token belongs to, or None for a forged, expired or revoked token."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 100:
        return None
    token = ApiToken.objects.select_related("user").filter(token_hash=ApiToken.hash_of(plaintext)).first()
    now = clock.now()
    if token is None or token.revoked_at is not None or token.expires_at <= now or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


@transaction.atomic
def revoke_presented_token(plaintext: str) -> bool:
    """Revoke the token a program presents (its ``logout``); False if it was not a live token."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 100:
        return False
    return bool(
        ApiToken.objects.filter(token_hash=ApiToken.hash_of(plaintext), revoked_at__isnull=True).update(revoked_at=clock.now())
    )


@transaction.atomic
def revoke_api_token(user: User, token: ApiToken) -> None:
    if token.user_id != user.pk:
        raise PermissionDenied(_("只能撤销自己的令牌。"))
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=clock.now())
