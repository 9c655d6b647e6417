"""The evaluation report (评标报告): built when the summary closes, signed or refused by every member, then
rendered, signed by the platform (PAdES) and filed in the tender's case. docs/evaluation.md §5.

- ``build_report(evaluation)``: the content (canonical JSON, ``evaluation.report_check.REPORT_FORMAT``) from
  the recorded sheets: the ranking (recomputed with ``evaluation.formulas``), every expert's sheets by name,
  the qualification verdicts and disagreements, the deviations and their explanations or revisions, the
  clarifications and the discussion. Ledger ``evaluation.report.built``, event ``report.ready``.
- ``report_statement`` / ``sign_report`` / ``refuse_report``: each confirmed member signs the content's
  SHA-256 with its registered key, or refuses with its reasons; a refusal without reasons counts as agreeing
  (《评标委员会和评标方法暂行规定》第四十二条). Ledger ``evaluation.report.signed`` / ``.refused``.
- ``file_report(evaluation_id)``: once every member decided (queued after the last decision commits): the PDF
  with ``report.json`` and ``signatures.json`` attached, signed by the platform, stored under retention;
  ledger ``evaluation.report.filed``, ``tendering.services.outcome.evaluation_reported`` (phase CANDIDATES),
  event ``report.filed``. Idempotent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from accounts.errors import Conflict, InvalidInput, NotFound
from accounts.models import KeyPurpose, PublicKey, Role
from accounts.services import verify_signature
from archive import cases
from archive.canonical import canonical_json, format_timestamp
from archive.ledger import record
from archive.pdf import sign_pdf
from archive.storage import Retention, RetentionMode, get_object_store
from archive.storage.retention import records_retain_until
from config import clock
from evaluation import formulas
from evaluation.models import (
    Clarification,
    CommitteeMember,
    Deviation,
    DiscussionMessage,
    Evaluation,
    Mark,
    MemberState,
    Report,
    ReportSignature,
    Sheet,
    SheetKind,
    SignatureDecision,
    Stage,
)
from evaluation.report_check import BUNDLE_FORMAT, REPORT_FORMAT, signature_statement
from evaluation.report_pdf import render_report_pdf
from evaluation.services.session import events, stages
from evaluation.services.session.common import (
    OpenedBid,
    lock_evaluation,
    method_of,
    opened_bids,
    require_member,
    require_stage,
)
from evaluation.services.session.marks import qualification_result, qualified_bid_ids, submitted_marks
from evaluation.session_protocol import ReportFiled, ReportReady, ReportRefused, ReportSigned
from tendering import object_keys
from tendering.models import Tender
from tendering.permissions import can_manage
from tendering.services import outcome
from tendering.services.locks import lock_one, lock_tender

logger = logging.getLogger(__name__)

BUILT = "evaluation.report.built"
SIGNED = "evaluation.report.signed"
REFUSED = "evaluation.report.refused"
FILED = "evaluation.report.filed"
# The worker's task that files the report (evaluation.tasks), named so that services do not import the worker.
FILE_TASK = "evaluation.tasks.file_evaluation_report"


def _money(value: Decimal) -> str:
    return str(value.quantize(formulas.CENT))


def _moment(value: Any) -> str | None:
    return format_timestamp(value) if value is not None else None


def _name(member: CommitteeMember) -> str:
    return member.expert.name


# --- the content ----------------------------------------------------------------------------------------------


def _submitted(members: Iterable[CommitteeMember], kind: SheetKind) -> list[Sheet]:
    return list(
        Sheet.objects.filter(member__in=list(members), kind=kind, submitted_at__isnull=False)
        .select_related("member__expert", "signing_key")
        .prefetch_related("marks__bid")
        .order_by("member__specialty__code", "member__draw_rank")
    )


def _mark_out(mark: Mark) -> dict[str, Any]:
    return {
        "bid": str(mark.bid.public_id),
        "item": mark.item,
        "passed": mark.passed,
        "score": _money(mark.score) if mark.score is not None else None,
        "reason": mark.reason,
        "evidence": {"path": mark.evidence_path, "page": mark.evidence_page} if mark.evidence_path else None,
    }


def _sheet_out(sheet: Sheet) -> dict[str, Any]:
    statement = bytes(sheet.statement)
    return {
        "member": sheet.member_id,
        "name": _name(sheet.member),
        "kind": sheet.kind,
        "submitted_at": _moment(sheet.submitted_at),
        "statement_sha256": hashlib.sha256(statement).hexdigest() if statement else None,
        "key_fingerprint": sheet.signing_key.fingerprint if sheet.signing_key else None,
        "marks": [_mark_out(m) for m in sorted(sheet.marks.all(), key=lambda m: (m.bid_id, m.item))],
    }


def committee_result(evaluation: Evaluation) -> dict[str, Any]:
    """The committee's result as the session published it when its stages closed (``stages``: qualification by
    majority, points, price scores, the ranking, from the submitted sheets), keyed by the bids' public ids."""
    tender = evaluation.tender
    method = method_of(tender)
    by_pk: dict[int, OpenedBid] = {o.bid.pk: o for o in opened_bids(tender)}
    verdicts = qualification_result(evaluation) if submitted_marks(evaluation, SheetKind.QUALIFICATION) else None
    qualified = [pk for pk in by_pk if pk in qualified_bid_ids(evaluation)]
    points = stages.points(evaluation, method) if method.scored else {}
    prices = {pk: by_pk[pk].price for pk in qualified}
    factor = evaluation.benchmark_factor if method.price.rule == "benchmark" else None
    ranked = stages.ranking(evaluation, tender, method)
    rank_of = {row.bid: row for row in ranked}
    out_bids = []
    for pk, opened in by_pk.items():
        row = rank_of.get(pk)
        items = verdicts.verdicts.get(pk, {}) if verdicts is not None else {}
        out_bids.append(
            {
                "bid": str(opened.bid.public_id),
                "position": opened.position,
                "bidder": opened.bid.bidder.name,
                "credit_code": opened.bid.bidder.credit_code or "",
                "price": _money(opened.price),
                "qualified": pk in qualified,
                "qualification": {
                    item: {
                        "passed": v.passed,
                        "passed_by": [str(m) for m in v.passed_by],
                        "failed_by": [str(m) for m in v.failed_by],
                    }
                    for item, v in items.items()
                },
                "points": {c: _money(p) for c, p in points.get(pk, {}).items()},
                "technical_points": _opt(row.technical_points if row else None),
                "commercial_points": _opt(row.commercial_points if row else None),
                "price_score": _opt(row.price_score if row else None),
                "total": _opt(row.total if row else None),
                "rank": row.rank if row else None,
            }
        )
    result: dict[str, Any] = {
        "bids": out_bids,
        "ranking": [str(by_pk[row.bid].bid.public_id) for row in ranked],
        "candidates": [str(by_pk[row.bid].bid.public_id) for row in formulas.candidates(ranked)],
    }
    if factor is not None and prices:
        result["benchmark"] = {
            "factor": str(factor),
            "trimmed_mean": _money(formulas.trimmed_mean(prices.values())),
            "benchmark_price": _money(formulas.benchmark(prices.values(), factor)),
        }
    return result


