"""What the session shows one user now (its snapshot): public state for every member and the supervisor, an
expert's own drafts to that expert alone, every mark of a stage once its sheets are all in. Never a bidder's."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db.models import Max

from evaluation.models import (
    CommitteeMember,
    ConflictDeclaration,
    Deviation,
    Evaluation,
    Mark,
    MemberState,
    Report,
    SessionEvent,
    Sheet,
    SheetKind,
    Stage,
)
from evaluation.services.session.admission import EXPERT
from evaluation.services.session.clarifications import clarification_view
from evaluation.services.session.common import OpenedBid, method_of, opened_bids
from evaluation.services.session.discussion import message_view
from evaluation.services.session.marks import all_sheets_in, deviation_view, mark_view
from tendering.models import Tender


def anonymous_now(evaluation: Evaluation, tender: Tender) -> bool:
    """暗标: bidders shown as codes in the scoring stage, until the technical scores are locked as it closes."""
    flagged = method_of(tender).anonymous_technical
    return flagged and evaluation.stage == Stage.SCORING and evaluation.technical_locked_at is None


def bid_codes(evaluation: Evaluation, bids: list[OpenedBid]) -> dict[int, str]:
    """Each bid's code (暗标编号): letters in an order that does not follow the opening's positions."""
    ordered = sorted(
        bids, key=lambda b: hashlib.sha256(f"{evaluation.pk}:{evaluation.seed}:{b.bid.public_id}".encode()).digest()
    )
    return {b.bid.pk: f"{chr(ord('A') + i % 26)}{i // 26 or ''}" for i, b in enumerate(ordered)}


def _bid_view(opened: OpenedBid, code: str, anonymous: bool) -> dict[str, Any]:
    return {
        "id": str(opened.bid.public_id),
        "position": None if anonymous else opened.position,
        "code": code,
        "bidder": None if anonymous else opened.bid.bidder.name,
        "price": None if anonymous else f"{opened.price:.2f}",
        "files": [{"path": f["path"], "size": f.get("size")} for f in opened.opening.files or []],
        "response_index": getattr(opened.opening, "response_index", None),
    }


def _online(evaluation: Evaluation) -> dict[int, bool]:
    latest = (
        SessionEvent.objects.filter(evaluation=evaluation, kind="member.presence")
        .values("payload__member")
        .annotate(seq=Max("seq"))
    )
    seqs = [row["seq"] for row in latest]
    return {
        e.payload["member"]: bool(e.payload["online"])
        for e in SessionEvent.objects.filter(evaluation=evaluation, seq__in=seqs)
    }


def snapshot(
    user: Any, tender: Tender, evaluation: Evaluation, member: CommitteeMember | None, role: str
) -> dict[str, Any]:
    evaluation.refresh_from_db()
    method = method_of(tender)
    bids = opened_bids(tender)
    codes = bid_codes(evaluation, bids)
    anonymous = anonymous_now(evaluation, tender)
    members = list(
        CommitteeMember.objects.select_related("expert", "specialty")
        .filter(evaluation=evaluation)
        .order_by("draw_rank", "pk")
    )
    online = _online(evaluation)
    declared = set(
        ConflictDeclaration.objects.filter(member__evaluation=evaluation).values_list("member_id", flat=True)
    )
    submitted: dict[int, set[str]] = {}
    for sheet in Sheet.objects.filter(member__evaluation=evaluation, submitted_at__isnull=False):
        submitted.setdefault(sheet.member_id, set()).add(sheet.kind)
    own: list[dict[str, Any]] = []
    if member is not None and role == EXPERT:
        for mark in Mark.objects.select_related("sheet", "bid").filter(sheet__member=member):
            own.append(mark_view(mark, member.pk, mark.sheet.kind).model_dump(mode="json"))
    revealed: list[dict[str, Any]] = []
    for kind in (SheetKind.QUALIFICATION, SheetKind.SCORING):
        if all_sheets_in(evaluation, kind):
            rows = Mark.objects.select_related("sheet", "bid").filter(
                sheet__member__evaluation=evaluation, sheet__member__state=MemberState.CONFIRMED, sheet__kind=kind
            )
            revealed += [mark_view(m, m.sheet.member_id, kind).model_dump(mode="json") for m in rows.order_by("pk")]
    results = {
        e.payload["stage"]: e.payload["result"]
        for e in SessionEvent.objects.filter(evaluation=evaluation, kind="stage.closed").order_by("seq")
    }
    report = Report.objects.filter(evaluation=evaluation).first()
    return {
        "type": "snapshot",
        "seq": evaluation.last_seq,
        "evaluation": {
            "tender": str(tender.public_id),
            "number": tender.number,
            "title": tender.title,
            "stage": evaluation.stage,
            "stage_label": str(Stage(evaluation.stage).label),
            "chair": evaluation.chair_id,
            "method": method.to_json(),
            "anonymous": anonymous,
            "technical_locked_at": evaluation.technical_locked_at,
        },
        "bids": [_bid_view(b, codes[b.bid.pk], anonymous) for b in bids],
        "members": [
            {
                "id": m.pk,
                "name": m.expert.name,
                "specialty": m.specialty.name,
                "venue": m.venue,
                "location": m.location,
                "signed_in": m.signed_in_at is not None,
                "online": online.get(m.pk, False),
                "state": m.state,
                "declared": m.pk in declared,
                "sheets": {k: k in submitted.get(m.pk, set()) for k in (SheetKind.QUALIFICATION, SheetKind.SCORING)},
            }
            for m in members
        ],
        "you": {"member": member.pk if member is not None else None, "role": role, "marks": own},
        "revealed": revealed,
        "deviations": [
            deviation_view(d).model_dump(mode="json")
            for d in Deviation.objects.select_related("mark", "mark__sheet", "mark__bid")
            .filter(mark__sheet__member__evaluation=evaluation)
            .order_by("pk")
        ],
        "clarifications": [
            clarification_view(c).model_dump(mode="json") for c in evaluation.clarifications.select_related("bid")
        ],
        "messages": [message_view(m).model_dump(mode="json") for m in evaluation.messages.select_related("author")],
        "results": results,
        "report": None if report is None else {"sha256": report.content_sha256, "signed_at": report.signed_at},
    }
