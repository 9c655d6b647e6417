"""Draft entries of a sheet (each ``mark`` saved at once, private to its expert until the sheet is submitted),
the sheet's statement, its signed submission, and what the last sheet of a stage sets off."""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _

from accounts.errors import Conflict, InvalidInput, PermissionDenied
from accounts.models import KeyPurpose, PublicKey
from archive.canonical import canonical_json
from config import clock
from evaluation import formulas
from evaluation.models import (
    CommitteeMember,
    ConflictDeclaration,
    Deviation,
    Evaluation,
    Mark,
    MemberState,
    Sheet,
    SheetKind,
    Stage,
)
from evaluation.services.session import events
from evaluation.services.session.common import (
    OpenedBid,
    evaluation_of,
    ledger,
    lock_evaluation,
    method_of,
    opened_bids,
    require_member,
    require_stage,
)
from evaluation.session_protocol import (
    DeviationFlagged,
    DeviationView,
    MarkView,
    ScoresRevealed,
    SheetSaved,
    SheetSubmitted,
    expert_audience,
)
from tendering.method import Method
from tendering.models import BidOpening, BidOpeningState, Tender
from tendering.services.locks import lock_first, lock_one

STATEMENT_FORMAT = "etender-sheet-v1"
STAGE_OF_SHEET = {SheetKind.QUALIFICATION: Stage.QUALIFICATION, SheetKind.SCORING: Stage.SCORING}


def parse_score(text: str, low: Decimal, high: Decimal, field: str = "score") -> Decimal:
    """A score as the protocol carries it: a decimal string with at most 2 places, finite, within [low, high]."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidInput({field: [_("分数必须是数字，例如 7.50。")]}) from None
    if not value.is_finite():
        raise InvalidInput({field: [_("分数必须是数字，例如 7.50。")]})
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise InvalidInput({field: [_("分数最多保留两位小数。")]})
    if not low <= value <= high:
        raise InvalidInput({field: [_("分数必须在 %(low)s 至 %(high)s 之间。") % {"low": low, "high": high}]})
    return value.quantize(Decimal("0.01"))


def sheet_bids(
    tender: Tender, evaluation: Evaluation, kind: str, bids: list[OpenedBid] | None = None
) -> list[OpenedBid]:
    """The bids a sheet marks: every opened bid for the qualification, the qualified ones for the scoring."""
    bids = opened_bids(tender) if bids is None else bids
    if kind == SheetKind.QUALIFICATION:
        return bids
    qualified = qualified_bid_ids(evaluation)
    return [b for b in bids if b.bid.pk in qualified]


def sheet_items(method: Method, kind: str) -> list[str]:
    if kind == SheetKind.QUALIFICATION:
        return [item.id for item in method.qualification]
    return [criterion.id for criterion in method.criteria]


def submitted_marks(evaluation: Evaluation, kind: str) -> dict[int, dict[int, dict[str, Mark]]]:
    """Every submitted sheet's marks of ``kind``: member pk → bid pk → item → mark."""
    found: dict[int, dict[int, dict[str, Mark]]] = {}
    marks = Mark.objects.filter(
        sheet__member__evaluation=evaluation,
        sheet__member__state=MemberState.CONFIRMED,
        sheet__kind=kind,
        sheet__submitted_at__isnull=False,
    ).select_related("sheet")
    for mark in marks:
        found.setdefault(mark.sheet.member_id, {}).setdefault(mark.bid_id, {})[mark.item] = mark
    return found


def _qualification_marks(evaluation: Evaluation) -> dict[int, dict[int, dict[str, bool]]]:
    """Every submitted qualification sheet: member pk → bid pk → item → passed (one light query)."""
    found: dict[int, dict[int, dict[str, bool]]] = {}
    rows = Mark.objects.filter(
        sheet__member__evaluation=evaluation,
        sheet__member__state=MemberState.CONFIRMED,
        sheet__kind=SheetKind.QUALIFICATION,
        sheet__submitted_at__isnull=False,
    ).values_list("sheet__member_id", "bid_id", "item", "passed")
    for member_id, bid_id, item, passed in rows:
        found.setdefault(member_id, {}).setdefault(bid_id, {})[item] = bool(passed)
    return found


