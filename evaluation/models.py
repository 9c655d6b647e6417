"""The expert pool, the draw, the committee, the remote session's sheets and records, and the report.

One ``Evaluation`` per tender holds the draw (its request, its commitments and its public record), the
committee drawn for it, the session's stage and event numbers, and the report. docs/evaluation.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# --- the pool ---------------------------------------------------------------------------------------------


class Specialty(models.Model):
    """A specialty of the pool (专业), by the trading centre's own code."""

    code = models.CharField(_("专业代码"), max_length=20, unique=True)
    name = models.CharField(_("专业名称"), max_length=100)

    class Meta:
        ordering = ["code"]
        verbose_name = _("评标专业")
        verbose_name_plural = _("评标专业")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Expert(models.Model):
    """One expert of the pool (专家库). ``code`` is the pool's id, the only name a draw record shows."""

    code = models.CharField(_("专家编号"), max_length=20, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登录账号"),
        on_delete=models.PROTECT,
        related_name="expert_profile",
    )
    name = models.CharField(_("姓名"), max_length=100)
    # 行政区划代码 (GB/T 2260): a request excludes a region by its code's prefix (36 a province, 3607 a city).
    region_code = models.CharField(_("行政区划代码"), max_length=6)
    region_name = models.CharField(_("所在地区"), max_length=100)
    employer_name = models.CharField(_("工作单位"), max_length=200)
    employer_credit_code = models.CharField(_("工作单位统一社会信用代码"), max_length=18, blank=True)
    specialties = models.ManyToManyField(Specialty, verbose_name=_("评标专业"), related_name="experts")
    active = models.BooleanField(_("在库"), default=True)
    imported_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["code"]
        verbose_name = _("评标专家")
        verbose_name_plural = _("评标专家")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class RelationshipKind(models.TextChoices):
    FORMER_EMPLOYER = "former_employer", _("曾任职单位")
    RELATIVE = "relative", _("近亲属任职单位")
    INTEREST = "interest", _("存在经济利益关系")
    OTHER = "other", _("其他利害关系")


class ExpertRelationship(models.Model):
    """An organization the expert declared a relationship with: never drawn for its tenders or bids."""

    expert = models.ForeignKey(Expert, on_delete=models.CASCADE, related_name="relationships")
    organization_credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    organization_name = models.CharField(_("单位名称"), max_length=200)
    kind = models.CharField(_("关系"), max_length=20, choices=RelationshipKind.choices)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("申报的利害关系")
        verbose_name_plural = _("申报的利害关系")

    def __str__(self) -> str:
        return f"{self.expert} · {self.organization_name}"


# --- the evaluation of one tender and its draw ------------------------------------------------------------


class Stage(models.TextChoices):
    """The session's stages, in order."""

    DRAW = "draw", _("专家抽取")
    SIGN_IN = "sign_in", _("签到与回避声明")
    QUALIFICATION = "qualification", _("资格审查")
    SCORING = "scoring", _("详细评审")
    PRICE = "price", _("价格评分")
    SUMMARY = "summary", _("汇总排序")
    REPORT = "report", _("评标报告")
    CONCLUDED = "concluded", _("评标结束")


STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)


class Evaluation(models.Model):
    """The evaluation of one tender: the expert request and draw, the committee's session, the report."""

    tender = models.OneToOneField("tendering.Tender", on_delete=models.PROTECT, related_name="evaluation")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    # Region codes (prefixes) no expert may come from, e.g. the tender's own county.
    excluded_regions = models.JSONField(default=list, blank=True)
    # The regulator who supervises: committed a secret before the bid deadline, reveals it for the draw.
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The eligible candidates, frozen (and recorded) before any reveal: SHA-256 of their canonical list.
    candidates_frozen_at = models.DateTimeField(null=True, blank=True)
    candidates_sha256 = models.CharField(max_length=64, blank=True)
    seed = models.CharField(max_length=64, blank=True)
    drawn_at = models.DateTimeField(null=True, blank=True)
    # Everything needed to recompute the draw offline (python -m evaluation.draw_check), names left out.
    draw_record = models.JSONField(null=True, blank=True)
    # The benchmark price rule's factor K, drawn with the draw's seed (tendering.method, evaluation.formulas).
    benchmark_factor = models.DecimalField(max_digits=6, decimal_places=4, null=True, blank=True)
    # When the committee's names may be shown to the tenderer and the bidders (the result is published).
    names_published_at = models.DateTimeField(null=True, blank=True)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.DRAW)
    chair = models.ForeignKey("CommitteeMember", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # 暗标: bidders are shown as codes in the technical scoring until it is locked.
    technical_locked_at = models.DateTimeField(null=True, blank=True)
    # The session's last event number (SessionEvent.seq).
    last_seq = models.PositiveBigIntegerField(default=0)
    concluded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("评标")
        verbose_name_plural = _("评标")

    def __str__(self) -> str:
        return f"evaluation of tender {self.tender_id} ({self.stage})"


class ExpertRequestLine(models.Model):
    """How many experts of one specialty the tenderer asks for."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="request_lines")
    specialty = models.ForeignKey(Specialty, on_delete=models.PROTECT, related_name="+")
    count = models.PositiveSmallIntegerField(_("人数"))

    class Meta:
        ordering = ["specialty__code"]
        constraints = [
            models.UniqueConstraint(fields=["evaluation", "specialty"], name="unique_request_line_specialty"),
            models.CheckConstraint(condition=models.Q(count__gte=1), name="request_line_count_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.specialty_id} × {self.count}"


class DrawParty(models.TextChoices):
    PLATFORM = "platform", _("平台")
    SUPERVISOR = "supervisor", _("监督人员")


class DrawCommitment(models.Model):
    """A party's commitment SHA-256(secret) made before the bid deadline, and the secret once revealed."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="commitments")
    party = models.CharField(max_length=20, choices=DrawParty.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    commitment = models.CharField(max_length=64)
    committed_at = models.DateTimeField()
    # The platform's own secret until its reveal, sealed under the platform data key (archive.vault).
    sealed_secret = models.BinaryField(default=b"", blank=True)
    reveal = models.CharField(max_length=64, blank=True)
    revealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["evaluation", "party"], name="unique_commitment_per_party")]

    def __str__(self) -> str:
        return f"{self.party} commitment {self.commitment[:12]}"


