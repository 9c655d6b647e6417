"""Changes to accounts: key registration and API tokens."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts import key_ca, key_certificates
from accounts.errors import Conflict, DomainError, NotFound, PermissionDenied
from accounts.models import ApiToken, KeyChallenge, KeyPurpose, PublicKey, User
from accounts.signals import public_key_certified, public_key_registered, public_key_revoked
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
                raise DomainError(
                    _("这是私钥，请只上传公钥（私钥永远不要离开您的设备）。"), code="private_key_uploaded"
                )
            key = serialization.load_pem_public_key(raw)
        else:
            key = serialization.load_der_public_key(raw)
    except DomainError:
        raise
    except (ValueError, TypeError):
        raise DomainError(
            _("无法解析公钥：需要 PEM 或 DER 格式的 SubjectPublicKeyInfo。"), code="invalid_public_key"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise DomainError(_("只接受 P-256 (secp256r1) 椭圆曲线公钥。"), code="unsupported_key_type")
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# --- Proof of possession (docs/custody.md §A) ------------------------------------------

PROOF_FORMAT = "etender-key-proof-v1"
CHALLENGE_LIFETIME = dt.timedelta(minutes=10)
MAX_OPEN_CHALLENGES = 20  # per user, unanswered and not expired
# The suite of the bid envelopes (docs/sealed-bid-format.md §4): a client that opens
# envelopes opens this too. Sealed secret: 32 bytes → a 113-byte envelope.
_PROOF_SUITE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_SECRET_SIZE = 32
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class KeyProofInvalid(DomainError):
    """The key's proof of possession is missing, expired, used, for another key or user, or wrong."""

    code = "key_proof_invalid"
    status = 422


@dataclass(frozen=True)
class IssuedChallenge:
    """What the client gets once: the challenge id is never stored, only its hash."""

    challenge: str
    statement: bytes
    sealed: bytes | None
    expires_at: dt.datetime


@dataclass(frozen=True)
class KeyProof:
    """The client's answer: a signing key's DER signature over the statement, or an encryption key's opened secret."""

    challenge: str
    signature: bytes | None = None
    secret: bytes | None = None

    @classmethod
    def from_json(cls, value: object) -> KeyProof:
        """``{"challenge", "signature"}`` or ``{"challenge", "nonce"}`` with base64 values (formats A.2)."""
        if not isinstance(value, dict) or not isinstance(value.get("challenge"), str):
            raise KeyProofInvalid(_("缺少密钥持有证明：请先申请挑战，并用私钥在您自己的设备上应答。"))

        def decoded(name: str) -> bytes | None:
            text = value.get(name)
            if text is None:
                return None
            if not isinstance(text, str):
                raise KeyProofInvalid(_("密钥持有证明的格式不正确。"))
            try:
                return base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise KeyProofInvalid(_("密钥持有证明的格式不正确。")) from None

        return cls(challenge=value["challenge"], signature=decoded("signature"), secret=decoded("nonce"))


def proof_statement(user: User, purpose: str, fingerprint: str, nonce: str) -> bytes:
    """The statement a key's owner signs (formats A.1): RFC 8785 canonical JSON, ASCII."""
    organization = (
        user.organization.credit_code if user.organization is not None and user.organization.credit_code else ""
    )
    return rfc8785.dumps(
        {
            "format": PROOF_FORMAT,
            "purpose": purpose,
            "fingerprint": fingerprint,
            "user": user.username,
            "organization": organization,
            "nonce": nonce,
        }
    )


def proof_secret_info(fingerprint: str) -> bytes:
    return f"{PROOF_FORMAT}|{fingerprint}".encode("ascii")