def qualification_result(evaluation: Evaluation) -> formulas.QualificationResult[int, int]:
    return formulas.qualification_result(_qualification_marks(evaluation))


def qualified_bid_ids(evaluation: Evaluation) -> set[int]:
    marks = _qualification_marks(evaluation)
    if not marks:
        return set()
    return {bid for bid, ok in formulas.qualification_result(marks).qualified.items() if ok}


def mark_view(mark: Mark, member_id: int, kind: str) -> MarkView:
    evidence = {"path": mark.evidence_path, "page": mark.evidence_page} if mark.evidence_path else None
    return MarkView(
        member=member_id,
        sheet=kind,  # type: ignore[arg-type]
        bid=str(mark.bid.public_id),
        item=mark.item,
        passed=mark.passed,
        score=None if mark.score is None else f"{mark.score:.2f}",
        reason=mark.reason,
        evidence=evidence,
        updated_at=mark.updated_at,
    )


def _opened_to_mark(tender: Tender, member: CommitteeMember, public_id: Any) -> tuple[BidOpening, bool]:
    """The opening of the opened bid ``public_id`` names (its files and its bid's id and public id only: a mark
    reads nothing else), and whether the member declared a conflict with that bid, in one statement."""
    try:
        wanted = uuid.UUID(str(public_id))
    except ValueError:
        wanted = None
    conflicted = ConflictDeclaration.objects.filter(member=member, bid_id=OuterRef("bid_id"), has_conflict=True)
    try:
        if wanted is None:
            raise BidOpening.DoesNotExist
        # One row at most (a bid is opened once): ``get``, no ORDER BY to build.
        row = (
            BidOpening.objects.select_related("bid")
            .only("files", "bid__public_id")
            .annotate(member_conflicted=Exists(conflicted))
            .get(opening__tender=tender, state=BidOpeningState.OPENED, bid__public_id=wanted)
        )
    except BidOpening.DoesNotExist:
        raise InvalidInput({"bid": [_("本项目没有这份已开标的投标文件。")]}) from None
    return row, bool(row.member_conflicted)


def save_mark(
    user: Any,
    tender: Tender,
    kind: str,
    bid_public_id: Any,
    item: str,
    *,
    passed: bool | None = None,
    score: str | None = None,
    reason: str = "",
    evidence: tuple[str, int] | None = None,
) -> Mark:
    """Save one draft entry of the member's sheet of ``kind`` (created at its first entry)."""
    method = method_of(tender)
    with transaction.atomic():
        evaluation = lock_evaluation(tender)
        member = require_member(user, evaluation)
        require_stage(evaluation, STAGE_OF_SHEET[SheetKind(kind)])
        opened, conflicted = _opened_to_mark(tender, member, bid_public_id)
        if conflicted:
            raise PermissionDenied(_("您已声明与该投标人存在利害关系，不能评审其投标文件。"), code="conflicted")
        # The qualification marks every opened bid (sheet_bids), the scoring the qualified ones.
        if kind != SheetKind.QUALIFICATION and opened.bid_id not in qualified_bid_ids(evaluation):
            raise InvalidInput({"bid": [_("该投标文件未通过资格审查，不参加详细评审。")]})
        values: dict[str, Any] = {"reason": reason.strip()}
        if kind == SheetKind.QUALIFICATION:
            if item not in {q.id for q in method.qualification}:
                raise InvalidInput({"item": [_("评标办法中没有这一资格审查项。")]})
            if passed is None or score is not None:
                raise InvalidInput({"passed": [_("资格审查项只能判定合格或不合格。")]})
            if not passed and not values["reason"]:
                raise InvalidInput({"reason": [_("判定不合格时请写明理由。")]})
            values["passed"] = passed
        else:
            try:
                criterion = method.criterion(item)
            except KeyError:
                raise InvalidInput({"item": [_("评标办法中没有这一评分因素。")]}) from None
            if score is None or passed is not None:
                raise InvalidInput({"score": [_("请填写分数。")]})
            values["score"] = parse_score(score, criterion.min_score, criterion.max_score)
        if evidence is not None:
            path, page = evidence
            if path not in {f.get("path") for f in opened.files or []}:
                raise InvalidInput({"evidence.path": [_("投标文件中没有这个文件。")]})
            values["evidence_path"], values["evidence_page"] = path, page
        # The sheet's row locked as it is read (made at the first entry: the evaluation's lock keeps that single).
        sheet = lock_first(Sheet.objects.filter(member=member, kind=kind))
        if sheet is None:
            sheet = Sheet.objects.create(member=member, kind=kind)
        if sheet.locked:
            raise Conflict(_("评审表已提交并锁定，不能再修改。"), code="sheet_locked")
        values["updated_at"] = clock.now()
        # Under the sheet's lock no other transaction writes its marks: read, then update or insert (what
        # ``update_or_create`` does, without its savepoint and its second lock).
        mark = next(iter(Mark.objects.filter(sheet=sheet, bid=opened.bid, item=item).order_by()), None)  # one at most
        if mark is None:
            mark = Mark.objects.create(sheet=sheet, bid=opened.bid, item=item, **values)
        else:
            for name, value in values.items():
                setattr(mark, name, value)
            mark.save(update_fields=list(values))
        mark.bid = opened.bid
        view = mark_view(mark, member.pk, kind)
        events.publish(evaluation, SheetSaved(**view.model_dump()), expert_audience(user.pk))
        # A draft is private until its sheet is submitted: the ledger holds its hash, not its value. Appended
        # last, so that the ledger's head (one row for the platform) is held from here to the commit only.
        entry = canonical_json(view.model_dump(mode="json"))
        ledger(
            evaluation,
            "mark_saved",
            {
                "member_id": member.pk,
                "sheet": kind,
                "bid_id": str(opened.bid.public_id),
                "item": item,
                "entry_sha256": hashlib.sha256(entry).hexdigest(),
            },
            user,
        )
    return mark