def _opt(value: Decimal | None) -> str | None:
    return _money(value) if value is not None else None


def report_content(evaluation: Evaluation) -> dict[str, Any]:
    """Everything the report says, as the canonical JSON members sign (``REPORT_FORMAT``)."""
    tender = evaluation.tender
    members = list(
        CommitteeMember.objects.filter(evaluation=evaluation)
        .select_related("expert", "specialty")
        .order_by("specialty__code", "draw_rank")
    )
    confirmed = [m for m in members if m.state == MemberState.CONFIRMED]
    names = {m.pk: _name(m) for m in members}
    signing_keys: dict[int, list[str]] = {}
    for owner, fingerprint in PublicKey.objects.filter(
        owner__in=[m.expert.user_id for m in confirmed], purpose=KeyPurpose.SIGNING, revoked_at__isnull=True
    ).values_list("owner_id", "fingerprint"):
        signing_keys.setdefault(owner, []).append(fingerprint)
    signing_keys = {owner: sorted(keys) for owner, keys in signing_keys.items()}
    result = committee_result(evaluation)
    for bid in result["bids"]:
        for verdict in bid["qualification"].values():
            verdict["passed_by"] = [names[int(m)] for m in verdict["passed_by"]]
            verdict["failed_by"] = [names[int(m)] for m in verdict["failed_by"]]
    sheets = _submitted(confirmed, SheetKind.QUALIFICATION) + _submitted(confirmed, SheetKind.SCORING)
    deviations = (
        Deviation.objects.filter(mark__sheet__member__evaluation=evaluation)
        .select_related("mark__bid", "mark__sheet__member__expert")
        .prefetch_related("mark__revisions")
        .order_by("flagged_at", "pk")
    )
    clarifications = Clarification.objects.filter(evaluation=evaluation).select_related("bid", "asked_by__expert")
    messages = DiscussionMessage.objects.filter(evaluation=evaluation).select_related("author")
    return {
        "format": REPORT_FORMAT,
        "evaluation": evaluation.pk,
        "built_at": format_timestamp(clock.now()),
        "tender": {
            "public_id": str(tender.public_id),
            "number": tender.number,
            "title": tender.title,
            "tenderer": tender.tenderer.name,
            "evaluation_method": tender.evaluation_method,
            "method": method_of(tender).to_json(),
        },
        "committee": [
            {
                "member": m.pk,
                "name": _name(m),
                "specialty": m.specialty.name,
                "state": m.state,
                "chair": m.pk == evaluation.chair_id,
                "venue": m.venue,
                "location": m.location,
                "signed_in_at": _moment(m.signed_in_at),
                "replaces": m.replaces_id,
                # The keys the member may sign the report with: a signature by any other key does not check.
                "signing_keys": signing_keys.get(m.expert.user_id, []),
            }
            for m in members
            if m.state in (MemberState.CONFIRMED, MemberState.RECUSED)
        ],
        **result,
        "sheets": [_sheet_out(s) for s in sheets],
        "qualification_disagreements": [
            {"bid": bid["bid"], "item": item, **verdict}
            for bid in result["bids"]
            for item, verdict in bid["qualification"].items()
            if verdict["passed_by"] and verdict["failed_by"]
        ],
        "deviations": [
            {
                "member": d.mark.sheet.member_id,
                "name": _name(d.mark.sheet.member),
                "bid": str(d.mark.bid.public_id),
                "item": d.mark.item,
                "mean": str(d.mean.quantize(formulas.CENT)),
                "percent": str(d.percent),
                "flagged_at": _moment(d.flagged_at),
                "explanation": d.explanation,
                "explained_at": _moment(d.explained_at),
                "revisions": [
                    {
                        "old_score": _money(r.old_score),
                        "new_score": _money(r.new_score),
                        "reason": r.reason,
                        "revised_at": _moment(r.revised_at),
                    }
                    for r in sorted(d.mark.revisions.all(), key=lambda r: (r.revised_at, r.pk))
                ],
            }
            for d in deviations
        ],
        "clarifications": [
            {
                "bid": str(c.bid.public_id),
                "question": c.question,
                "asked_by": _name(c.asked_by),
                "asked_at": _moment(c.asked_at),
                "reply_deadline": _moment(c.reply_deadline),
                "answer": c.answer,
                "answered_at": _moment(c.answered_at),
            }
            for c in clarifications
        ],
        "messages": [{"author": str(m.author), "text": m.text, "created_at": _moment(m.created_at)} for m in messages],
    }


