"""Tenders, their documents, questions, amendments and the records around them."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization


class ProcedureType(models.TextChoices):
    OPEN = "open", _("公开招标")
    INVITED = "invited", _("邀请招标")
    NEGOTIATION = "negotiation", _("竞争性谈判")
    CONSULTATION = "consultation", _("竞争性磋商")
    INQUIRY = "inquiry", _("询价")


class EvaluationMethod(models.TextChoices):
    COMPREHENSIVE = "comprehensive", _("综合评估法")
    LOWEST_PRICE = "lowest_price", _("经评审的最低投标价法")


class Phase(models.TextChoices):
    DRAFT = "draft", _("草稿")
    OPEN_FOR_BIDS = "open_for_bids", _("投标中")
    CLOSED = "closed", _("投标已截止")
    OPENING = "opening", _("开标中")
    EVALUATION = "evaluation", _("评标中")
    PUBLICITY = "publicity", _("中标候选人公示")
    AWARDED = "awarded", _("已定标")
    FILED = "filed", _("已归档")


class Tender(models.Model):
    """One procurement (招标项目). Its phase is derived from the clock and a few explicit moments."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("招标编号"), max_length=50, unique=True)
    title = models.CharField(_("项目名称"), max_length=200)
    description = models.TextField(_("项目概况"), blank=True)
    procedure_type = models.CharField(_("招标方式"), max_length=20, choices=ProcedureType.choices)
    tenderer = models.ForeignKey(Organization, verbose_name=_("招标人"), on_delete=models.PROTECT, related_name="tenders")
    agency = models.ForeignKey(
        Organization, verbose_name=_("招标代理机构"), on_delete=models.PROTECT, null=True, blank=True, related_name="agency_tenders"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    budget = models.DecimalField(_("预算金额（元）"), max_digits=16, decimal_places=2)
    bid_deadline = models.DateTimeField(_("投标截止时间"))
    opening_time = models.DateTimeField(_("开标时间"))
    enquiry_deadline = models.DateTimeField(_("提问截止时间"))
    evaluation_method = models.CharField(_("评标办法"), max_length=20, choices=EvaluationMethod.choices)
    # Filled by the evaluation issue (weights, items, price formula).
    evaluation_criteria = models.JSONField(_("评分标准"), default=dict, blank=True)
    custodian_threshold = models.PositiveSmallIntegerField(_("开启门限 k"), default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    opening_closed_at = models.DateTimeField(null=True, blank=True)
    candidates_published_at = models.DateTimeField(null=True, blank=True)
    awarded_at = models.DateTimeField(null=True, blank=True)
    filed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-published_at", "-created_at"]
        verbose_name = _("招标项目")
        verbose_name_plural = _("招标项目")
        constraints = [
            models.CheckConstraint(condition=models.Q(opening_time__gte=models.F("bid_deadline")), name="opening_not_before_deadline"),
            models.CheckConstraint(condition=models.Q(enquiry_deadline__lte=models.F("bid_deadline")), name="enquiry_not_after_deadline"),
            models.CheckConstraint(condition=models.Q(budget__gt=0), name="budget_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def case(self) -> str:
        """The ledger case this tender's records belong to."""
        return f"tender:{self.pk}"

    def phase(self, now: dt.datetime) -> Phase:
        if self.published_at is None:
            return Phase.DRAFT
        if self.filed_at is not None:
            return Phase.FILED
        if self.awarded_at is not None:
            return Phase.AWARDED
        if self.candidates_published_at is not None:
            return Phase.PUBLICITY
        if self.opening_closed_at is not None:
            return Phase.EVALUATION
        if now >= self.opening_time:
            return Phase.OPENING
        if now >= self.bid_deadline:
            return Phase.CLOSED
        return Phase.OPEN_FOR_BIDS

    def enquiry_open(self, now: dt.datetime) -> bool:
        return self.phase(now) == Phase.OPEN_FOR_BIDS and now < self.enquiry_deadline


class Lot(models.Model):
    """A lot (标段) of a tender."""

    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="lots")
    number = models.PositiveSmallIntegerField(_("标段号"))
    name = models.CharField(_("标段名称"), max_length=200)
    budget = models.DecimalField(_("标段预算（元）"), max_digits=16, decimal_places=2)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["tender", "number"], name="unique_lot_number")]

    def __str__(self) -> str:
        return f"{self.number}. {self.name}"


class TenderCustodian(models.Model):
    """One of the n custodians (密钥保管人) named by a tender."""

    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="custodian_slots")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="custodian_slots")
    position = models.PositiveSmallIntegerField()
    # The encryption key fixed at publication (bids seal to exactly these keys).
    public_key = models.ForeignKey("accounts.PublicKey", on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["tender", "user"], name="unique_custodian_per_tender"),
            models.UniqueConstraint(fields=["tender", "position"], name="unique_custodian_position"),
        ]

    def __str__(self) -> str:
        return f"{self.tender.number} #{self.position} {self.user}"


class Amendment(models.Model):
    """A change to the tender documents after publication (澄清或修改)."""

    tender = models.ForeignKey(Tender, on_delete=models.PROTECT, related_name="amendments")
    number = models.PositiveSmallIntegerField(_("序号"))
    summary = models.TextField(_("澄清或修改内容"))
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    previous_deadline = models.DateTimeField()
    new_deadline = models.DateTimeField(null=True, blank=True)
    new_opening_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["tender", "number"], name="unique_amendment_number")]

    def __str__(self) -> str:
        return f"{self.tender.number} amendment {self.number}"