def statement_for(evaluation: Evaluation, member: CommitteeMember, kind: str) -> bytes:
    """What the member signs: canonical JSON of its whole sheet (evaluation, tender, member, kind, every mark)."""
    marks = Mark.objects.filter(sheet__member=member, sheet__kind=kind).select_related("bid")
    entries = sorted(
        (
            {
                "bid": str(m.bid.public_id),
                "item": m.item,
                "passed": m.passed,
                "score": None if m.score is None else f"{m.score:.2f}",
                "reason": m.reason,
                "evidence": {"path": m.evidence_path, "page": m.evidence_page} if m.evidence_path else None,
            }
            for m in marks
        ),
        key=lambda e: (e["bid"], e["item"]),
    )
    return canonical_json(
        {
            "format": STATEMENT_FORMAT,
            "evaluation": evaluation.pk,
            "tender": str(evaluation.tender.public_id),
            "member": member.pk,
            "expert": member.expert.code,
            "kind": kind,
            "marks": entries,
        }
    )


def sheet_statement(user: Any, tender: Tender, kind: str) -> tuple[bytes, str]:
    """The statement of the member's sheet as it stands, and its SHA-256 (what the browser signs)."""
    evaluation = evaluation_of(tender)
    member = require_member(user, evaluation)
    statement = statement_for(evaluation, member, kind)
    return statement, hashlib.sha256(statement).hexdigest()


def _missing(tender: Tender, evaluation: Evaluation, member: CommitteeMember, kind: str, method: Method) -> int:
    wanted = {(b.bid.pk, i) for b in sheet_bids(tender, evaluation, kind) for i in sheet_items(method, kind)}
    have = set(Mark.objects.filter(sheet__member=member, sheet__kind=kind).values_list("bid_id", "item"))
    return len(wanted - have)


