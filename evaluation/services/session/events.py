"""The session's events: typed, numbered, kept, and sent to their audience after commit (as the hall's are).

``publish(evaluation, SomeEvent(...))`` runs inside the service's transaction with the evaluation's row locked
(``lock_evaluation``), so numbers follow the order in which changes commit. The event is stored in
``SessionEvent`` (a client that reconnects, to any process, gets what it missed from the table) and sent to its
audience's group only once the transaction commits (and its number, with no content, to the ``all`` group when
its audience is narrower). No bidder is ever an audience.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from config import clock
from evaluation.models import Evaluation, SessionEvent
from evaluation.session_protocol import EVENTS, ROOM
from tendering.room import groups, protocol
from tendering.room.protocol import MAX_REPLAY, Event
from tendering.room.publisher import send_event_after_commit


def event_frame(event: SessionEvent) -> dict[str, Any]:
    return protocol.event_frame(event.seq, event.kind, event.created_at.isoformat(), event.payload)


def publish(evaluation: Evaluation, event: Event, audience: str | None = None) -> SessionEvent:
    """Append ``event`` (one of ``evaluation.session_protocol``'s models); the caller holds the evaluation's lock."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("session events are published inside the transaction that makes the change")
    if EVENTS.get(event.kind) is not type(event):
        raise ValueError(f"no session event of kind {event.kind!r}")
    audience = audience if audience is not None else event.audience
    if audience not in (groups.ALL, groups.STAFF) and not audience.startswith("expert:"):
        raise ValueError(f"no session audience {audience!r}")
    evaluation.last_seq += 1
    Evaluation.objects.filter(pk=evaluation.pk).update(last_seq=evaluation.last_seq)
    data: dict[str, Any] = json.loads(json.dumps(event.model_dump(), cls=DjangoJSONEncoder))
    stored = SessionEvent.objects.create(
        evaluation=evaluation,
        seq=evaluation.last_seq,
        kind=event.kind,
        audience=audience,
        payload=data,
        created_at=clock.now(),
    )
    frame = event_frame(stored)
    message = {"type": groups.EVENT_MESSAGE, "frame": frame, "text": json.dumps(frame, ensure_ascii=False)}
    tender_id = evaluation.tender_id
    # An event for one member or the supervisor alone is also announced, by its number only, to the session's
    # ``all`` group: every other connection moves past it without reading the table (tendering/room/publisher.py).
    transaction.on_commit(lambda: send_event_after_commit(ROOM, tender_id, audience, message))
    return stored


def events_after(
    evaluation_id: int, seq: int, audiences: Iterable[str], up_to: int | None = None
) -> list[SessionEvent] | None:
    """The events after ``seq`` these audiences may see, oldest first; None when too many to replay."""
    qs = SessionEvent.objects.filter(evaluation_id=evaluation_id, seq__gt=seq, audience__in=list(audiences))
    if up_to is not None:
        qs = qs.filter(seq__lte=up_to)
    events = list(qs.order_by("seq")[: MAX_REPLAY + 1])
    return None if len(events) > MAX_REPLAY else events