class MemberState(models.TextChoices):
    INVITED = "invited", _("待确认")
    CONFIRMED = "confirmed", _("已确认参加")
    DECLINED = "declined", _("已拒绝")
    # Declared a conflict with a bidder at sign-in (回避): removed, replaced by the next of the draw.
    RECUSED = "recused", _("已回避")


class Venue(models.TextChoices):
    MAIN = "main", _("主场")
    SUB = "sub", _("副场")


class CommitteeMember(models.Model):
    """An expert drawn into one evaluation's committee (or drawn and then declined or recused)."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.PROTECT, related_name="members")
    expert = models.ForeignKey(Expert, on_delete=models.PROTECT, related_name="memberships")
    specialty = models.ForeignKey(Specialty, on_delete=models.PROTECT, related_name="+")
    # The expert's place in the specialty's drawn order (0 first): a redraw takes the next one.
    draw_rank = models.PositiveIntegerField()
    # Who this member replaced (a decline or a recusal), so the record shows every redraw.
    replaces = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    state = models.CharField(max_length=20, choices=MemberState.choices, default=MemberState.INVITED)
    invited_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=500, blank=True)
    venue = models.CharField(max_length=10, choices=Venue.choices, blank=True)
    location = models.CharField(_("评标地点"), max_length=200, blank=True)
    signed_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["evaluation_id", "specialty__code", "draw_rank"]
        constraints = [
            models.UniqueConstraint(fields=["evaluation", "expert"], name="unique_member_per_evaluation"),
        ]

    def __str__(self) -> str:
        return f"{self.expert} in evaluation {self.evaluation_id} ({self.state})"


class ConflictDeclaration(models.Model):
    """A member's declaration, for one bidder's bid, that it has (or has no) conflict of interest."""

    member = models.ForeignKey(CommitteeMember, on_delete=models.CASCADE, related_name="declarations")
    bid = models.ForeignKey("tendering.Bid", on_delete=models.PROTECT, related_name="+")
    has_conflict = models.BooleanField()
    note = models.CharField(max_length=500, blank=True)
    declared_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "bid"], name="unique_declaration_per_bid")]

    def __str__(self) -> str:
        return f"{self.member_id} on bid {self.bid_id}: {'conflict' if self.has_conflict else 'none'}"


class ChairVote(models.Model):
    """One member's vote for the chair (评标委员会主任)."""

    member = models.OneToOneField(CommitteeMember, on_delete=models.CASCADE, related_name="chair_vote")
    candidate = models.ForeignKey(CommitteeMember, on_delete=models.PROTECT, related_name="+")
    voted_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.member_id} → {self.candidate_id}"


# --- sheets -------------------------------------------------------------------------------------------------


class SheetKind(models.TextChoices):
    QUALIFICATION = "qualification", _("资格审查表")
    SCORING = "scoring", _("评分表")


class Sheet(models.Model):
    """One member's sheet of one stage: private to the member until submitted, then locked and signed."""

    member = models.ForeignKey(CommitteeMember, on_delete=models.PROTECT, related_name="sheets")
    kind = models.CharField(max_length=20, choices=SheetKind.choices)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # What the member signed (canonical JSON of the sheet) and its ECDSA P-256 signature with a registered key.
    statement = models.BinaryField(default=b"", blank=True)
    signature = models.BinaryField(default=b"", blank=True)
    signing_key = models.ForeignKey(
        "accounts.PublicKey", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ledger_seq = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "kind"], name="unique_sheet_per_stage")]

    def __str__(self) -> str:
        return f"{self.kind} sheet of member {self.member_id}"

    @property
    def locked(self) -> bool:
        return self.submitted_at is not None


