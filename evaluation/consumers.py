"""The evaluation session's WebSocket: the room protocol's consumer (tendering/room/consumer.py) with the session's
handlers, each one call to a service (evaluation/services/session). docs/evaluation.md §4.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from django.utils.translation import gettext as _

from accounts.errors import NotFound
from evaluation import session_protocol as sp
from evaluation.services import closing, report
from evaluation.services.session import (
    admission,
    clarifications,
    deviations,
    discussion,
    events,
    marks,
    signing_in,
    views,
)
from evaluation.services.session.common import evaluation_of, require_member
from tendering import permissions
from tendering.models import Tender
from tendering.room import protocol
from tendering.room.codes import ErrorCode
from tendering.room.consumer import Entry, RoomConsumer, handles, in_db_thread

logger = logging.getLogger(__name__)

# What the supervisor may send (everything else is refused: it only watches).
READ_ONLY_TYPES = frozenset({"snapshot", "resume", "ping"})


class SessionConsumer(RoomConsumer):
    """One member's (or the supervisor's) connection to one tender's evaluation session."""

    room = sp.ROOM
    commands = sp.COMMANDS
    tender: Tender
    role: str

    # --- entering, and what the user sees --------------------------------------------------------------

    def enter(self, user: Any) -> Entry:
        try:
            tender = permissions.visible_tender(user, self.scope["url_route"]["kwargs"]["tender_id"], published=True)
        except NotFound:
            raise Tender.DoesNotExist from None
        evaluation, _member, role = admission.require_session(user, tender)
        self.tender, self.role = tender, role
        return Entry(tender.pk, frozenset(admission.audiences(user, role)), evaluation.last_seq)

    async def connect(self) -> None:
        await super().connect()
        if self.groups_joined and self.role == admission.EXPERT:
            await self._presence(True)

    async def disconnect(self, code: int) -> None:
        try:
            if getattr(self, "groups_joined", None) and getattr(self, "role", None) == admission.EXPERT:
                await asyncio.shield(self._presence(False))
        except Exception:
            # Presence is shown, not recorded: a connection that ends while the database is away still leaves.
            logger.exception("could not publish a member's presence")
        await super().disconnect(code)

    @in_db_thread
    def _presence(self, online: bool) -> None:
        discussion.presence(self.command_user(), self.tender, online)

    def command_user(self) -> Any:
        """The connection's user, not read again: every command's service starts with ``member_of``, whose one
        statement finds the user's membership only while the user is active and the member confirmed (the
        supervisor's commands are refused before any database work)."""
        return self.scope["user"]

    def snapshot(self) -> dict[str, Any]:
        user = self.current_user()
        evaluation, member, role = admission.require_session(user, self.tender)
        return views.snapshot(user, self.tender, evaluation, member, role)

    def missed(self, user: Any, after: int, up_to: int | None) -> tuple[list[dict[str, Any]] | None, int]:
        evaluation, _member, role = admission.require_session(user, self.tender)
        found = events.events_after(evaluation.pk, after, admission.audiences(user, role), up_to)
        return (None if found is None else [events.event_frame(e) for e in found]), evaluation.last_seq

    def still_member(self, user: Any) -> bool:
        return admission.may_stay(user, self.tender)

    def listener_user(self) -> Any:
        """The connection's user, not read again: ``may_stay`` reads its active flag in its own one statement."""
        return self.scope["user"]

    async def dispatch_command(self, command: protocol.Command) -> None:
        if self.role != admission.EXPERT and getattr(command, "type", "") not in READ_ONLY_TYPES:
            await self._error(command.ref, ErrorCode.READ_ONLY, _("监督人员只能观看评标，不能操作。"))
            return
        await super().dispatch_command(command)

    # --- the commands ----------------------------------------------------------------------------------

    @handles(sp.SignIn)
    def sign_in(self, user: Any, command: sp.SignIn) -> None:
        signing_in.sign_in(user, self.tender, command.venue, command.location)

    @handles(sp.Declare)
    def declare(self, user: Any, command: sp.Declare) -> None:
        signing_in.declare(user, self.tender, [(d.bid, d.conflict, d.note) for d in command.declarations])

    @handles(sp.VoteChair)
    def vote_chair(self, user: Any, command: sp.VoteChair) -> dict[str, Any]:
        chair = signing_in.vote_chair(user, self.tender, command.candidate)
        return {"chair": chair.pk if chair is not None else None}

    @handles(sp.MarkCommand)
    def mark(self, user: Any, command: sp.MarkCommand) -> None:
        evidence = (command.evidence.path, command.evidence.page) if command.evidence is not None else None
        marks.save_mark(
            user,
            self.tender,
            command.sheet,
            command.bid,
            command.item,
            passed=command.passed,
            score=command.score,
            reason=command.reason,
            evidence=evidence,
        )

    @handles(sp.SheetStatement)
    def sheet_statement(self, user: Any, command: sp.SheetStatement) -> dict[str, Any]:
        statement, sha256 = marks.sheet_statement(user, self.tender, command.sheet)
        return {"statement": statement.decode(), "sha256": sha256}

    @handles(sp.SubmitSheet)
    def submit_sheet(self, user: Any, command: sp.SubmitSheet) -> None:
        marks.submit_sheet(user, self.tender, command.sheet, command.key, command.signature)

    @handles(sp.ExplainDeviation)
    def explain_deviation(self, user: Any, command: sp.ExplainDeviation) -> None:
        deviations.explain_deviation(user, self.tender, command.deviation, command.explanation)

    @handles(sp.ReviseScore)
    def revise_score(self, user: Any, command: sp.ReviseScore) -> None:
        deviations.revise_score(user, self.tender, command.deviation, command.score, command.reason)

    @handles(sp.CloseStage)
    def close_stage(self, user: Any, command: sp.CloseStage) -> dict[str, Any]:
        return {"stage": closing.close_stage(user, self.tender, command.stage).value}

    @handles(sp.AskClarification)
    def ask_clarification(self, user: Any, command: sp.AskClarification) -> dict[str, Any]:
        row = clarifications.ask_clarification(user, self.tender, command.bid, command.question, command.reply_deadline)
        return {"clarification": row.pk}

    @handles(sp.Message)
    def message(self, user: Any, command: sp.Message) -> dict[str, Any]:
        return {"message": discussion.post_message(user, self.tender, command.text).pk}

    # The report's three: evaluation.services.report.

    @handles(sp.ReportStatement)
    def report_statement(self, user: Any, command: sp.ReportStatement) -> dict[str, Any]:
        member = _member(user, self.tender)
        statement = report.report_statement(member)
        return {"statement": statement.decode(), "sha256": hashlib.sha256(statement).hexdigest()}

    @handles(sp.SignReport)
    def sign_report(self, user: Any, command: sp.SignReport) -> None:
        report.sign_report(user, evaluation_of(self.tender), command.key, command.signature)

    @handles(sp.RefuseReport)
    def refuse_report(self, user: Any, command: sp.RefuseReport) -> None:
        report.refuse_report(_member(user, self.tender), command.reasons)


def _member(user: Any, tender: Tender) -> Any:
    return require_member(user, evaluation_of(tender))