def verify_signature(user: Any, fingerprint: str, signature_b64: str, statement: bytes) -> PublicKey:
    """The member's registered, unrevoked signing key ``fingerprint`` verifies ``signature_b64`` over
    ``statement`` (ECDSA P-256 SHA-256, DER); refused otherwise."""
    key = PublicKey.objects.filter(
        owner=user, purpose=KeyPurpose.SIGNING, fingerprint=fingerprint, revoked_at__isnull=True
    ).first()
    if key is None:
        raise InvalidInput({"key": [_("这不是您已登记且有效的签名密钥。")]})
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public = serialization.load_der_public_key(bytes(key.spki_der))
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise InvalidSignature
        public.verify(signature, statement, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        raise InvalidInput(
            {"signature": [_("签名无效：与评审表内容或签名密钥不符。")]},
        ) from None
    return key


def submit_sheet(user: Any, tender: Tender, kind: str, fingerprint: str, signature_b64: str) -> Sheet:
    """Submit and lock the member's sheet, signed over its statement; every entry is required.

    The last sheet of a stage reveals every mark of it; the scoring stage's flags its deviations."""
    method = method_of(tender)
    with transaction.atomic():
        evaluation = lock_evaluation(tender)
        member = require_member(user, evaluation)
        require_stage(evaluation, STAGE_OF_SHEET[SheetKind(kind)])
        sheet = Sheet.objects.filter(member=member, kind=kind).first()
        if sheet is not None:
            sheet = lock_one(Sheet.objects.filter(pk=sheet.pk))
        if sheet is not None and sheet.locked:
            raise Conflict(_("该评审表已提交，不能重复提交。"), code="already_submitted")
        missing = _missing(tender, evaluation, member, kind, method)
        if sheet is None or missing:
            raise InvalidInput({"sheet": [_("评审表尚有 %(n)d 项未填写。") % {"n": missing}]})
        statement = statement_for(evaluation, member, kind)
        key = verify_signature(user, fingerprint, signature_b64, statement)
        sheet.submitted_at = clock.now()
        sheet.statement, sheet.signature, sheet.signing_key = statement, base64.b64decode(signature_b64), key
        sheet.ledger_seq = ledger(
            evaluation,
            "sheet_submitted",
            {
                "member_id": member.pk,
                "kind": kind,
                "statement_sha256": hashlib.sha256(statement).hexdigest(),
                "signature": signature_b64,
                "key_fingerprint": key.fingerprint,
            },
            user,
        )
        sheet.save(update_fields=["submitted_at", "statement", "signature", "signing_key", "ledger_seq"])
        events.publish(evaluation, SheetSubmitted(member=member.pk, sheet=kind))  # type: ignore[arg-type]
        if all_sheets_in(evaluation, kind):
            _reveal(evaluation, kind, method)
    return sheet


def all_sheets_in(evaluation: Evaluation, kind: str) -> bool:
    confirmed = CommitteeMember.objects.filter(evaluation=evaluation, state=MemberState.CONFIRMED)
    submitted = Sheet.objects.filter(member__in=confirmed, kind=kind, submitted_at__isnull=False)
    return confirmed.exists() and submitted.count() == confirmed.count()


def _reveal(evaluation: Evaluation, kind: str, method: Method) -> None:
    marks = submitted_marks(evaluation, kind)
    views = [
        mark_view(mark, member_id, kind)
        for member_id, bids in sorted(marks.items())
        for _bid, items in sorted(bids.items())
        for _item, mark in sorted(items.items())
    ]
    events.publish(evaluation, ScoresRevealed(sheet=kind, marks=views))  # type: ignore[arg-type]
    if kind != SheetKind.SCORING:
        return
    scores = {m: {b: {i: x.score for i, x in items.items()} for b, items in bids.items()} for m, bids in marks.items()}
    now = clock.now()
    for found in formulas.deviations(scores, method.deviation_threshold_percent):  # type: ignore[arg-type]
        mark = marks[found.expert][found.bid][found.criterion]
        row = Deviation.objects.create(
            mark=mark,
            mean=found.mean,
            percent=found.percent if found.percent is not None else Decimal("100.00"),
            flagged_at=now,
        )
        ledger(
            evaluation,
            "deviation_flagged",
            {"deviation_id": row.pk, "member_id": found.expert, "mark_id": mark.pk, "mean": f"{found.mean}"},
            None,
        )
        events.publish(evaluation, DeviationFlagged(**deviation_view(row).model_dump()))


def deviation_view(row: Deviation) -> DeviationView:
    mark = row.mark
    return DeviationView(
        id=row.pk,
        member=mark.sheet.member_id,
        bid=str(mark.bid.public_id),
        item=mark.item,
        score=f"{mark.score:.2f}",
        mean=f"{row.mean:.2f}",
        percent=f"{row.percent:.2f}",
        explanation=row.explanation,
        explained_at=row.explained_at,
        revised_at=row.revised_at,
    )