def build_report(evaluation: Evaluation) -> Report:
    """Build the report as the summary stage closes, inside the transaction that closes it (the caller holds
    the evaluation's lock, ``lock_evaluation``); a second report is refused."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("the report is built inside the transaction that closes the summary")
    if Report.objects.filter(evaluation=evaluation).exists():
        raise Conflict(_("评标报告已生成。"), code="report_exists")
    content = canonical_json(report_content(evaluation))
    digest = hashlib.sha256(content).hexdigest()
    report = Report.objects.create(
        evaluation=evaluation, created_at=clock.now(), content=content, content_sha256=digest
    )
    entry = record(
        evaluation.tender.case,
        BUILT,
        {"evaluation_id": evaluation.pk, "report_id": report.pk, "content_sha256": digest, "size": len(content)},
        None,
    )
    report.ledger_seq = entry.seq
    report.save(update_fields=["ledger_seq"])
    events.publish(evaluation, ReportReady(sha256=digest))
    return report


# --- the members' decisions -----------------------------------------------------------------------------------


def _report_of(evaluation: Evaluation) -> Report:
    report = Report.objects.filter(evaluation=evaluation).first()
    if report is None:
        raise NotFound(_("评标报告尚未生成。"), code="no_report")
    return report


def report_statement(member: CommitteeMember) -> bytes:
    """What ``member`` (a confirmed member, ``require_member``) signs to sign the report: canonical JSON."""
    evaluation = Evaluation.objects.get(pk=member.evaluation_id)
    require_stage(evaluation, Stage.REPORT)
    report = _report_of(evaluation)
    return signature_statement(report.content_sha256, evaluation.pk, member.pk)


def _decide(user: Any, tender: Tender) -> tuple[Evaluation, CommitteeMember, Report]:
    """The locked evaluation and report and the member, who has not decided yet."""
    evaluation = lock_evaluation(tender)
    member = require_member(user, evaluation)
    require_stage(evaluation, Stage.REPORT)
    if not Report.objects.filter(evaluation=evaluation).exists():
        raise NotFound(_("评标报告尚未生成。"), code="no_report")
    report = lock_one(Report.objects.filter(evaluation=evaluation))
    if ReportSignature.objects.filter(report=report, member=member).exists():
        raise Conflict(_("您已对评标报告签字或拒绝签字，不能再次操作。"), code="already_decided")
    return evaluation, member, report


def sign_report(user: Any, evaluation: Evaluation, key_fingerprint: str, signature_b64: str) -> ReportSignature:
    """The member signs the report: an ECDSA P-256 signature (base64 DER) over ``report_statement`` with its
    registered, unrevoked signing key ``key_fingerprint``. A forged signature, another's key, a replayed
    signature of another statement and a second decision are refused, changing nothing."""
    tender = evaluation.tender
    with transaction.atomic():
        evaluation, member, report = _decide(user, tender)
        key = PublicKey.objects.filter(
            owner=user, purpose=KeyPurpose.SIGNING, fingerprint=key_fingerprint, revoked_at__isnull=True
        ).first()
        listed = next(
            m["signing_keys"] for m in json.loads(bytes(report.content))["committee"] if m["member"] == member.pk
        )
        if key is None or key.fingerprint not in listed:
            raise InvalidInput({"key": [_("这不是您在评标报告生成时已登记且有效的签名公钥。")]})
        try:
            signature = base64.b64decode(signature_b64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput({"signature": [_("签名不是有效的 base64 文本。")]}) from None
        statement = signature_statement(report.content_sha256, evaluation.pk, member.pk)
        if not verify_signature(bytes(key.spki_der), statement, signature):
            raise InvalidInput({"signature": [_("签名无法用您登记的签名公钥验证：请对本评标报告的签字声明重新签名。")]})
        now = clock.now()
        decision = ReportSignature.objects.create(
            report=report,
            member=member,
            decision=SignatureDecision.SIGNED,
            statement=statement,
            signature=signature,
            signing_key=key,
            signed_at=now,
        )
        entry = record(
            tender.case,
            SIGNED,
            {
                "evaluation_id": evaluation.pk,
                "member_id": member.pk,
                "report_sha256": report.content_sha256,
                "key_fingerprint": key.fingerprint,
                "signature": base64.b64encode(signature).decode(),
                "signed_at": format_timestamp(now),
            },
            user,
        )
        decision.ledger_seq = entry.seq
        decision.save(update_fields=["ledger_seq"])
        events.publish(evaluation, ReportSigned(member=member.pk))
        _file_when_decided(evaluation, report)
    return decision


def refuse_report(member: CommitteeMember, reasons: str) -> ReportSignature:
    """The member refuses to sign, with its reasons (the dissent the report shows); without reasons the
    refusal counts as agreeing with the report (暂行规定 Art 42), and the record says so."""
    reasons = reasons.strip()
    if len(reasons) > 2000:
        raise InvalidInput({"reasons": [_("理由最多 2000 个字符。")]})
    user, tender = member.expert.user, member.evaluation.tender
    with transaction.atomic():
        evaluation, member, report = _decide(user, tender)
        now = clock.now()
        decision = ReportSignature.objects.create(
            report=report, member=member, decision=SignatureDecision.REFUSED, reasons=reasons, signed_at=now
        )
        entry = record(
            tender.case,
            REFUSED,
            {
                "evaluation_id": evaluation.pk,
                "member_id": member.pk,
                "report_sha256": report.content_sha256,
                "reasons": reasons,
                "counted_as_agreeing": not reasons,
                "refused_at": format_timestamp(now),
            },
            user,
        )
        decision.ledger_seq = entry.seq
        decision.save(update_fields=["ledger_seq"])
        events.publish(evaluation, ReportRefused(member=member.pk, reasons=reasons))
        _file_when_decided(evaluation, report)
    return decision


def undecided(evaluation: Evaluation, report: Report) -> list[CommitteeMember]:
    """The confirmed members who have neither signed nor refused."""
    decided = set(ReportSignature.objects.filter(report=report).values_list("member_id", flat=True))
    return [
        m
        for m in CommitteeMember.objects.filter(evaluation=evaluation, state=MemberState.CONFIRMED)
        if m.pk not in decided
    ]


def _file_when_decided(evaluation: Evaluation, report: Report) -> None:
    if not undecided(evaluation, report):
        evaluation_id = evaluation.pk
        transaction.on_commit(lambda: import_string(FILE_TASK).enqueue(evaluation_id))


# --- filing ------------------------------------------------------------------------------------------------------


def _b64(data: bytes | memoryview) -> str:
    return base64.b64encode(bytes(data)).decode()


def signatures_bundle(report: Report) -> dict[str, Any]:
    """``signatures.json``: each member's decision (statement, signature and SPKI when signed) and each
    submitted sheet's statement, signature and SPKI, so that ``evaluation.report_check`` checks them offline."""
    decisions = ReportSignature.objects.filter(report=report).select_related("member__expert", "signing_key")
    content = json.loads(bytes(report.content))
    sheet_members = [s["member"] for s in content["sheets"]]
    sheets = (
        Sheet.objects.filter(member_id__in=sheet_members, submitted_at__isnull=False)
        .select_related("signing_key")
        .order_by("member_id", "kind")
    )
    return {
        "format": BUNDLE_FORMAT,
        "report_sha256": report.content_sha256,
        "members": [
            {
                "member": d.member_id,
                "name": _name(d.member),
                "decision": d.decision,
                "reasons": d.reasons,
                "signed_at": format_timestamp(d.signed_at),
                "statement": _b64(d.statement) if d.statement else None,
                "signature": _b64(d.signature) if d.signature else None,
                "spki": _b64(d.signing_key.spki_der) if d.signing_key else None,
                "key_fingerprint": d.signing_key.fingerprint if d.signing_key else None,
            }
            for d in sorted(decisions, key=lambda d: (d.signed_at, d.pk))
        ],
        "sheets": [
            {
                "member": s.member_id,
                "kind": s.kind,
                "statement": _b64(s.statement),
                "signature": _b64(s.signature),
                "spki": _b64(s.signing_key.spki_der),
            }
            for s in sheets
            if s.signing_key is not None and s.statement and s.signature
        ],
    }


