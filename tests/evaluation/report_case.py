"""A session that reached its report: sheets, a deviation, a revision, a clarification and a message made
directly from the models (as H3's session would leave them), then ``build_report`` as the summary closes.

The sheets' statements stand in for the session's own (canonical JSON of the marks), signed by each member's
registered key, so the report's bundle and ``evaluation.report_check`` have real signatures to check.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.models import KeyPurpose, PublicKey
from archive.canonical import canonical_json
from archive.storage import get_object_store
from config import clock
from evaluation.models import (
    Clarification,
    Deviation,
    DiscussionMessage,
    Mark,
    MarkRevision,
    Report,
    Sheet,
    SheetKind,
    Stage,
)
from evaluation.services import report as report_service
from evaluation.services.session.common import lock_evaluation
from tests.evaluation.factories import SessionCase

# scores[expert][bid] = (T1, C1); expert 4 scores bid 0's T1 far from the others (a deviation, revised).
SCORES = [
    [("8.00", "7.00"), ("7.50", "8.00"), ("6.00", "6.50"), ("9.00", "7.00"), ("7.00", "7.50")],
    [("8.50", "7.50"), ("7.00", "8.50"), ("6.50", "6.00"), ("8.50", "7.50"), ("7.50", "7.00")],
    [("7.50", "7.00"), ("8.00", "8.00"), ("6.00", "7.00"), ("9.00", "6.50"), ("7.00", "8.00")],
    [("8.00", "6.50"), ("7.50", "7.50"), ("7.00", "6.50"), ("8.00", "7.00"), ("6.50", "7.50")],
    [("3.00", "7.00"), ("7.50", "8.00"), ("6.50", "6.50"), ("9.50", "7.50"), ("7.00", "7.00")],
]
REVISED = "6.00"  # expert 4's new T1 for bid 0


@dataclasses.dataclass
class ReportedCase:
    case: SessionCase
    report: Report

    def decide_all(self, refuse: dict[int, str] | None = None) -> None:
        """Every member signs (``refuse``: member index → reasons, refused instead)."""
        refuse = refuse or {}
        for i, user in enumerate(self.case.experts):
            if i in refuse:
                report_service.refuse_report(self.case.members[i], refuse[i])
                continue
            statement = report_service.report_statement(self.case.members[i])
            report_service.sign_report(
                user, self.case.evaluation, self.case.fingerprint(i), self.case.sign(i, statement)
            )


def _sheet(case: SessionCase, index: int, kind: SheetKind, marks: list[dict[str, Any]]) -> Sheet:
    member = case.members[index]
    now = clock.now()
    sheet = Sheet.objects.create(member=member, kind=kind)
    for m in marks:
        Mark.objects.create(sheet=sheet, updated_at=now, **m)
    statement = canonical_json(
        {
            "format": "test-sheet-statement",
            "member": member.pk,
            "kind": kind,
            "marks": [
                {
                    "bid": str(m["bid"].public_id),
                    "item": m["item"],
                    "passed": m.get("passed"),
                    "score": str(m["score"]) if "score" in m else None,
                }
                for m in marks
            ],
        }
    )
    sheet.statement = statement
    sheet.signature = base64.b64decode(case.sign(index, statement))
    sheet.signing_key = PublicKey.objects.get(fingerprint=case.fingerprint(index), purpose=KeyPurpose.SIGNING)
    sheet.submitted_at = now
    sheet.save()
    return sheet


def reach_report(case: SessionCase) -> ReportedCase:
    """Fill in every sheet of ``case`` (5 bids, 5 experts), close the summary and build the report."""
    evaluation = case.evaluation
    evaluation.chair = case.members[0]
    evaluation.save(update_fields=["chair"])
    for i, member in enumerate(case.members):
        member.venue, member.location, member.signed_in_at = "main" if i < 3 else "sub", f"评标室{i + 1}", clock.now()
        member.save()
    case.clock.advance(minutes=30)
    for i in range(len(case.members)):
        marks = [
            {"bid": bid, "item": item, "passed": not (i == 4 and b == 2 and item == "Q1"), "reason": "符合要求"}
            for b, bid in enumerate(case.bids)
            for item in ("Q1", "Q2")
        ]
        marks[5]["reason"] = "资质证书已过期" if i == 4 else "符合要求"
        _sheet(case, i, SheetKind.QUALIFICATION, marks)
    case.clock.advance(minutes=30)
    for i in range(len(case.members)):
        marks = [
            {
                "bid": bid,
                "item": item,
                "score": Decimal(SCORES[i][b][k]),
                "reason": "施工方案合理" if item == "T1" else "业绩充足",
                "evidence_path": "技术/施工组织设计.pdf" if item == "T1" else "",
                "evidence_page": 12 if item == "T1" else None,
            }
            for b, bid in enumerate(case.bids)
            for k, item in enumerate(("T1", "C1"))
        ]
        _sheet(case, i, SheetKind.SCORING, marks)
    deviating = Mark.objects.get(
        sheet__member=case.members[4], sheet__kind=SheetKind.SCORING, bid=case.bids[0], item="T1"
    )
    case.clock.advance(minutes=5)
    deviation = Deviation.objects.create(
        mark=deviating, mean=Decimal("7.0000"), percent=Decimal("-57.14"), flagged_at=clock.now()
    )
    case.clock.advance(minutes=5)
    MarkRevision.objects.create(
        mark=deviating,
        old_score=deviating.score,
        new_score=Decimal(REVISED),
        reason="复核后调整",
        revised_at=clock.now(),
    )
    deviating.score = Decimal(REVISED)
    deviating.save(update_fields=["score"])
    deviation.revised_at = clock.now()
    deviation.save(update_fields=["revised_at"])
    Clarification.objects.create(
        evaluation=evaluation,
        bid=case.bids[1],
        question="请说明工期安排。",
        asked_by=case.members[0],
        asked_at=clock.now(),
        reply_deadline=clock.now() + dt.timedelta(hours=1),
        answer="工期为一百八十日历天。",
        answered_at=clock.now() + dt.timedelta(minutes=20),
        answered_by=case.bidder_users[1],
    )
    DiscussionMessage.objects.create(
        evaluation=evaluation, author=case.experts[0], text="请各位专家核对资格审查表。", created_at=clock.now()
    )
    case.clock.advance(minutes=30)
    with transaction.atomic():
        locked = lock_evaluation(case.tender)
        report = report_service.build_report(locked)
        locked.stage = Stage.REPORT
        locked.save(update_fields=["stage"])
    case.evaluation.refresh_from_db()
    return ReportedCase(case, report)


def file_it(reported: ReportedCase, refuse: dict[int, str] | None = None) -> bytes:
    """Every member decides (``refuse`` as in ``decide_all``), the report is filed; the stored PDF."""
    reported.decide_all(refuse)
    assert report_service.file_report(reported.case.evaluation.pk) == "filed"
    reported.report.refresh_from_db()
    with get_object_store().open(reported.report.object_key) as stored:
        return bytes(stored.read())
