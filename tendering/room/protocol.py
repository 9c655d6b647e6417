"""The frames every room speaks, as typed models (pydantic; no Django, no Channels).

A connection is refused (an ``error`` frame, then a close code of ``codes.CloseCode``) or greeted
with ``hello``: the room's last sequence number and the largest frame it reads. The client then asks
for a ``snapshot``, or ``resume``s from the last number it saw and gets the events it missed then
``resumed`` (or a fresh snapshot when it is too far behind or names a number the room never gave).
Events follow in sequence order: ``{"type": "event", "seq", "kind", "at", "data"}``, ``data`` one
room's typed model of that ``kind``. Each command may carry ``ref``, echoed in its ``ok`` or ``error``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from tendering.room import groups

# A command's ``ref`` is echoed in its reply: only a short string is (anything else is refused, never echoed).
REF_MAX_CHARS = 64
# Numbers that reach a query fit PostgreSQL's bigint: a larger one is refused in the frame, not by the database.
DB_INT_MAX = 2**63 - 1
# A client further behind than this many events gets a fresh snapshot instead of the events.
MAX_REPLAY = 500


class Command(BaseModel):
    """A frame from the client. Each room's command adds ``type: Literal[...]`` and its fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ref: str | None = Field(default=None, max_length=REF_MAX_CHARS)


class Snapshot(Command):
    type: Literal["snapshot"]


class Resume(Command):
    type: Literal["resume"]
    last_seq: int = Field(ge=0, le=DB_INT_MAX)


class Ping(Command):
    type: Literal["ping"]


# What every room answers the same way, before its own handlers.
BASE_COMMANDS: tuple[type[Command], ...] = (Snapshot, Resume, Ping)


class Event(BaseModel):
    """The ``data`` of one kind of event; a room defines one subclass per kind, with ``kind`` set.

    ``audience`` is who hears it by default (``groups.ALL``: everyone in the room); an event for one
    participant's eyes is published with that participant's audience instead.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: ClassVar[str]
    audience: ClassVar[str] = groups.ALL


def event_kinds(*models: type[Event]) -> dict[str, type[Event]]:
    """A room's table of event kinds, refusing two models of one kind."""
    table: dict[str, type[Event]] = {}
    for model in models:
        if model.kind in table:
            raise ValueError(f"two event models of kind {model.kind!r}")
        table[model.kind] = model
    return table


def hello(seq: int, max_frame_bytes: int) -> dict[str, Any]:
    return {"type": "hello", "seq": seq, "max_frame_bytes": max_frame_bytes}


def event_frame(seq: int, kind: str, at: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event", "seq": seq, "kind": kind, "at": at, "data": data}


def error_frame(ref: str | None, code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "ref": ref, "code": code, "message": message}
    if fields:
        frame["fields"] = fields
    return frame


@dataclasses.dataclass(frozen=True)
class EncodedFrame:
    """A frame already written as JSON text (an object), so that many readers' copies cost no encoding.

    ``with_fields`` puts a reader's own fields (``ref``, ``you``) in front of the shared text."""

    seq: int
    text: str

    def with_fields(self, **fields: Any) -> str:
        own = ",".join(f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=False)}" for k, v in fields.items())
        return "{" + own + "," + self.text[1:] if own else self.text