def file_report(evaluation_id: int) -> str:
    """Render, sign (PAdES), store and record the report once every member decided. Idempotent."""
    evaluation = Evaluation.objects.select_related("tender", "tender__tenderer").get(pk=evaluation_id)
    report = Report.objects.filter(evaluation=evaluation).first()
    if report is None:
        return "no report"
    if report.pdf_sha256:
        return "already filed"
    if undecided(evaluation, report):
        return "not decided"
    bundle = signatures_bundle(report)
    last = max(d.signed_at for d in ReportSignature.objects.filter(report=report))
    with translation.override(settings.LANGUAGE_CODE):
        pdf = render_report_pdf(bytes(report.content), canonical_json(bundle), created_at=last)
        signed = sign_pdf(pdf, reason=str(_("评标报告")), location=str(_("电子招标投标交易平台")))
    digest = hashlib.sha256(signed).hexdigest()
    tender = evaluation.tender
    stored = get_object_store().put(
        object_keys.evaluation_report(tender),
        io.BytesIO(signed),
        length=len(signed),
        content_type="application/pdf",
        metadata={"tender": tender.number},
        retention=Retention(RetentionMode.GOVERNANCE, records_retain_until()),
    )
    with transaction.atomic():
        lock_tender(tender.pk)
        if Report.objects.filter(pk=report.pk).exclude(pdf_sha256="").exists():
            return "already filed"  # another worker filed it meanwhile; this copy stays an unused version
        content = json.loads(bytes(report.content))
        outcome.evaluation_reported(
            tender,
            None,
            {
                "evaluation_id": evaluation.pk,
                "report_sha256": report.content_sha256,
                "pdf_sha256": digest,
                "candidates": content["candidates"],
            },
        )
        locked = lock_evaluation(tender)
        report = lock_one(Report.objects.filter(pk=report.pk))
        entry = record(
            tender.case,
            FILED,
            {
                "evaluation_id": evaluation.pk,
                "report_sha256": report.content_sha256,
                "object_key": stored.key,
                "version_id": str(stored.version_id or ""),
                "sha256": digest,
                "size": len(signed),
                "decisions": {str(m["member"]): m["decision"] for m in bundle["members"]},
            },
            None,
        )
        cases.file_stored(
            tender.case,
            "evaluation/evaluation-report.pdf",
            stored,
            sha256=digest,
            content_type="application/pdf",
            platform_signed=True,
        )
        now = clock.now()
        report.object_key, report.pdf_sha256, report.signed_at = stored.key, digest, now
        report.ledger_seq = entry.seq
        report.save(update_fields=["object_key", "pdf_sha256", "signed_at", "ledger_seq"])
        locked.stage, locked.concluded_at = Stage.CONCLUDED, now
        locked.save(update_fields=["stage", "concluded_at"])
        events.publish(locked, ReportFiled(sha256=digest))
    logger.info("evaluation report of tender %s filed (%s)", tender.number, digest)
    return "filed"


