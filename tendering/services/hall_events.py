"""The opening hall's events: typed, numbered, kept, and sent to their audience after commit.

``publish(opening, SomeEvent(...))`` runs inside the service's transaction with the opening's row
locked, so sequence numbers follow the order in which changes commit. The event is stored (a client
that reconnects gets what it missed from the table) and sent to its audience's group only once the
transaction commits, over the process's one long-lived channel-layer connection
(``tendering.room.publisher``): a rolled-back change is never announced.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from config import clock
from tendering.hall_protocol import EVENTS, ROOM
from tendering.models import Opening, OpeningEvent
from tendering.room import groups, protocol
from tendering.room.protocol import MAX_REPLAY, Event
from tendering.room.publisher import send_after_commit

__all__ = ["MAX_REPLAY", "event_frame", "events_after", "publish"]


def event_frame(event: OpeningEvent) -> dict[str, Any]:
    return protocol.event_frame(event.seq, event.kind, event.created_at.isoformat(), event.payload)


def publish(
    opening: Opening, event: Event | str, payload: dict[str, Any] | None = None, audience: str | None = None
) -> OpeningEvent:
    """Append an event; the caller holds the opening's row lock (``select_for_update``).

    ``event`` is one of the hall's typed events (``tendering.hall_protocol``). A kind and a dict are
    still taken, and validated against that kind's model: what no model describes is refused.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("hall events are published inside the transaction that makes the change")
    if isinstance(event, str):
        model = EVENTS.get(event)
        if model is None:
            raise ValueError(f"no hall event of kind {event!r}")
        event = model.model_validate(payload or {})
    elif payload is not None:
        raise TypeError("a typed event carries its own data")
    audience = audience if audience is not None else event.audience
    opening.last_seq += 1
    Opening.objects.filter(pk=opening.pk).update(last_seq=opening.last_seq)
    # Only JSON values are kept and cross the channel layer (dates as ISO text, as the HTTP API writes them).
    data: dict[str, Any] = json.loads(json.dumps(event.model_dump(), cls=DjangoJSONEncoder))
    stored = OpeningEvent.objects.create(
        opening=opening, seq=opening.last_seq, kind=event.kind, audience=audience, payload=data, created_at=clock.now()
    )
    frame = event_frame(stored)
    message = {"type": groups.EVENT_MESSAGE, "frame": frame, "text": json.dumps(frame, ensure_ascii=False)}
    group = groups.group_name(ROOM, opening.tender_id, audience)
    transaction.on_commit(lambda: send_after_commit(group, message))
    return stored


def events_after(
    opening_id: int, seq: int, audiences: Iterable[str], up_to: int | None = None
) -> list[OpeningEvent] | None:
    """The events after ``seq`` that these audiences may see, oldest first; None when too many to replay."""
    qs = OpeningEvent.objects.filter(opening_id=opening_id, seq__gt=seq, audience__in=list(audiences))
    if up_to is not None:
        qs = qs.filter(seq__lte=up_to)
    events = list(qs.order_by("seq")[: MAX_REPLAY + 1])
    if len(events) > MAX_REPLAY:
        return None
    return events
