"""Every channel-layer group name of every room, built here and nowhere else.

A group is one audience of one room: ``all`` (everyone entitled to the room), ``staff`` (who runs or
supervises it) and one per participant (``bidder:<organization>``, ``custodian:<user>``; the
evaluation adds ``expert:<user>``). A connection joins the groups of its user's audiences only, so a
bidder never joins another bidder's group, nor a custodian's or an expert's.
"""

from __future__ import annotations

# The channel-layer message type of a room's event (a consumer's ``room_event`` handles it).
EVENT_MESSAGE = "room.event"
# The message that tells every connection of a room that an event of a narrower audience than ``all`` took a
# number (its number and audience, never its content): a consumer outside that audience moves past the number
# without reading the room's table (``RoomConsumer.room_passed``).
PASSED_MESSAGE = "room.passed"

ALL = "all"
STAFF = "staff"


def bidder(organization_id: int) -> str:
    return f"bidder:{organization_id}"


def custodian(user_id: int) -> str:
    return f"custodian:{user_id}"


def expert(user_id: int) -> str:
    return f"expert:{user_id}"


def group_name(room: str, room_id: int, audience: str) -> str:
    """The group of one audience of one room (Channels allows letters, digits, '-', '.' and '_' only)."""
    return f"{room}.{room_id}.{audience.replace(':', '.')}"


def passed_message(seq: int, audience: str) -> dict[str, object]:
    """What the ``all`` group hears of event ``seq`` published to ``audience`` alone."""
    return {"type": PASSED_MESSAGE, "seq": seq, "audience": audience}