class Mark(models.Model):
    """One entry of a sheet: pass/fail of a qualification item, or a criterion's score, for one bid."""

    sheet = models.ForeignKey(Sheet, on_delete=models.CASCADE, related_name="marks")
    bid = models.ForeignKey("tendering.Bid", on_delete=models.PROTECT, related_name="+")
    # A qualification item's or a criterion's id in the tender's method (tendering.method).
    item = models.CharField(max_length=16)
    passed = models.BooleanField(null=True, blank=True)
    score = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    reason = models.TextField(blank=True)
    # The page of the bid cited as evidence (a file of the bid and a page number).
    evidence_path = models.CharField(max_length=1024, blank=True)
    evidence_page = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sheet", "bid", "item"], name="unique_mark_per_item")]

    def __str__(self) -> str:
        return f"{self.item} of bid {self.bid_id} on sheet {self.sheet_id}"


class Deviation(models.Model):
    """A score more than the threshold from the committee's mean for its item: explained or revised."""

    mark = models.OneToOneField(Mark, on_delete=models.CASCADE, related_name="deviation")
    mean = models.DecimalField(max_digits=9, decimal_places=4)
    percent = models.DecimalField(max_digits=9, decimal_places=2)
    flagged_at = models.DateTimeField()
    explanation = models.TextField(blank=True)
    explained_at = models.DateTimeField(null=True, blank=True)
    # Set when the expert revised the score instead (the revision is a MarkRevision).
    revised_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"deviation of mark {self.mark_id} ({self.percent} %)"

    @property
    def resolved(self) -> bool:
        return self.explained_at is not None or self.revised_at is not None


class MarkRevision(models.Model):
    """A locked score changed by its expert to answer a deviation: the old and the new value, recorded."""

    mark = models.ForeignKey(Mark, on_delete=models.CASCADE, related_name="revisions")
    old_score = models.DecimalField(max_digits=7, decimal_places=2)
    new_score = models.DecimalField(max_digits=7, decimal_places=2)
    reason = models.TextField()
    revised_at = models.DateTimeField()
    ledger_seq = models.PositiveBigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"mark {self.mark_id}: {self.old_score} → {self.new_score}"


# --- clarification, discussion, events --------------------------------------------------------------------


class Clarification(models.Model):
    """The committee's question to one bidder (through the chair), with a reply deadline, and the reply."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.PROTECT, related_name="clarifications")
    bid = models.ForeignKey("tendering.Bid", on_delete=models.PROTECT, related_name="+")
    question = models.TextField()
    asked_by = models.ForeignKey(CommitteeMember, on_delete=models.PROTECT, related_name="+")
    asked_at = models.DateTimeField()
    reply_deadline = models.DateTimeField()
    answer = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["asked_at", "pk"]

    def __str__(self) -> str:
        return f"clarification to bid {self.bid_id}"


class DiscussionMessage(models.Model):
    """A written message of the committee's discussion (the supervisor reads every one)."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.text[:50]


class SessionEvent(models.Model):
    """One event of the session, kept so that a client that reconnects (to any process) gets what it missed.

    ``audience`` is one of the session's groups (``all``: the committee and the supervisor; ``staff``: the
    supervisor; ``expert:<user id>``: one member alone). No bidder is ever an audience.
    """

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=50)
    audience = models.CharField(max_length=50)
    payload = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["evaluation", "seq"], name="unique_session_event_seq")]

    def __str__(self) -> str:
        return f"{self.evaluation_id}#{self.seq} {self.kind}"


# --- the report ---------------------------------------------------------------------------------------------


class Report(models.Model):
    """The evaluation report (评标报告): its content, its PDF, and the members' signatures."""

    evaluation = models.OneToOneField(Evaluation, on_delete=models.PROTECT, related_name="report")
    created_at = models.DateTimeField()
    # The ranked result and everything the PDF shows, as canonical JSON; members sign its SHA-256.
    content = models.BinaryField()
    content_sha256 = models.CharField(max_length=64)
    # The PDF signed by the platform (PAdES) once every member has signed or refused.
    object_key = models.CharField(max_length=1024, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    ledger_seq = models.PositiveBigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"report of evaluation {self.evaluation_id}"


class SignatureDecision(models.TextChoices):
    SIGNED = "signed", _("签字")
    REFUSED = "refused", _("拒绝签字")


class ReportSignature(models.Model):
    """One member's signature of the report, or its refusal (with reasons, or taken to agree: 暂行规定 Art 42)."""

    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="signatures")
    member = models.ForeignKey(CommitteeMember, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=SignatureDecision.choices)
    reasons = models.TextField(blank=True)
    statement = models.BinaryField(default=b"", blank=True)
    signature = models.BinaryField(default=b"", blank=True)
    signing_key = models.ForeignKey(
        "accounts.PublicKey", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField()
    ledger_seq = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "member"], name="unique_report_signature")]

    def __str__(self) -> str:
        return f"{self.decision} by member {self.member_id}"
