"""The opening hall's part of the room protocol (tendering/room): its commands and one typed model per event kind.

Framework-free (pydantic only). The services publish these models (``hall_events.publish(opening,
BidState(...))``); the consumer (tendering/consumers.py) validates the client's frames against the
commands; the page applies the events with ``frontend/js/lib/hall-reducer.js``. docs/opening.md §5.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from tendering.room.protocol import DB_INT_MAX, Command, Event, event_kinds

ROOM = "hall"

# --- commands ----------------------------------------------------------------------------------------------


class SignIn(Command):
    type: Literal["sign_in"]


class ReleaseKey(Command):
    type: Literal["release_key"]
    bid: uuid.UUID
    file_key: str = Field(max_length=64, description="the 32-byte file key, base64")


class Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    bid: uuid.UUID
    members: list[Annotated[int, Field(ge=0, le=8)]] = Field(
        min_length=1, max_length=9, description="0-based positions"
    )
    part: str = Field(max_length=64)


class Refusal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    statement: str = Field(max_length=2048)
    signature: str = Field(max_length=200)


class SubmitParts(Command):
    type: Literal["submit_parts"]
    parts: list[Part] = Field(max_length=20000)
    refusals: list[Refusal] = Field(default=[], max_length=20000)


class RetryDecryption(Command):
    type: Literal["retry_decryption"]
    bid: uuid.UUID


class ConfirmRecord(Command):
    type: Literal["confirm_record"]


class Objection(Command):
    type: Literal["object"]
    text: str = Field(max_length=20000)


class AnswerObjection(Command):
    type: Literal["answer_objection"]
    objection: int = Field(ge=1, le=DB_INT_MAX)
    text: str = Field(max_length=20000)


class ConcludeDecryption(Command):
    type: Literal["conclude_decryption"]


class CloseOpening(Command):
    type: Literal["close_opening"]


COMMANDS: tuple[type[Command], ...] = (
    SignIn,
    ReleaseKey,
    SubmitParts,
    RetryDecryption,
    ConfirmRecord,
    Objection,
    AnswerObjection,
    ConcludeDecryption,
    CloseOpening,
)

# --- what the events carry ---------------------------------------------------------------------------------


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Moments(_View):
    """When each step of the opening happened (or ends); None: not yet."""

    started_at: dt.datetime
    decryption_ends_at: dt.datetime
    decryption_concluded_at: dt.datetime | None
    record_published_at: dt.datetime | None
    confirmation_ends_at: dt.datetime | None
    closed_at: dt.datetime | None


class FileView(_View):
    path: str
    size: int


class BidView(_View):
    """One bid as the hall shows it; ``price_summary`` and ``files`` only once every bid is final."""

    bid: str
    position: int
    bidder: str
    credit_code: str
    size: int
    state: str
    state_label: str
    key_source: str
    progress_bytes: int
    price_summary: dict[str, Any] | None
    files: list[FileView]
    custodian_check: str
    faults: int
    last_fault: str
    retry_at: dt.datetime | None
    outcome_code: str
    outcome_detail: str
    confirmed_at: dt.datetime | None
    confirmed_by_default: bool


class AttendanceView(_View):
    user: int
    name: str
    organization: str
    roles: list[str]
    signed_in_at: dt.datetime


class ObjectionView(_View):
    id: int
    position: int
    bidder: str
    text: str
    raised_at: dt.datetime
    answer: str
    answered_at: dt.datetime | None


class Suspect(_View):
    position: int
    name: str


# --- one model per event kind ------------------------------------------------------------------------------


class OpeningStarted(Moments, Event):
    kind: ClassVar[str] = "opening.started"


class OpeningMoments(Moments, Event):
    """A step of the opening happened: the moments again, whole."""

    kind: ClassVar[str] = "opening.moments"


class SignedIn(AttendanceView, Event):
    kind: ClassVar[str] = "attendance"


class BidState(BidView, Event):
    """A bid's view changed: the whole view (without prices until the reveal)."""

    kind: ClassVar[str] = "bid.state"


class BidProgress(Event):
    kind: ClassVar[str] = "bid.progress"
    bid: str
    position: int
    bytes: int
    total: int


class BidKeyRefused(Event):
    """A key the bidder released does not match its bid's commitment: for that bidder's eyes only (its
    other devices and tabs learn the count and when it may try again; the other bidders learn nothing)."""

    kind: ClassVar[str] = "bid.key_refused"
    bid: str
    position: int
    refusals: int
    at: dt.datetime
    retry_after: dt.datetime | None


class CustodianSubmitted(Event):
    kind: ClassVar[str] = "custodian.submitted"
    position: int
    name: str
    parts: int
    refusals: int
    at: dt.datetime


class CustodianPartsFailed(Event):
    """Subsets of a bid's parts that do not give its key, with the custodians they point at."""

    kind: ClassVar[str] = "custodian.parts_failed"
    bid: str
    position: int
    failed_subsets: list[list[int]]
    suspects: list[Suspect]


class OpeningRevealed(Event):
    """Every bid final, the record published: every bid's view again, now with prices and files."""

    kind: ClassVar[str] = "opening.revealed"
    bids: list[BidView]


class RecordConfirmed(Event):
    """A bidder confirmed the record, or (``by_default``) let the window pass without objecting."""

    kind: ClassVar[str] = "record.confirmed"
    position: int
    bidder: str
    at: dt.datetime
    by_default: bool = False


class ObjectionChanged(ObjectionView, Event):
    """An objection raised or answered: its whole view."""

    kind: ClassVar[str] = "objection"


class RecordFiled(Event):
    kind: ClassVar[str] = "record.filed"
    sha256: str
    ledger_seq: int


class TenderFailed(Event):
    """The opening closed with fewer than three valid bids: the tender failed (招标失败, 招标投标法 Art 28) and must
    be tendered again. ``reason`` is a code of ``tendering.services.outcome.FailureReason``."""

    kind: ClassVar[str] = "tender.failed"
    reason: str
    opened: int
    bids: int
    failed_at: dt.datetime


EVENTS: dict[str, type[Event]] = event_kinds(
    OpeningStarted,
    OpeningMoments,
    SignedIn,
    BidState,
    BidProgress,
    BidKeyRefused,
    CustodianSubmitted,
    CustodianPartsFailed,
    OpeningRevealed,
    RecordConfirmed,
    ObjectionChanged,
    RecordFiled,
    TenderFailed,
)
