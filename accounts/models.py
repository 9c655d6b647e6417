"""Users, organizations, roles, registered public keys and API tokens."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts import credit_code


class OrganizationKind(models.TextChoices):
    TENDERER = "tenderer", _("招标人")
    AGENCY = "agency", _("招标代理机构")
    BIDDER = "bidder", _("投标人")
    REGULATOR = "regulator", _("行政监督部门")
    PLATFORM = "platform", _("平台运营方")


class Role(models.TextChoices):
    TENDERER_STAFF = "tenderer_staff", _("招标人经办人")
    AGENCY_STAFF = "agency_staff", _("代理机构经办人")
    BIDDER = "bidder", _("投标人")
    CUSTODIAN = "custodian", _("密钥保管人")
    EXPERT = "expert", _("评标专家")
    REGULATOR = "regulator", _("监督人员")
    PLATFORM_ADMIN = "platform_admin", _("平台管理员")


# Which organization kinds a role may belong to (None: no organization needed).
ROLE_ORGANIZATION_KINDS: dict[str, set[str | None]] = {
    Role.TENDERER_STAFF: {OrganizationKind.TENDERER},
    Role.AGENCY_STAFF: {OrganizationKind.AGENCY},
    Role.BIDDER: {OrganizationKind.BIDDER},
    Role.CUSTODIAN: {
        OrganizationKind.TENDERER,
        OrganizationKind.AGENCY,
        OrganizationKind.REGULATOR,
        OrganizationKind.PLATFORM,
        None,
    },
    Role.EXPERT: {None, OrganizationKind.PLATFORM},
    Role.REGULATOR: {OrganizationKind.REGULATOR},
    Role.PLATFORM_ADMIN: {OrganizationKind.PLATFORM, None},
}


def validate_credit_code(value: str) -> None:
    try:
        credit_code.validate(value)
    except credit_code.InvalidCreditCode as exc:
        raise ValidationError(
            _("统一社会信用代码无效：%(reason)s"), code="invalid_credit_code", params={"reason": str(exc)}
        ) from None


class Organization(models.Model):
    name = models.CharField(_("名称"), max_length=200)
    kind = models.CharField(_("类别"), max_length=20, choices=OrganizationKind.choices)
    credit_code = models.CharField(
        _("统一社会信用代码"),
        max_length=18,
        unique=True,
        null=True,
        blank=True,
        validators=[validate_credit_code],
        help_text=_("18 位，含校验码；投标人必填"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("机构")
        verbose_name_plural = _("机构")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.credit_code:
            self.credit_code = credit_code.normalize(self.credit_code)
        if self.kind == OrganizationKind.BIDDER and not self.credit_code:
            raise ValidationError({"credit_code": _("投标人必须填写统一社会信用代码。")})


class User(AbstractUser):
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("所属机构"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
    )
    display_name = models.CharField(_("姓名"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.display_name or self.username

    def has_role(self, role: str) -> bool:
        if not self.is_authenticated or not self.is_active:
            return False
        cached: set[str] | None = getattr(self, "_role_cache", None)
        if cached is None:
            cached = set(self.role_grants.values_list("role", flat=True))
            self._role_cache = cached
        return role in cached

    @property
    def roles(self) -> set[str]:
        self.has_role("")  # fills the cache
        return set(self._role_cache)


class RoleGrant(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices)
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="unique_role_per_user")]
        verbose_name = _("角色授予")
        verbose_name_plural = _("角色授予")

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()}"


class KeyPurpose(models.TextChoices):
    SIGNING = "signing", _("签名")
    ENCRYPTION = "encryption", _("加密")


class PublicKey(models.Model):
    """A P-256 public key a user made on their own device and registered here.

    The platform only ever sees the public half (SubjectPublicKeyInfo, DER).
    """

    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="public_keys")
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="public_keys"
    )
    purpose = models.CharField(_("用途"), max_length=20, choices=KeyPurpose.choices)
    algorithm = models.CharField(max_length=20, default="ECDSA-P256")
    spki_der = models.BinaryField()
    fingerprint = models.CharField(_("指纹 (SHA-256)"), max_length=64, unique=True)
    label = models.CharField(_("备注"), max_length=100, blank=True)
    registered_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The proof of possession it was registered with (docs/custody.md §A): the
    # statement the platform issued and the owner's answer (a signing key's DER
    # signature over the statement, which anyone can re-check; an encryption key's
    # opened secret, worthless once used). Empty for keys registered before proofs.
    proof_statement = models.BinaryField(default=b"", blank=True)
    proof = models.BinaryField(default=b"", blank=True)
    # An X.509 certificate (DER) of the trading centre's CA for exactly this key
    # (docs/custody.md §B); what clients trust, not the platform's word.
    certificate_der = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["-registered_at"]
        verbose_name = _("公钥")
        verbose_name_plural = _("公钥")

    def __str__(self) -> str:
        return f"{self.owner} {self.purpose} {self.fingerprint[:16]}"

    @staticmethod
    def fingerprint_of(spki_der: bytes) -> str:
        return hashlib.sha256(spki_der).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def pem(self) -> str:
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_der_public_key(bytes(self.spki_der))
        return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class KeyChallenge(models.Model):
    """A one-time challenge for registering one key (proof of possession, docs/custody.md §A).

    Bound to the user, the purpose and the key's fingerprint; single use; short-lived.
    Only hashes of what answers it are kept: the challenge id's, and for an encryption
    key the sealed secret's, so a copy of the database answers nothing.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="key_challenges")
    purpose = models.CharField(max_length=20, choices=KeyPurpose.choices)
    fingerprint = models.CharField(max_length=64)
    challenge_hash = models.CharField(max_length=64, unique=True)
    statement = models.BinaryField()
    secret_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("密钥登记挑战")
        verbose_name_plural = _("密钥登记挑战")

    def __str__(self) -> str:
        return f"{self.user} {self.purpose} {self.fingerprint[:16]}"


class ApiToken(models.Model):
    """A bearer token for programs (the bidder's CLI). Only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.user} {self.name} ({self.prefix}…)"

    @staticmethod
    def hash_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