def _hash(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


def _require_signed_in(user: User) -> None:
    if not user.is_authenticated or not user.is_active:
        raise PermissionDenied(_("请先登录。"))


def _checked_key(user: User, purpose: str, public_key: bytes | str) -> tuple[bytes, str]:
    _require_signed_in(user)
    if purpose not in KeyPurpose.values:
        raise DomainError(_("用途必须是 signing 或 encryption。"), code="invalid_purpose")
    der = load_p256_spki(public_key)
    fingerprint = PublicKey.fingerprint_of(der)
    if PublicKey.objects.filter(fingerprint=fingerprint).exists():
        raise Conflict(_("此公钥已登记过。"), code="key_already_registered")
    return der, fingerprint


@transaction.atomic
def issue_key_challenge(user: User, purpose: str, public_key: bytes | str) -> IssuedChallenge:
    """A one-time challenge for registering ``public_key``: a statement to sign, or a secret sealed to the key.

    An encryption key cannot sign, so it proves itself by opening a secret sealed
    to it. The secret is NOT the statement's nonce (which the client is shown): it
    is separate random bytes, of which only the hash is stored.
    """
    der, fingerprint = _checked_key(user, purpose, public_key)
    now = clock.now()
    # Expired challenges answer nothing: drop them. Live ones are capped, so no one fills the table.
    KeyChallenge.objects.filter(user=user, expires_at__lte=now).delete()
    if KeyChallenge.objects.filter(user=user, used_at__isnull=True).count() >= MAX_OPEN_CHALLENGES:
        raise DomainError(_("未应答的挑战过多，请在 10 分钟后再试。"), code="too_many_key_challenges", status=429)
    challenge = secrets.token_urlsafe(32)
    statement = proof_statement(user, purpose, fingerprint, secrets.token_hex(32))
    sealed = None
    secret_hash = ""
    if purpose == KeyPurpose.ENCRYPTION:
        secret = secrets.token_bytes(_SECRET_SIZE)
        recipient = serialization.load_der_public_key(der)
        assert isinstance(recipient, ec.EllipticCurvePublicKey)  # load_p256_spki checked it
        sealed = _PROOF_SUITE.encrypt(secret, recipient, proof_secret_info(fingerprint))
        secret_hash = _hash(secret)
    KeyChallenge.objects.create(
        user=user,
        purpose=purpose,
        fingerprint=fingerprint,
        challenge_hash=_hash(challenge.encode("ascii")),
        statement=statement,
        secret_hash=secret_hash,
        created_at=now,
        expires_at=now + CHALLENGE_LIFETIME,
    )
    return IssuedChallenge(challenge=challenge, statement=statement, sealed=sealed, expires_at=now + CHALLENGE_LIFETIME)


def strict_der_signature(signature: bytes) -> bool:
    """Is this ECDSA P-256 signature in DER exactly (minimal, r and s in 1..n-1), as the manifest's?"""
    try:
        r, s = decode_dss_signature(bytes(signature))
    except (ValueError, TypeError):
        return False
    return 0 < r < _P256_ORDER and 0 < s < _P256_ORDER and encode_dss_signature(r, s) == bytes(signature)


def verify_signature(spki_der: bytes, data: bytes, signature: bytes) -> bool:
    """ECDSA P-256/SHA-256 with a registered key's SPKI; a loose encoding is refused as the manifest's is."""
    if not strict_der_signature(signature):
        return False
    key = serialization.load_der_public_key(bytes(spki_der))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(bytes(signature), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _check_proof(
    user: User, purpose: str, der: bytes, fingerprint: str, proof: KeyProof | None
) -> tuple[KeyChallenge, bytes]:
    """The challenge this proof answers, locked, and the answer to keep; ``KeyProofInvalid`` otherwise."""
    if proof is None:
        raise KeyProofInvalid(_("缺少密钥持有证明：请先申请挑战，并用私钥在您自己的设备上应答。"))
    challenge = (
        KeyChallenge.objects.select_for_update()
        .filter(challenge_hash=_hash(proof.challenge.encode("utf-8", "replace")))
        .first()
    )
    if challenge is None or challenge.user_id != user.pk:
        raise KeyProofInvalid(_("找不到该挑战：它不是发给您的，或从未签发。"))
    if challenge.used_at is not None:
        raise KeyProofInvalid(_("该挑战已使用过，请重新申请。"))
    if challenge.expires_at <= clock.now():
        raise KeyProofInvalid(_("该挑战已过期（有效期 10 分钟），请重新申请。"))
    if challenge.purpose != purpose or challenge.fingerprint != fingerprint:
        raise KeyProofInvalid(_("该挑战是为另一把公钥或另一用途签发的。"))
    if purpose == KeyPurpose.SIGNING:
        if proof.signature is None or not verify_signature(der, bytes(challenge.statement), proof.signature):
            raise KeyProofInvalid(_("签名无效：应答必须由所登记公钥对应的私钥对挑战声明签名。"))
        return challenge, proof.signature
    if proof.secret is None or not hmac.compare_digest(_hash(proof.secret), challenge.secret_hash):
        raise KeyProofInvalid(_("应答不符：必须用所登记公钥对应的私钥打开平台密封的随机数。"))
    return challenge, proof.secret


@transaction.atomic
def register_public_key(
    user: User, purpose: str, public_key: bytes | str, label: str = "", *, proof: KeyProof | None
) -> PublicKey:
    """Register a key its owner proved to hold (answering a challenge issued for exactly this key).

    Refusals store nothing, and leave the challenge usable until it expires. When the
    demo key CA is on (development, test) the key is certified at once.
    """
    _require_signed_in(user)
    if len(label) > 100:
        raise DomainError(_("备注不能超过 100 个字符。"), code="invalid_label")
    der, fingerprint = _checked_key(user, purpose, public_key)
    challenge, answer = _check_proof(user, purpose, der, fingerprint, proof)
    now = clock.now()
    challenge.used_at = now
    challenge.save(update_fields=["used_at"])
    key = PublicKey.objects.create(
        owner=user,
        organization=user.organization,
        purpose=purpose,
        spki_der=der,
        fingerprint=fingerprint,
        label=label,
        registered_at=now,
        proof_statement=bytes(challenge.statement),
        proof=answer,
        certificate_der=(
            key_certificates.certificate_der(key_ca.issue_demo_certificate(user, der))
            if settings.DEMO_KEY_CA_ENABLED
            else None
        ),
    )
    public_key_registered.send(sender=PublicKey, key=key, actor=user)
    return key


@transaction.atomic
def attach_certificate(user: User, fingerprint: str, certificate: bytes | str) -> PublicKey:
    """Attach the trading centre's CA certificate to one's own active key (docs/custody.md §B)."""
    _require_signed_in(user)
    key = PublicKey.objects.select_for_update().filter(fingerprint=fingerprint, owner=user).first()
    if key is None:
        raise NotFound(_("找不到该公钥。"))
    if key.revoked_at is not None:
        raise Conflict(_("此公钥已撤销。"), code="key_already_revoked")
    try:
        parsed = key_certificates.load_certificate(certificate)
        key_certificates.check_key_certificate(
            parsed,
            spki_der=bytes(key.spki_der),
            username=user.username,
            anchors=key_ca.trusted_anchors(),
            now=clock.now(),
        )
    except key_certificates.CertificateProblem as exc:
        raise DomainError(certificate_refusal(exc.code), code=exc.code, status=422) from None
    key.certificate_der = key_certificates.certificate_der(parsed)
    key.save(update_fields=["certificate_der"])
    public_key_certified.send(sender=PublicKey, key=key, actor=user)
    return key


def certificate_refusal(code: str) -> str:
    """The message for a ``CertificateProblem`` code, in the user's language."""
    messages = {
        "malformed": _("无法解析证书：需要一份 PEM 格式的 X.509 证书。"),
        "certificate_key_mismatch": _("证书中的公钥与此公钥不符。"),
        "certificate_wrong_subject": _("证书主题的 serialNumber 不是您的平台用户名。"),
        "certificate_not_valid_now": _("证书已过期或尚未生效。"),
        "certificate_is_ca": _("CA 证书不能作为个人密钥的证书。"),
        "certificate_untrusted": _("证书不是由平台配置的数字证书认证机构（CA）签发的。"),
    }
    return messages.get(code, _("证书无效。"))


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
    return (
        PublicKey.objects.filter(owner=user, purpose=purpose, revoked_at__isnull=True)
        .order_by("-registered_at")
        .first()
    )


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
        ApiToken.objects.filter(token_hash=ApiToken.hash_of(plaintext), revoked_at__isnull=True).update(
            revoked_at=clock.now()
        )
    )


@transaction.atomic
def revoke_api_token(user: User, token: ApiToken) -> None:
    if token.user_id != user.pk:
        raise PermissionDenied(_("只能撤销自己的令牌。"))
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=clock.now())
