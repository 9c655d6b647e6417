"""The append-only ledger: entries, their subtree hashes, the head pointer, signed checkpoints.

Rows are written by ``archive.ledger`` only. Entries, subtree hashes and
checkpoints are never changed or deleted: the ORM refuses it on every database,
and on PostgreSQL a trigger refuses it in the database too (migrations 0002 and
0004). docs/ledger.md has the exact bytes that are hashed and signed.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

hex64 = RegexValidator(r"\A[0-9a-f]{64}\Z", "64 lowercase hex digits")


class AppendOnlyError(Exception):
    """Someone tried to change or delete a ledger row."""


class AppendOnlyQuerySet(models.QuerySet):
    """Refuses the bulk paths that would change rows or bypass ``archive.ledger``."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model.__name__} rows cannot be updated: the ledger is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{self.model.__name__} rows cannot be deleted: the ledger is append-only")

    def bulk_create(self, *args: Any, **kwargs: Any) -> list[Any]:
        raise AppendOnlyError(f"{self.model.__name__} rows are appended one at a time by archive.ledger")

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model.__name__} rows cannot be updated: the ledger is append-only")


class AppendOnlyModel(models.Model):
    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding or kwargs.get("force_update") or kwargs.get("update_fields") is not None:
            raise AppendOnlyError(f"{type(self).__name__} {self.pk} cannot be changed: the ledger is append-only")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{type(self).__name__} {self.pk} cannot be deleted: the ledger is append-only")


class LedgerEntry(AppendOnlyModel):
    """One event of significance, chained to the one before it (账本条目)."""

    seq = models.BigIntegerField(_("序号"), unique=True)
    case = models.CharField(_("案卷"), max_length=100, db_index=True, help_text="e.g. tender:42")
    action = models.CharField(_("事件"), max_length=100, help_text="e.g. tendering.bid.submitted")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_label = models.CharField(_("操作人账号"), max_length=150, blank=True, help_text="username at the time")
    data = models.TextField(_("数据"), help_text="canonical JSON (RFC 8785)")
    recorded_at = models.DateTimeField(_("记录时间"))
    prev_hash = models.CharField(max_length=64, validators=[hex64])
    entry_hash = models.CharField(max_length=64, unique=True, validators=[hex64])
    leaf_hash = models.CharField(max_length=64, validators=[hex64])

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        verbose_name = _("账本条目")
        verbose_name_plural = _("账本条目")
        constraints = [models.CheckConstraint(condition=models.Q(seq__gte=1), name="ledger_entry_seq_positive")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} ({self.case})"


class LedgerSubtree(AppendOnlyModel):
    """The hash of a perfect subtree of the Merkle tree: the 2**level entries that end with entry ``seq``.

    Written with the entry that completes it (when 2**level divides ``seq``),
    one row per append on average; level 0 is the entry's own ``leaf_hash``. Any
    proof is folded from O(log n) of them (docs/ledger.md §3). Derived data: the
    verifier recomputes every row from the entries.
    """

    pk = models.CompositePrimaryKey("seq", "level")
    seq = models.BigIntegerField(_("最后条目序号"))
    level = models.PositiveSmallIntegerField(_("层"))
    hash = models.BinaryField(_("哈希"), max_length=32)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["seq", "level"]
        verbose_name = _("账本子树哈希")
        verbose_name_plural = _("账本子树哈希")
        constraints = [
            models.CheckConstraint(condition=models.Q(level__gte=1, level__lte=62), name="ledger_subtree_level"),
            models.CheckConstraint(condition=models.Q(seq__gte=2), name="ledger_subtree_seq"),
        ]

    def __str__(self) -> str:
        return f"subtree {self.seq - (1 << self.level) + 1}..{self.seq}"


