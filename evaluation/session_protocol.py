"""The evaluation session's part of the room protocol (tendering/room): its commands and one typed model per event.

Framework-free (pydantic only). Room ``session``, room id = the tender's pk; audiences ``all`` (every member and
the supervisor), ``staff`` (the supervisor) and ``expert:<user id>`` (one member alone). Decimals travel as
strings; a bid is named by its public UUID. docs/evaluation.md §4.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from tendering.room import groups
from tendering.room.protocol import DB_INT_MAX, Command, Event, event_kinds

ROOM = "session"

SheetName = Literal["qualification", "scoring"]
StageName = Literal["sign_in", "qualification", "scoring", "price", "summary", "report"]


def expert_audience(user_id: int) -> str:
    """The audience of one member (its own drafts): ``expert:<user id>``."""
    return groups.expert(user_id)


# --- commands ----------------------------------------------------------------------------------------------


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignIn(Command):
    type: Literal["sign_in"]
    venue: Literal["main", "sub"]
    location: str = Field(min_length=1, max_length=200)


class Declaration(_Part):
    bid: uuid.UUID
    conflict: bool
    note: str = Field(default="", max_length=500)


class Declare(Command):
    type: Literal["declare"]
    declarations: list[Declaration] = Field(min_length=1, max_length=200)


class VoteChair(Command):
    type: Literal["vote_chair"]
    candidate: int = Field(ge=1, le=DB_INT_MAX)


class Evidence(_Part):
    path: str = Field(min_length=1, max_length=1024)
    page: int = Field(ge=1, le=100000)


class MarkCommand(Command):
    type: Literal["mark"]
    sheet: SheetName
    bid: uuid.UUID
    item: str = Field(min_length=1, max_length=16)
    passed: bool | None = None
    score: str | None = Field(default=None, min_length=1, max_length=20)
    reason: str = Field(default="", max_length=2000)
    evidence: Evidence | None = None


class SheetStatement(Command):
    type: Literal["sheet_statement"]
    sheet: SheetName


class SubmitSheet(Command):
    type: Literal["submit_sheet"]
    sheet: SheetName
    key: str = Field(pattern=r"^[0-9a-f]{64}$")
    signature: str = Field(min_length=8, max_length=200)


class ExplainDeviation(Command):
    type: Literal["explain_deviation"]
    deviation: int = Field(ge=1, le=DB_INT_MAX)
    explanation: str = Field(min_length=1, max_length=2000)


class ReviseScore(Command):
    type: Literal["revise_score"]
    deviation: int = Field(ge=1, le=DB_INT_MAX)
    score: str = Field(min_length=1, max_length=20)
    reason: str = Field(min_length=1, max_length=2000)


class CloseStage(Command):
    type: Literal["close_stage"]
    stage: StageName


class AskClarification(Command):
    type: Literal["ask_clarification"]
    bid: uuid.UUID
    question: str = Field(min_length=1, max_length=2000)
    reply_deadline: dt.datetime


class Message(Command):
    type: Literal["message"]
    text: str = Field(min_length=1, max_length=2000)


class ReportStatement(Command):
    type: Literal["report_statement"]


class SignReport(Command):
    type: Literal["sign_report"]
    key: str = Field(pattern=r"^[0-9a-f]{64}$")
    signature: str = Field(min_length=8, max_length=200)


class RefuseReport(Command):
    type: Literal["refuse_report"]
    reasons: str = Field(default="", max_length=2000)


COMMANDS: tuple[type[Command], ...] = (
    SignIn,
    Declare,
    VoteChair,
    MarkCommand,
    SheetStatement,
    SubmitSheet,
    ExplainDeviation,
    ReviseScore,
    CloseStage,
    AskClarification,
    Message,
    ReportStatement,
    SignReport,
    RefuseReport,
)

# --- what the events carry -----------------------------------------------------------------------------------


class MarkView(_Part):
    """One entry of a sheet (a draft for its expert; everyone's once the stage's sheets are all in)."""

    member: int
    sheet: SheetName
    bid: str
    item: str
    passed: bool | None
    score: str | None
    reason: str
    evidence: dict[str, Any] | None
    updated_at: dt.datetime


class DeviationView(_Part):
    id: int
    member: int
    bid: str
    item: str
    score: str
    mean: str
    percent: str | None
    explanation: str
    explained_at: dt.datetime | None
    revised_at: dt.datetime | None


class ClarificationView(_Part):
    id: int
    bid: str
    question: str
    asked_by: int
    asked_at: dt.datetime
    reply_deadline: dt.datetime
    answer: str
    answered_at: dt.datetime | None


class MessageView(_Part):
    id: int
    author: int
    name: str
    text: str
    created_at: dt.datetime


# --- one model per event kind ------------------------------------------------------------------------------


class MemberSignedIn(Event):
    kind: ClassVar[str] = "member.signed_in"
    member: int
    venue: str
    location: str
    signed_in_at: dt.datetime


class MemberDeclared(Event):
    kind: ClassVar[str] = "member.declared"
    member: int
    conflicts: int


class MemberRecused(Event):
    kind: ClassVar[str] = "member.recused"
    member: int


class MemberReplaced(Event):
    kind: ClassVar[str] = "member.replaced"
    member: int
    replacement: int | None


class MemberPresence(Event):
    kind: ClassVar[str] = "member.presence"
    member: int
    online: bool


class ChairVoteCast(Event):
    """A vote was cast (who voted, not for whom, until the chair is elected)."""

    kind: ClassVar[str] = "chair.vote"
    member: int
    votes: int


class ChairElected(Event):
    kind: ClassVar[str] = "chair.elected"
    member: int
    votes: dict[str, int]


class SheetSaved(MarkView, Event):
    """An expert's own draft entry, for its own eyes (its other tabs and processes follow)."""

    kind: ClassVar[str] = "sheet.saved"
    audience: ClassVar[str] = "expert"  # published with expert_audience(user id)