class TenderDocument(models.Model):
    """A tender document (招标文件) held in the object store; its SHA-256 is in the ledger."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tender = models.ForeignKey(Tender, on_delete=models.PROTECT, related_name="documents")
    amendment = models.ForeignKey(Amendment, on_delete=models.PROTECT, null=True, blank=True, related_name="documents")
    name = models.CharField(_("文件名"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    object_key = models.CharField(max_length=1024)
    version_id = models.CharField(max_length=200, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField()
    # Set when a draft document is removed before publication (never after).
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["uploaded_at", "pk"]

    def __str__(self) -> str:
        return self.name


class DocumentDownload(models.Model):
    """A logged-in user's download of a tender document (recorded for amendment notices)."""

    document = models.ForeignKey(TenderDocument, on_delete=models.PROTECT, related_name="downloads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="document_downloads")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    downloaded_at = models.DateTimeField()

    class Meta:
        ordering = ["-downloaded_at"]

    def __str__(self) -> str:
        return f"{self.document} ↓ {self.user}"


class Question(models.Model):
    """A bidder's question (答疑). Answers are public; the asker is never shown."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tender = models.ForeignKey(Tender, on_delete=models.PROTECT, related_name="questions")
    text = models.TextField(_("问题"))
    asked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    asked_at = models.DateTimeField()
    answer = models.TextField(_("答复"), blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["asked_at", "pk"]

    def __str__(self) -> str:
        return self.text[:50]


class NotificationKind(models.TextChoices):
    AMENDMENT = "amendment", _("澄清或修改")


class Notification(models.Model):
    """A notice on a user's dashboard (e.g. an amendment to documents they downloaded).

    Stored as a kind and parameters, and worded when shown, in the reader's language.
    """

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=50, choices=NotificationKind.choices)
    params = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.recipient}: {self.kind}"

    @property
    def message(self) -> str:
        from django.utils.translation import gettext

        from config.clock import local_text

        if self.kind == NotificationKind.AMENDMENT:
            text = gettext("您下载过的招标文件《%(title)s》已发布第 %(n)d 号澄清或修改，请查看并按新文件准备投标。") % {
                "title": self.tender.title,
                "n": self.params.get("number", 0),
            }
            if self.params.get("new_deadline"):
                moment = dt.datetime.fromisoformat(self.params["new_deadline"])
                text += " " + gettext("投标截止时间已顺延至 %(when)s。") % {"when": local_text(moment)}
            return text
        return self.kind


class BidUploadState(models.TextChoices):
    OPEN = "open", _("上传中")
    FINALIZED = "finalized", _("已提交")
    ABORTED = "aborted", _("已放弃")
    EXPIRED = "expired", _("截止时未完成")


class BidUpload(models.Model):
    """A sealed bid arriving part by part straight into the object store (S3 multipart).

    Parts must arrive in order; an interrupted client asks which parts were
    confirmed and continues from there. Nothing here can be read before the
    opening: the bytes are ciphertext.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tender = models.ForeignKey(Tender, on_delete=models.PROTECT, related_name="bid_uploads")
    bidder = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="bid_uploads")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    bid_id = models.UUIDField(unique=True)
    object_key = models.CharField(max_length=1024)
    store_upload_id = models.CharField(max_length=1024)
    declared_size = models.PositiveBigIntegerField()
    part_size = models.PositiveIntegerField()
    received_parts = models.PositiveIntegerField(default=0)
    received_bytes = models.PositiveBigIntegerField(default=0)
    state = models.CharField(max_length=20, choices=BidUploadState.choices, default=BidUploadState.OPEN)
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"upload {self.public_id} ({self.state})"

    @property
    def expected_parts(self) -> int:
        return max(1, -(-self.declared_size // self.part_size))


class BidUploadPart(models.Model):
    upload = models.ForeignKey(BidUpload, on_delete=models.CASCADE, related_name="parts")
    number = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    etag = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["upload", "number"], name="unique_part_number")]

    def __str__(self) -> str:
        return f"{self.upload_id} part {self.number}"


class BidStatus(models.TextChoices):
    ACCEPTED = "accepted", _("已受理")
    WITHDRAWN = "withdrawn", _("已撤回")
    SUPERSEDED = "superseded", _("已被替换")


class Bid(models.Model):
    """A sealed bid (投标文件) accepted before the deadline. Its public id is the bid id in the manifest."""

    public_id = models.UUIDField(unique=True)
    tender = models.ForeignKey(Tender, on_delete=models.PROTECT, related_name="bids")
    bidder = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="bids")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    upload = models.OneToOneField(BidUpload, on_delete=models.PROTECT, related_name="bid")
    signing_key = models.ForeignKey("accounts.PublicKey", on_delete=models.PROTECT, related_name="+")
    manifest = models.BinaryField()
    signature = models.BinaryField()
    object_key = models.CharField(max_length=1024)
    version_id = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    key_commitment = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=BidStatus.choices, default=BidStatus.ACCEPTED)
    accepted_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    ledger_seq = models.PositiveBigIntegerField()
    # Issued right after acceptance, outside the locks (empty until the time-stamp authority answered).
    receipt = models.BinaryField(default=b"", blank=True)

    class Meta:
        ordering = ["accepted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tender", "bidder"], condition=models.Q(status="accepted"), name="one_accepted_bid_per_bidder"
            )
        ]

    def __str__(self) -> str:
        return f"bid {self.public_id} ({self.status})"
