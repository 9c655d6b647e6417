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


class UnreleasedBidRule(models.TextChoices):
    """What becomes of a bid whose bidder did not release its key in the decryption window."""

    CUSTODIANS = "custodians", _("由密钥保管人解密")
    REVOKED = "revoked", _("视为撤销投标")


class Phase(models.TextChoices):
    DRAFT = "draft", _("草稿")
    OPEN_FOR_BIDS = "open_for_bids", _("投标中")
    CLOSED = "closed", _("投标已截止")
    OPENING = "opening", _("开标中")
    EVALUATION = "evaluation", _("评标中")
    # The evaluation report is signed: the candidates wait for their publicity (公示).
    CANDIDATES = "candidates", _("中标候选人待公示")
    PUBLICITY = "publicity", _("中标候选人公示")
    AWARDED = "awarded", _("已定标")
    FILED = "filed", _("已归档")
    # Fewer than three valid bids (招标投标法 Art 28, 实施条例 Art 55): the tender must be re-tendered.
    FAILED = "failed", _("招标失败")


class Tender(models.Model):
    """One procurement (招标项目). Its phase is derived from the clock and a few explicit moments."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("招标编号"), max_length=50, unique=True)
    title = models.CharField(_("项目名称"), max_length=200)
    description = models.TextField(_("项目概况"), blank=True)
    procedure_type = models.CharField(_("招标方式"), max_length=20, choices=ProcedureType.choices)
    tenderer = models.ForeignKey(
        Organization, verbose_name=_("招标人"), on_delete=models.PROTECT, related_name="tenders"
    )
    agency = models.ForeignKey(
        Organization,
        verbose_name=_("招标代理机构"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="agency_tenders",
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
    unreleased_bids = models.CharField(
        _("投标人未在解密时限内解密的投标文件"),
        max_length=20,
        choices=UnreleasedBidRule.choices,
        default=UnreleasedBidRule.CUSTODIANS,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    opening_closed_at = models.DateTimeField(null=True, blank=True)
    candidates_published_at = models.DateTimeField(null=True, blank=True)
    awarded_at = models.DateTimeField(null=True, blank=True)
    filed_at = models.DateTimeField(null=True, blank=True)
    # The committee's report signed and filed (the evaluation app): the candidates are ready for publicity.
    evaluation_reported_at = models.DateTimeField(null=True, blank=True)
    # The tender failed (招标失败): when, and why (a code of tendering.services.tenders.FailureReason).
    failed_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-published_at", "-created_at"]
        verbose_name = _("招标项目")
        verbose_name_plural = _("招标项目")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(opening_time__gte=models.F("bid_deadline")), name="opening_not_before_deadline"
            ),
            models.CheckConstraint(
                condition=models.Q(enquiry_deadline__lte=models.F("bid_deadline")), name="enquiry_not_after_deadline"
            ),
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
        if self.failed_at is not None:
            return Phase.FAILED
        if self.awarded_at is not None:
            return Phase.AWARDED
        if self.candidates_published_at is not None:
            return Phase.PUBLICITY
        if self.evaluation_reported_at is not None:
            return Phase.CANDIDATES
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
    public_key = models.ForeignKey(
        "accounts.PublicKey", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The custodian's confirmation, signed on its own device with its own signing key,
    # that it serves at this position with this key, k of n (docs/custody.md §C).
    # Bids are taken only once every slot has one; bidders' clients check them.
    custody_statement = models.BinaryField(null=True, blank=True)
    custody_signature = models.BinaryField(null=True, blank=True)
    custody_signing_key = models.ForeignKey(
        "accounts.PublicKey", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    custody_confirmed_at = models.DateTimeField(null=True, blank=True)

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
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["asked_at", "pk"]

    def __str__(self) -> str:
        return self.text[:50]


class NotificationKind(models.TextChoices):
    AMENDMENT = "amendment", _("澄清或修改")
    TENDER_FAILED = "tender_failed", _("招标失败")
    # A drawn expert's invitation (evaluation/services/confirmation.py), to that expert alone.
    EXPERT_INVITED = "expert_invited", _("评标邀请")


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
        if self.kind == NotificationKind.TENDER_FAILED:
            return gettext("招标项目《%(title)s》开标后有效投标仅 %(n)d 家，不足三家，招标失败，请依法重新招标。") % {
                "title": self.tender.title,
                "n": self.params.get("opened", 0),
            }
        if self.kind == NotificationKind.EXPERT_INVITED:
            if self.params.get("redraw"):
                text = gettext("您被补充抽取为招标项目《%(title)s》（%(number)s）的评标专家，评标专业：%(specialty)s。")
            else:
                text = gettext("您被抽取为招标项目《%(title)s》（%(number)s）的评标专家，评标专业：%(specialty)s。")
            text = text % {
                "title": self.tender.title,
                "number": self.tender.number,
                "specialty": self.params.get("specialty", ""),
            }
            if self.params.get("evaluation_at"):
                moment = dt.datetime.fromisoformat(self.params["evaluation_at"])
                text += " " + gettext("评标时间：%(when)s起，远程评标。") % {"when": local_text(moment)}
            return text + " " + gettext("请在评标邀请页确认参加或拒绝（拒绝须说明理由）。")
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
    # The withdrawal's ledger entry and its receipt (撤回回执), issued the same way after the withdrawal committed.
    withdrawal_ledger_seq = models.PositiveBigIntegerField(null=True, blank=True)
    withdrawal_receipt = models.BinaryField(default=b"", blank=True)

    class Meta:
        ordering = ["accepted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tender", "bidder"], condition=models.Q(status="accepted"), name="one_accepted_bid_per_bidder"
            )
        ]

    def __str__(self) -> str:
        return f"bid {self.public_id} ({self.status})"


# --- The opening (开标) -------------------------------------------------------------------------------------------


class Opening(models.Model):
    """The online opening (不见面开标) of one tender: its moments and the hall's event sequence.

    Made when the hall is first used at or after the opening time, with one
    ``BidOpening`` for every bid that stood at the deadline.
    """

    tender = models.OneToOneField(Tender, on_delete=models.PROTECT, related_name="opening")
    started_at = models.DateTimeField()
    decryption_ends_at = models.DateTimeField()
    decryption_concluded_at = models.DateTimeField(null=True, blank=True)
    record_published_at = models.DateTimeField(null=True, blank=True)
    confirmation_ends_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The hall's events are numbered 1, 2, … in the order they committed.
    last_seq = models.PositiveBigIntegerField(default=0)
    # The signed PDF of the opening record (开标记录表), once rendered.
    record_object_key = models.CharField(max_length=1024, blank=True)
    record_version_id = models.CharField(max_length=200, blank=True)
    record_sha256 = models.CharField(max_length=64, blank=True)
    record_ledger_seq = models.PositiveBigIntegerField(null=True, blank=True)
    # When the custodians' parts were dropped: every bid's custodian check was decided
    # or no more parts could come, so nothing later needs them (docs/opening.md §2).
    custodian_parts_dropped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("开标")
        verbose_name_plural = _("开标")

    def __str__(self) -> str:
        return f"opening of {self.tender.number}"


class BidOpeningState(models.TextChoices):
    AWAITING_KEY = "awaiting_key", _("待解密")
    KEY_READY = "key_ready", _("密钥已就绪")
    DECRYPTING = "decrypting", _("解密中")
    OPENED = "opened", _("已解密")
    # 电子招标投标办法 Art 31: through the bidder's fault the bid counts as revoked, otherwise as withdrawn.
    REVOKED = "revoked", _("解密失败（投标人原因），视为撤销投标")
    FAILED = "failed", _("解密失败（其他原因），视为撤回投标")


FINAL_BID_OPENING_STATES = (BidOpeningState.OPENED, BidOpeningState.REVOKED, BidOpeningState.FAILED)


class KeySource(models.TextChoices):
    BIDDER = "bidder", _("投标人解密")
    CUSTODIANS = "custodians", _("密钥保管人解密")


class CustodianCheck(models.TextChoices):
    """Under the rule ``custodians``, whether the custodians' parts give the bid's key (docs/opening.md §2)."""

    PENDING = "", _("待核验")
    MATCHED = "matched", _("密钥分量可恢复密钥")
    # Every subset is decided (complete and wrong, or with a signed "does not open" statement): the bidder's defect.
    DEFECT = "defect", _("密钥分量无法恢复密钥（投标人原因）")
    # The decryption ended with a subset still missing a custodian's submission: nobody's proven fault.
    INCONCLUSIVE = "inconclusive", _("密钥保管人未全部提交，未能核验")


class BidOpening(models.Model):
    """One bid at the opening: how its key came, its decryption, and its line of the opening record."""

    opening = models.ForeignKey(Opening, on_delete=models.PROTECT, related_name="bids")
    bid = models.OneToOneField(Bid, on_delete=models.PROTECT, related_name="opening")
    position = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=20, choices=BidOpeningState.choices, default=BidOpeningState.AWAITING_KEY)
    key_source = models.CharField(max_length=20, choices=KeySource.choices, blank=True)
    # The file key, sealed under the platform data key (archive.vault), once released or recovered.
    sealed_file_key = models.BinaryField(default=b"", blank=True)
    key_released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    key_ready_at = models.DateTimeField(null=True, blank=True)
    # The worker holding the decryption, until when; attempts so far.
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    progress_bytes = models.PositiveBigIntegerField(default=0)
    # Faults of the platform's own (store, worker) so far, the last one, and when the next attempt may start.
    faults = models.PositiveIntegerField(default=0)
    last_fault = models.CharField(max_length=200, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    custodian_check = models.CharField(
        max_length=20, choices=CustodianCheck.choices, blank=True, default=CustodianCheck.PENDING
    )
    # Key releases refused (not matching kc): counted, recorded in the ledger only up to a cap, throttled.
    key_refusals = models.PositiveIntegerField(default=0)
    last_key_refusal_at = models.DateTimeField(null=True, blank=True)
    # What the opening's one pass found, only once the bid is decrypted (tendering.services.opened_files): the
    # container's size, the ciphertext's 40-byte header (salt and nonce prefix: no secret) and the index of the
    # container, [{"path", "size", "sha256", "offset", "segments": [first, last]}]: each file's data are the
    # plaintext bytes [offset, offset + size), in segments first..last of the accepted ciphertext itself.
    plaintext_size = models.PositiveBigIntegerField(null=True, blank=True)
    ciphertext_header = models.BinaryField(default=b"", blank=True)
    files = models.JSONField(default=list, blank=True)
    price_summary = models.JSONField(null=True, blank=True)
    # The bidder's response index (评审因素定位) as the container held it, {"format", "pointers": [{"item", "path",
    # "page"}]}; None when the bid has none (docs/sealed-bid-format.md §3.8). Its canonical size places the files.
    response_index = models.JSONField(null=True, blank=True)
    outcome_code = models.CharField(max_length=50, blank=True)
    outcome_detail = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # True when the bidder let the confirmation window pass (taken to agree).
    confirmed_by_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["opening", "position"], name="unique_bid_opening_position")]

    def __str__(self) -> str:
        return f"{self.bid} at the opening ({self.state})"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_BID_OPENING_STATES


class CustodianSubmission(models.Model):
    """A custodian's parts of every bid's file key, submitted in one action, sealed under the data key."""

    opening = models.ForeignKey(Opening, on_delete=models.PROTECT, related_name="custodian_submissions")
    custodian = models.ForeignKey(TenderCustodian, on_delete=models.PROTECT, related_name="+")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()
    part_count = models.PositiveIntegerField()
    # Emptied once the parts are no longer needed (Opening.custodian_parts_dropped_at).
    sealed_parts = models.BinaryField()
    # Signed "does not open" statements (etender-part-refusal-v1) for the parts that did not open:
    # [{"bid", "members", "reason", "statement" (base64), "signature" (base64 DER), "signing_key"}].
    refusals = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["submitted_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["opening", "custodian"], name="one_submission_per_custodian")]

    def __str__(self) -> str:
        return f"parts of custodian #{self.custodian.position}"


class OpeningAttendance(models.Model):
    """A participant signed in to the hall (签到)."""

    opening = models.ForeignKey(Opening, on_delete=models.PROTECT, related_name="attendance")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    roles = models.JSONField(default=list)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    signed_in_at = models.DateTimeField()

    class Meta:
        ordering = ["signed_in_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["opening", "user"], name="one_attendance_per_user")]

    def __str__(self) -> str:
        return f"{self.user} at {self.opening}"


class RecordObjection(models.Model):
    """A bidder's objection (异议) to the opening record, and the tenderer's answer."""

    opening = models.ForeignKey(Opening, on_delete=models.PROTECT, related_name="objections")
    bid_opening = models.ForeignKey(BidOpening, on_delete=models.PROTECT, related_name="objections")
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    raised_at = models.DateTimeField()
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["raised_at", "pk"]

    def __str__(self) -> str:
        return self.text[:50]


class OpeningEvent(models.Model):
    """One event of the hall, kept so a client that reconnects gets what it missed.

    ``audience`` names who may see it (``all``, ``staff``, ``bidder:<org id>``,
    ``custodian:<user id>``): the same names as the hall's groups.
    """

    opening = models.ForeignKey(Opening, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=50)
    audience = models.CharField(max_length=50)
    payload = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["opening", "seq"], name="unique_opening_event_seq")]

    def __str__(self) -> str:
        return f"{self.opening_id}#{self.seq} {self.kind}"


class Entrustment(models.Model):
    """An entrustment (委托, 招标投标法 Art 15): a tenderer lets an agency act in its name.

    Its scope is one tender, named by its number (招标编号, so that the agency may
    create the draft), or a period during which the agency acts for every tender of
    the tenderer. Granted and revoked by the tenderer's staff, each in the ledger;
    an agency creates, edits, publishes and manages a tender only while one covers it.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenderer = models.ForeignKey(
        Organization, verbose_name=_("招标人"), on_delete=models.PROTECT, related_name="entrustments_granted"
    )
    agency = models.ForeignKey(
        Organization, verbose_name=_("招标代理机构"), on_delete=models.PROTECT, related_name="entrustments_received"
    )
    # Scope: either one tender's number, or a period [valid_from, valid_until).
    tender_number = models.CharField(_("招标编号"), max_length=50, blank=True)
    valid_from = models.DateTimeField(_("委托起始时间"), null=True, blank=True)
    valid_until = models.DateTimeField(_("委托截止时间"), null=True, blank=True)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField()
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-granted_at", "-pk"]
        verbose_name = _("委托")
        verbose_name_plural = _("委托")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(tender_number__gt="", valid_from__isnull=True, valid_until__isnull=True)
                    | models.Q(tender_number="", valid_from__isnull=False, valid_until__gt=models.F("valid_from"))
                ),
                name="entrustment_one_tender_or_a_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenderer} → {self.agency} ({self.tender_number or 'period'})"

    def covers(self, tender_number: str, now: dt.datetime) -> bool:
        if self.revoked_at is not None:
            return False
        if self.tender_number:
            return self.tender_number == tender_number
        assert self.valid_from is not None and self.valid_until is not None
        return self.valid_from <= now < self.valid_until