class SheetSubmitted(Event):
    kind: ClassVar[str] = "sheet.submitted"
    member: int
    sheet: SheetName


class ScoresRevealed(Event):
    kind: ClassVar[str] = "scores.revealed"
    sheet: SheetName
    marks: list[MarkView]


class DeviationFlagged(DeviationView, Event):
    kind: ClassVar[str] = "deviation.flagged"


class DeviationExplained(DeviationView, Event):
    kind: ClassVar[str] = "deviation.explained"


class ScoreRevised(DeviationView, Event):
    kind: ClassVar[str] = "score.revised"
    old_score: str
    reason: str


class StageClosed(Event):
    kind: ClassVar[str] = "stage.closed"
    stage: str
    result: dict[str, Any]


class StageOpened(Event):
    kind: ClassVar[str] = "stage.opened"
    stage: str


class ClarificationAsked(ClarificationView, Event):
    kind: ClassVar[str] = "clarification.asked"


class ClarificationAnswered(ClarificationView, Event):
    kind: ClassVar[str] = "clarification.answered"


class MessagePosted(MessageView, Event):
    kind: ClassVar[str] = "message.posted"


class ReportReady(Event):
    kind: ClassVar[str] = "report.ready"
    sha256: str


class ReportSigned(Event):
    kind: ClassVar[str] = "report.signed"
    member: int


class ReportRefused(Event):
    kind: ClassVar[str] = "report.refused"
    member: int
    reasons: str


class ReportFiled(Event):
    kind: ClassVar[str] = "report.filed"
    sha256: str


class TenderFailed(Event):
    kind: ClassVar[str] = "tender.failed"
    reason: str
    message: str


EVENTS = event_kinds(
    MemberSignedIn,
    MemberDeclared,
    MemberRecused,
    MemberReplaced,
    MemberPresence,
    ChairVoteCast,
    ChairElected,
    SheetSaved,
    SheetSubmitted,
    ScoresRevealed,
    DeviationFlagged,
    DeviationExplained,
    ScoreRevised,
    StageClosed,
    StageOpened,
    ClarificationAsked,
    ClarificationAnswered,
    MessagePosted,
    ReportReady,
    ReportSigned,
    ReportRefused,
    ReportFiled,
    TenderFailed,
)