class LedgerHead(models.Model):
    """The last appended entry; its row lock serializes appends.

    A convenience for writers only: the verifier never trusts it. ``frontier``
    holds the hashes of the perfect subtrees that make up entries 1..seq (the
    largest first, 32 bytes each), from which an append computes the subtree
    hashes it completes.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    entry_hash = models.CharField(max_length=64)
    frontier = models.BinaryField(default=b"", blank=True)

    class Meta:
        verbose_name = _("账本头")
        verbose_name_plural = _("账本头")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="ledger_head_single_row")]

    def __str__(self) -> str:
        return f"ledger head #{self.seq}"


class LedgerCheckpoint(AppendOnlyModel):
    """A signed statement of the tree's size and root (签名检查点)."""

    tree_size = models.BigIntegerField(_("条目数"), unique=True)
    root_hash = models.CharField(_("根哈希"), max_length=64, validators=[hex64])
    created_at = models.DateTimeField(_("时间"))
    signature = models.TextField(
        _("签名"), help_text="base64 of the DER ECDSA-SHA256 signature over the checkpoint body"
    )
    certificate_pem = models.TextField(_("证书"))
    certificate_fingerprint = models.CharField(_("证书指纹 (SHA-256)"), max_length=64, validators=[hex64])
    timestamp = models.TextField(
        _("时间戳"),
        blank=True,
        default="",
        help_text=(
            "base64 of the RFC 3161 time-stamp token over the DER signature; "
            "empty for checkpoints made before time-stamping"
        ),
    )

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["tree_size"]
        get_latest_by = "tree_size"
        verbose_name = _("账本检查点")
        verbose_name_plural = _("账本检查点")
        constraints = [
            models.CheckConstraint(condition=models.Q(tree_size__gte=1), name="ledger_checkpoint_size_positive")
        ]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size} {self.root_hash[:16]}"


class CaseObject(AppendOnlyModel):
    """One object filed in a case (案卷登记): the case file's registry, written by ``archive.cases`` only.

    The apps file their records into their case as they make them (a published tender document, an accepted
    bid's ciphertext, the opening record, the evaluation report), so that closing a case reads this registry
    instead of collecting. Each row names the exact version of the object and its SHA-256, and the ledger
    entry (``archive.case.object_filed``) that recorded the filing. Rows are never changed or deleted (the ORM
    refuses; on PostgreSQL a trigger too, migration 0005).
    """

    case = models.CharField(_("案卷"), max_length=100, db_index=True, help_text="e.g. tender:42")
    name = models.CharField(
        _("卷内名称"), max_length=400, help_text="its path in the case and the dossier, e.g. opening/opening-record.pdf"
    )
    object_key = models.CharField(_("对象键"), max_length=1024)
    version_id = models.CharField(_("对象版本"), max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, validators=[hex64])
    size = models.PositiveBigIntegerField(_("字节数"))
    content_type = models.CharField(_("类型"), max_length=100)
    platform_signed = models.BooleanField(
        _("平台签章"), default=False, help_text="a PDF the platform signed (PAdES): its signature must hold"
    )
    filed_at = models.DateTimeField(_("归档时间"))
    ledger_seq = models.BigIntegerField(_("账本序号"), unique=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["case", "ledger_seq"]
        verbose_name = _("案卷对象")
        verbose_name_plural = _("案卷对象")
        constraints = [models.UniqueConstraint(fields=["case", "name"], name="case_object_name_once")]

    def __str__(self) -> str:
        return f"{self.case} {self.name}"


class CaseDossier(AppendOnlyModel):
    """A dossier filed for a case (案卷包): where it is, its SHA-256, and the ledger entry that recorded it.

    Written by ``archive.dossier.file_dossier`` only, never changed or deleted (migration 0006 puts the table
    under the ledger's append-only trigger on PostgreSQL). A case closed again (after a complaint, say) gets a
    new dossier; each is kept.
    """

    case = models.CharField(_("案卷"), max_length=100, db_index=True)
    object_key = models.CharField(_("对象键"), max_length=1024)
    version_id = models.CharField(_("对象版本"), max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, validators=[hex64])
    size = models.PositiveBigIntegerField(_("字节数"))
    objects_count = models.PositiveIntegerField(_("对象数"))
    tree_size = models.BigIntegerField(_("检查点条目数"))
    retention_mode = models.CharField(_("保留模式"), max_length=20)
    retain_until = models.DateTimeField(_("保留至"))
    filed_at = models.DateTimeField(_("归档时间"))
    ledger_seq = models.BigIntegerField(_("账本序号"), unique=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["case", "ledger_seq"]
        verbose_name = _("案卷包")
        verbose_name_plural = _("案卷包")

    def __str__(self) -> str:
        return f"{self.case} dossier {self.sha256[:16]}"
