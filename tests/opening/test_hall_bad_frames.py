"""Any JSON the hall's socket receives, of any type and depth in any field, gets an error frame and changes nothing:
never a close 1011 (the consumer crashed), never an echo of unbounded input, never a value the database refuses.

Through the ASGI application Daphne serves, signed in as the suite's hall tests are
(tests/opening/test_hall_consumer.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tendering.consumers import HallConsumer
from tendering.room.protocol import REF_MAX_CHARS
from tests.opening.conftest import OpeningCase
from tests.opening.test_hall_consumer import Sockets, frame, hall_case, hall_state, sockets

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
__all__ = ["hall_case", "sockets"]  # fixtures, used by name

INVALID = "消息内容不符合要求。"
UNKNOWN = "未知的消息类型。"
MALFORMED = "消息不是有效的 JSON。"
NUL_REFUSED = "不得包含空字符（U+0000）。"


def error(code: str, message: str, ref: str | None = None, **fields: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {"type": "error", "ref": ref, "code": code, "message": message}
    if fields:
        found["fields"] = fields
    return found


async def still_usable(socket: WebsocketCommunicator, ref: str = "still-there") -> None:
    await socket.send_json_to({"type": "ping", "ref": ref})
    assert await frame(socket) == {"type": "pong", "ref": ref}


def nested(depth: int, inner: str = "0") -> str:
    return "[" * depth + inner + "]" * depth


async def test_a_type_of_another_json_type_gets_unknown_type_and_changes_nothing(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    bidder, _hello = await sockets.enter(hall_case.entries[0].user, hall_case.tender.public_id)
    before = await hall_state(hall_case.tender)
    for kind in (["snapshot"], {"snapshot": 1}, 1, 1.5, None, True, ""):
        await bidder.send_json_to({"type": kind, "ref": "t"})
        assert await frame(bidder) == error("unknown_type", UNKNOWN, "t"), kind
        await still_usable(bidder)
    assert await hall_state(hall_case.tender) == before


async def test_json_nested_deeper_than_the_decoder_gets_malformed_frame_and_the_socket_stays_open(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    bidder, _hello = await sockets.enter(hall_case.entries[0].user, hall_case.tender.public_id)
    before = await hall_state(hall_case.tender)
    # 100 000 brackets: 200 kB, well inside the frame limit, far deeper than any recursion limit.
    for text in (
        nested(100_000),
        '{"type": "object", "text": ' + nested(100_000) + "}",
        '{"a":' * 50_000 + "1" + "}" * 50_000,
    ):
        await bidder.send_to(text_data=text)
        assert await frame(bidder) == error("malformed_frame", MALFORMED)
        await still_usable(bidder)
    assert await hall_state(hall_case.tender) == before


async def test_deep_but_decodable_values_in_any_field_get_invalid_frame(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    bidder, _hello = await sockets.enter(hall_case.entries[0].user, hall_case.tender.public_id)
    before = await hall_state(hall_case.tender)
    deep = nested(500)
    bid = str(hall_case.entries[0].bid.public_id)
    for field, text in [
        ("text", '{"type": "object", "ref": "o", "text": ' + deep + "}"),
        ("parts", '{"type": "submit_parts", "ref": "o", "parts": ' + deep + "}"),
        (
            "parts.0.members.0",
            '{"type": "submit_parts", "ref": "o", "parts": [{"bid": "'
            + bid
            + '", "part": "", "members": ['
            + deep
            + "]}]}",
        ),
        ("last_seq", '{"type": "resume", "ref": "o", "last_seq": ' + deep + "}"),
    ]:
        await bidder.send_to(text_data=text)
        reply = await frame(bidder)
        assert reply["code"] == "invalid_frame" and reply["ref"] == "o", reply
        assert any(name.startswith(field) for name in reply["fields"]), (field, reply)
        await still_usable(bidder)
    assert await hall_state(hall_case.tender) == before


async def test_a_nul_in_any_string_or_key_is_refused_before_any_service_sees_it(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    bidder, _hello = await sockets.enter(hall_case.entries[0].user, hall_case.tender.public_id)
    before = await hall_state(hall_case.tender)
    cases = [
        ({"type": "object", "ref": "n", "text": "异议\x00"}, {"text": [NUL_REFUSED]}),
        ({"type": "answer_objection", "ref": "n", "objection": 1, "text": "\x00"}, {"text": [NUL_REFUSED]}),
        ({"type": "object", "ref": "n", "text": "ok", "ex\x00tra": 1}, {"ex\x00tra": [NUL_REFUSED]}),
        (
            {"type": "submit_parts", "ref": "n", "parts": [{"bid": "\x00", "members": [0], "part": "a\x00"}]},
            {"parts.0.bid": [NUL_REFUSED], "parts.0.part": [NUL_REFUSED]},
        ),
    ]
    for command, fields in cases:
        await bidder.send_json_to(command)
        assert await frame(bidder) == error("invalid_frame", INVALID, "n", **fields), command
        await still_usable(bidder)
    # A NUL in the ref itself: refused (the short ref is still echoed, JSON-escaped, for the client to match).
    await bidder.send_json_to({"type": "ping", "ref": "p\x00"})
    assert await frame(bidder) == {**error("invalid_frame", INVALID, "p\x00"), "fields": {"ref": [NUL_REFUSED]}}
    assert await hall_state(hall_case.tender) == before


async def test_numbers_beyond_what_the_database_holds_are_refused_in_the_frame(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    bidder, _hello = await sockets.enter(hall_case.entries[0].user, hall_case.tender.public_id)
    before = await hall_state(hall_case.tender)
    for command, field in [
        ({"type": "resume", "ref": "r", "last_seq": 2**63}, "last_seq"),
        ({"type": "answer_objection", "ref": "r", "objection": 10**30, "text": "答复"}, "objection"),
        (
            {
                "type": "submit_parts",
                "ref": "r",
                "parts": [{"bid": str(hall_case.entries[0].bid.public_id), "members": [10**300], "part": ""}],
            },
            "parts.0.members.0",
        ),
    ]:
        await bidder.send_json_to(command)
        reply = await frame(bidder)
        assert reply["code"] == "invalid_frame" and list(reply["fields"]) == [field], reply
        await still_usable(bidder)
    assert await hall_state(hall_case.tender) == before


async def test_a_ref_is_echoed_only_when_it_is_a_short_string(hall_case: OpeningCase, sockets: Sockets) -> None:
    bidder, _hello = await sockets.enter(hall_case.entries[0].user, hall_case.tender.public_id)
    before = await hall_state(hall_case.tender)
    longest = "r" * REF_MAX_CHARS
    await bidder.send_json_to({"type": "dance", "ref": longest})
    assert await frame(bidder) == error("unknown_type", UNKNOWN, longest)
    for ref in ("r" * (REF_MAX_CHARS + 1), "r" * 100_000, ["r"], {"r": 1}, 7):
        await bidder.send_json_to({"type": "dance", "ref": ref})
        assert await frame(bidder) == error("unknown_type", UNKNOWN), ref
        await bidder.send_json_to({"type": "ping", "ref": ref})
        reply = await frame(bidder)
        assert reply["code"] == "invalid_frame" and reply["ref"] is None and list(reply["fields"]) == ["ref"], reply
        assert len(json.dumps(reply)) < 1000
    await still_usable(bidder)
    assert await hall_state(hall_case.tender) == before


async def test_an_error_names_a_bounded_number_of_fields_with_bounded_names(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    bidder, _hello = await sockets.enter(hall_case.entries[0].user, hall_case.tender.public_id)
    before = await hall_state(hall_case.tender)
    await bidder.send_json_to({"type": "ping", "ref": "f", **{"k" * 10_000 + str(i): i for i in range(50)}})
    reply = await frame(bidder)
    assert reply["code"] == "invalid_frame" and reply["ref"] == "f"
    assert 0 < len(reply["fields"]) <= 20 and all(len(name) <= 64 for name in reply["fields"])
    await bidder.send_json_to({"type": "submit_parts", "ref": "f", "parts": [{"members": "x"}] * 5000})
    reply = await frame(bidder)
    assert reply["code"] == "invalid_frame" and 0 < len(reply["fields"]) <= 20
    await still_usable(bidder)
    assert await hall_state(hall_case.tender) == before


# --- any JSON at all ---------------------------------------------------------------------------------------------

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_field_names = st.sampled_from(
    ["type", "ref", "last_seq", "bid", "file_key", "parts", "members", "part", "text", "objection"]
) | st.text(max_size=8)
_types = st.sampled_from(sorted(HallConsumer.command_types)) | _values
# Read-only for a regulator: every command it may send either fails or only reads (snapshot, resume, ping).
_frames = st.one_of(
    _values,
    st.fixed_dictionaries({"type": _types}, optional={"ref": _values}).flatmap(
        lambda base: st.dictionaries(_field_names, _values, max_size=4).map(lambda extra: {**extra, **base})
    ),
)


def generated_frames(count: int) -> list[str]:
    """``count`` frames drawn by hypothesis: any JSON value,
    and command-like objects with values of any type in any field.
    """
    drawn: list[str] = []

    @seed(7)
    @hypothesis_settings(max_examples=count, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_frames)
    def draw(value: Any) -> None:
        drawn.append(json.dumps(value, ensure_ascii=False))

    draw()
    return drawn


async def test_any_json_frame_gets_a_reply_the_socket_stays_open_and_a_refused_frame_changes_nothing(
    hall_case: OpeningCase, sockets: Sockets, settings: Any
) -> None:
    # 600 frames as fast as the test sends them: above any connection's rate limit, which is not what this tests.
    settings.ROOM_COMMAND_BURST = 10_000
    regulator, _seq = await sockets.following(hall_case.personas.regulator, hall_case.tender)
    frames = generated_frames(300)
    assert len(frames) == 300
    refused = 0
    for number, text in enumerate(frames):
        before = await hall_state(hall_case.tender)
        await regulator.send_to(text_data=text)
        # The reply (or replies: a resume sends the events it missed, then resumed) end before the ping's pong.
        await regulator.send_json_to({"type": "ping", "ref": f"after-{number}"})
        replies = []
        while True:
            reply = await frame(regulator)
            if reply == {"type": "pong", "ref": f"after-{number}"}:
                break
            replies.append(reply)
        assert replies, text
        assert all(r["type"] in {"error", "ok", "snapshot", "resumed", "pong", "event"} for r in replies), (
            text,
            replies,
        )
        if replies[0]["type"] == "error":
            refused += 1
            assert replies[0]["ref"] is None or (
                isinstance(replies[0]["ref"], str) and len(replies[0]["ref"]) <= REF_MAX_CHARS
            )
            assert await hall_state(hall_case.tender) == before, text
    # Most drawn frames are nonsense; the few that are valid commands
    # (a regulator's snapshot, resume, ping, sign-in) are answered.
    assert refused > 200
