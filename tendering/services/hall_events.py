"""The opening hall's events: numbered, kept, and sent to their audience after commit.

``publish`` runs inside the service's transaction with the opening's row
locked, so sequence numbers follow the order in which changes commit. The
event is stored (a client that reconnects gets what it missed from the
table) and sent to the audience's group only once the transaction commits:
a rolled-back change is never announced.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from config import clock
from tendering import hall
from tendering.models import Opening, OpeningEvent

logger = logging.getLogger(__name__)

# A client further behind than this gets a fresh snapshot instead of the events.
MAX_REPLAY = 500


def event_frame(event: OpeningEvent) -> dict[str, Any]:
    return {
        "type": "event",
        "seq": event.seq,
        "kind": event.kind,
        "at": event.created_at.isoformat(),
        "data": event.payload,
    }


def publish(opening: Opening, kind: str, payload: dict[str, Any], audience: str = hall.ALL) -> OpeningEvent:
    """Append an event; the caller holds the opening's row lock (``select_for_update``)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("hall events are published inside the transaction that makes the change")
    opening.last_seq += 1
    Opening.objects.filter(pk=opening.pk).update(last_seq=opening.last_seq)
    payload = _plain(payload)
    event = OpeningEvent.objects.create(
        opening=opening, seq=opening.last_seq, kind=kind, audience=audience, payload=payload, created_at=clock.now()
    )
    frame = event_frame(event)
    group = hall.group_name(opening.tender_id, audience)
    transaction.on_commit(lambda: _send(group, frame))
    return event


def _plain(payload: dict[str, Any]) -> dict[str, Any]:
    """Only JSON values cross the channel layer (dates as ISO text, ids as text)."""
    import json

    result: dict[str, Any] = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    return result


def _send(group: str, frame: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "hall.event", "frame": frame})
    except Exception:
        # The change is committed and the event stored: clients catch up when they resume.
        logger.exception("could not send hall event %s to %s", frame.get("seq"), group)


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