# --- reading the filed report -------------------------------------------------------------------------------------


def may_read_report(user: Any, evaluation: Evaluation) -> bool:
    """Committee members (confirmed), the supervisor, regulators and the tender's managers read the filed report."""
    if not getattr(user, "is_authenticated", False):
        return False
    return (
        CommitteeMember.objects.filter(evaluation=evaluation, expert__user=user, state=MemberState.CONFIRMED).exists()
        or evaluation.supervisor_id == user.pk
        or user.has_role(Role.REGULATOR)
        or can_manage(user, evaluation.tender)
    )


def filed_report_pdf(user: Any, tender: Tender) -> bytes:
    """The signed report's PDF bytes, once filed, for those who may read it; "not found" otherwise (a report
    is not told to exist to anyone else). The stored bytes are checked against the SHA-256 the ledger holds."""
    evaluation = Evaluation.objects.select_related("tender").filter(tender=tender).first()
    report = None if evaluation is None else Report.objects.filter(evaluation=evaluation).first()
    if evaluation is None or report is None or not may_read_report(user, evaluation):
        raise NotFound(_("找不到评标报告。"), code="no_report")
    if not report.pdf_sha256:
        raise NotFound(_("评标报告尚未完成签字和归档。"), code="report_not_filed")
    with get_object_store().open(report.object_key) as stored:
        data = bytes(stored.read())
    if hashlib.sha256(data).hexdigest() != report.pdf_sha256:
        raise Conflict(_("存储的评标报告与归档记录不一致，请联系平台管理员。"), code="report_mismatch")
    return data
