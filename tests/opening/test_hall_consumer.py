"""The opening hall's WebSocket (tendering/consumers.py), through the ASGI application Daphne serves, signed in
with a session cookie: refusals, bad frames, the snapshot, live events by audience, resuming, a supervisor who
only watches, and membership checked again after connecting.

The consumer reaches the database from worker threads, so these tests use a transactional database; every
test has its own tender (and so its own groups), and with the in-memory layer the groups are emptied after it.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections
from django.test import Client

from accounts.models import Role, RoleGrant, User
from config.asgi import application
from tendering import hall_protocol
from tendering.models import BidOpening, BidOpeningState, Opening, OpeningEvent, Tender
from tendering.room.consumer import close_db_threads_connections
from tendering.services import decryption, hall_events
from tendering.services.opening import admission, confirmations, keys, views
from tests.js.conftest import run_node_test
from tests.opening.conftest import OpeningCase

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

# Generous: the consumer's database work runs in a thread, and CI machines are slow.
TIMEOUT = 10
ROOT = Path(__file__).resolve().parents[2]
REDUCER_TEST = ROOT / "tests" / "js" / "hall-reducer.test.mjs"
HALL_FRAMES = ROOT / "tests" / "js" / "fixtures" / "hall-frames.json"
NOT_IN_HALL = "您不是本项目开标的参加人：只有招标人、代理机构、投标人、密钥保管人和监督人员可以进入开标大厅。"


# --- connecting -----------------------------------------------------------------------------------------------


def session_cookie(user: User) -> bytes:
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


class Sockets:
    """The connections a test opens, each closed after it."""

    def __init__(self) -> None:
        self.open: list[WebsocketCommunicator] = []

    async def enter(self, user: User | None, tender_id: Any) -> tuple[WebsocketCommunicator, dict[str, Any]]:
        """Connect as ``user`` (None: not signed in); the first frame the server sends."""
        headers = [(b"origin", b"http://testserver")]
        if user is not None:
            headers.append((b"cookie", await database_sync_to_async(session_cookie)(user)))
        communicator = WebsocketCommunicator(application, f"/ws/tenders/{tender_id}/hall/", headers=headers)
        self.open.append(communicator)
        connected, _subprotocol = await communicator.connect(timeout=TIMEOUT)
        assert connected
        return communicator, await frame(communicator)

    async def following(self, user: User, tender: Tender) -> tuple[WebsocketCommunicator, int]:
        """Connect and resume from the hello's number: from then on the server sends every event."""
        communicator, hello = await self.enter(user, tender.public_id)
        assert hello["type"] == "hello"
        await communicator.send_json_to({"type": "resume", "last_seq": hello["seq"]})
        assert await frame(communicator) == {"type": "resumed", "ref": None, "seq": hello["seq"]}
        return communicator, hello["seq"]

    async def leave(self, communicator: WebsocketCommunicator) -> None:
        self.open.remove(communicator)
        await communicator.disconnect(timeout=TIMEOUT)


@pytest_asyncio.fixture
async def sockets(transactional_db: Any) -> AsyncIterator[Sockets]:
    opened = Sockets()
    yield opened
    for communicator in opened.open:
        await communicator.disconnect(timeout=TIMEOUT)
    # The consumers' database work ran in asgiref's thread, whose connections outlive the test
    # (CONN_MAX_AGE) and would keep PostgreSQL from dropping the test database at the end.
    await database_sync_to_async(connections.close_all)()
    await asyncio.to_thread(close_db_threads_connections)
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        # SQLite gives the next test's tender the same id, and so the same group names.
        await layer.flush()


@pytest.fixture
def hall_case(opening_case: OpeningCase) -> OpeningCase:
    """The opening case with the clock just after the opening time and the hall open."""
    opening_case.at_opening()
    return opening_case


async def frame(communicator: WebsocketCommunicator) -> dict[str, Any]:
    received: dict[str, Any] = await communicator.receive_json_from(timeout=TIMEOUT)
    return received


async def reply_and_event(communicator: WebsocketCommunicator) -> tuple[dict[str, Any], dict[str, Any]]:
    """A command's reply and the event its change published, which may come in either order."""
    first, second = await frame(communicator), await frame(communicator)
    return (second, first) if first["type"] == "event" else (first, second)


async def close_code(communicator: WebsocketCommunicator) -> int:
    message = await communicator.receive_output(timeout=TIMEOUT)
    assert message["type"] == "websocket.close", message
    code: int = message["code"]
    return code


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def on_the_wire(value: Any) -> Any:
    """A value as JSON carries it, dates as the HTTP API and the hall's events write them."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


# --- reading the database from the test's event loop ----------------------------------------------------------


@database_sync_to_async
def hall_state(tender: Tender) -> tuple[int, int, list[str]]:
    """What a refused or bad frame must leave as it was: the hall's number, its events, every bid's state."""
    opening = Opening.objects.get(tender=tender)
    states = list(BidOpening.objects.filter(opening=opening).order_by("position").values_list("state", flat=True))
    return opening.last_seq, OpeningEvent.objects.filter(opening=opening).count(), states


@database_sync_to_async
def service_snapshot(user: User, tender: Tender, ref: str | None) -> dict[str, Any]:
    result: dict[str, Any] = on_the_wire({**views.snapshot(User.objects.get(pk=user.pk), tender), "ref": ref})
    return result


@database_sync_to_async
def stored_frames(tender: Tender, after: int) -> list[dict[str, Any]]:
    events = OpeningEvent.objects.filter(opening__tender=tender, seq__gt=after).order_by("seq")
    return [on_the_wire(hall_events.event_frame(e)) for e in events]


@database_sync_to_async
def run_worker(tender: Tender) -> list[str]:
    ready = BidOpening.objects.filter(opening__tender=tender, state=BidOpeningState.KEY_READY).order_by("position")
    return [decryption.decrypt_bid(pk) for pk in ready.values_list("pk", flat=True)]


# --- refusals -------------------------------------------------------------------------------------------------


async def test_a_visitor_who_is_not_signed_in_is_refused_with_4401(hall_case: OpeningCase, sockets: Sockets) -> None:
    visitor, first = await sockets.enter(None, hall_case.tender.public_id)
    assert first == {"type": "error", "code": "not_authenticated", "message": "请先登录。"}
    assert await close_code(visitor) == 4401


@pytest.mark.parametrize("revoked_by", ["password_changed", "user_deactivated"])
async def test_a_session_revoked_after_signing_in_is_refused_with_4401_and_changes_nothing(
    hall_case: OpeningCase, sockets: Sockets, revoked_by: str
) -> None:
    bidder = hall_case.entries[0].user
    cookie = await database_sync_to_async(session_cookie)(bidder)

    @database_sync_to_async
    def revoke() -> None:
        user = User.objects.get(pk=bidder.pk)
        if revoked_by == "password_changed":
            user.set_password("a new password 8f3e")  # the session's password hash no longer matches
        else:
            user.is_active = False
        user.save()

    await revoke()
    before = await hall_state(hall_case.tender)
    communicator = WebsocketCommunicator(
        application,
        f"/ws/tenders/{hall_case.tender.public_id}/hall/",
        headers=[(b"origin", b"http://testserver"), (b"cookie", cookie)],
    )
    sockets.open.append(communicator)
    connected, _subprotocol = await communicator.connect(timeout=TIMEOUT)
    assert connected
    assert await frame(communicator) == {"type": "error", "code": "not_authenticated", "message": "请先登录。"}
    assert await close_code(communicator) == 4401
    assert await hall_state(hall_case.tender) == before


async def test_an_expert_outside_the_procedure_is_refused_with_4403(hall_case: OpeningCase, sockets: Sockets) -> None:
    expert, first = await sockets.enter(hall_case.personas.expert, hall_case.tender.public_id)
    assert first == {"type": "error", "code": "not_in_hall", "message": NOT_IN_HALL}
    assert await close_code(expert) == 4403


async def test_a_bidder_is_refused_with_4409_before_the_opening_time_and_the_hall_stays_unopened(
    opening_case: OpeningCase, sockets: Sockets
) -> None:
    bidder, first = await sockets.enter(opening_case.entries[0].user, opening_case.tender.public_id)
    assert first == {
        "type": "error",
        "code": "hall_not_open",
        "message": "开标大厅将于开标时间 2026-04-01 09:00 开放。",
    }
    assert await close_code(bidder) == 4409
    assert not await database_sync_to_async(Opening.objects.filter(tender=opening_case.tender).exists)()


@pytest.mark.parametrize("tender_id", [str(uuid.uuid4()), "not-a-tender"])
async def test_an_unknown_tender_is_refused_with_4404(hall_case: OpeningCase, sockets: Sockets, tender_id: str) -> None:
    bidder, first = await sockets.enter(hall_case.entries[0].user, tender_id)
    assert first == {"type": "error", "code": "not_found", "message": "找不到该招标项目。"}
    assert await close_code(bidder) == 4404


# --- bad frames -----------------------------------------------------------------------------------------------


async def test_bad_frames_get_an_error_change_nothing_and_leave_the_connection_usable(
    hall_case: OpeningCase, sockets: Sockets, settings: Any
) -> None:
    settings.HALL_FRAME_MAX_BYTES = 256
    bidder, hello = await sockets.enter(hall_case.entries[0].user, hall_case.tender.public_id)
    assert hello == {"type": "hello", "seq": 1, "max_frame_bytes": 256}
    before = await hall_state(hall_case.tender)

    def error(code: str, message: str, ref: str | None = None, **fields: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {"type": "error", "ref": ref, "code": code, "message": message}
        if fields:
            found["fields"] = fields
        return found

    # 90 Chinese characters are 270 bytes in UTF-8: the limit counts bytes, not characters.
    too_large = json.dumps({"type": "object", "text": "异" * 90}, ensure_ascii=False)
    assert len(too_large) < 256 < len(too_large.encode())
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"bytes_data": b'{"type": "ping"}'}, error("binary_frame", "只接受 JSON 文本帧。")),
        ({"text_data": too_large}, error("frame_too_large", "消息过大：上限为 256 字节。")),
        ({"text_data": "not json"}, error("malformed_frame", "消息不是有效的 JSON。")),
        ({"text_data": '{"type": "dance", "ref": "d1"}'}, error("unknown_type", "未知的消息类型。", "d1")),
        ({"text_data": '["ping"]'}, error("unknown_type", "未知的消息类型。")),
        (
            {"text_data": '{"type": "release_key", "ref": "k1", "bid": "x"}'},
            error(
                "invalid_frame",
                "消息内容不符合要求。",
                "k1",
                bid=["Input should be a valid UUID, invalid character: found `x` at 0"],
                file_key=["Field required"],
            ),
        ),
        (
            {"text_data": '{"type": "ping", "ref": "p1", "extra": 1}'},
            error("invalid_frame", "消息内容不符合要求。", "p1", extra=["Extra inputs are not permitted"]),
        ),
    ]
    for sent, expected in cases:
        await bidder.send_to(**sent)
        assert await frame(bidder) == expected, sent
        await bidder.send_json_to({"type": "ping", "ref": "still-there"})
        assert await frame(bidder) == {"type": "pong", "ref": "still-there"}
    assert await hall_state(hall_case.tender) == before


# --- staying connected ---------------------------------------------------------------------------------------


async def test_a_connection_left_idle_longer_than_the_layers_blocking_read_still_hears_events(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    # channels_redis waits for a message with a blocking read of brpop_timeout seconds; a client-side socket
    # timeout as short as that (redis-py 8's default) tears every idle consumer down.
    bidder, seq = await sockets.following(hall_case.entries[0].user, hall_case.tender)
    await asyncio.sleep(getattr(get_channel_layer(), "brpop_timeout", 0) + 1)
    await database_sync_to_async(admission.sign_in)(hall_case.personas.tenderer, hall_case.tender)
    heard = await frame(bidder)
    assert (heard["seq"], heard["kind"]) == (seq + 1, "attendance")
    await bidder.send_json_to({"type": "ping", "ref": "awake"})
    assert await frame(bidder) == {"type": "pong", "ref": "awake"}


# --- the snapshot ---------------------------------------------------------------------------------------------


async def test_a_bidders_snapshot_is_current_to_the_halls_number_and_marks_its_own_bid_among_the_named_others(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    a = hall_case.entries[0]
    bidder, hello = await sockets.enter(a.user, hall_case.tender.public_id)
    await bidder.send_json_to({"type": "snapshot", "ref": "s1"})
    snapshot = await frame(bidder)
    last_seq, _events, _states = await hall_state(hall_case.tender)
    assert snapshot["type"] == "snapshot" and snapshot["ref"] == "s1"
    assert snapshot["seq"] == hello["seq"] == last_seq
    assert snapshot["roles"] == ["bidder"]
    # The bidders are named at the opening: each sees who else bid, and which bid is its own.
    assert [(b["position"], b["bidder"], b["own"], b["state"]) for b in snapshot["bids"]] == [
        (1, "红土建设", True, "awaiting_key"),
        (2, "宏达路桥", False, "awaiting_key"),
        (3, "赣州市政工程", False, "awaiting_key"),
    ]
    # The whole frame is the service's view, its dates written as the HTTP API and the events write them.
    assert snapshot == await service_snapshot(a.user, hall_case.tender, "s1")


async def test_participants_asking_at_once_share_one_build_of_the_hall_each_with_its_own_bid_marked(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    from tendering.consumers import HALL_VIEWS

    case = hall_case
    readers = [case.entries[0].user, case.entries[1].user, case.personas.regulator, case.custodians[0]]
    connected = [(await sockets.enter(user, case.tender.public_id))[0] for user in readers]
    before = HALL_VIEWS.builds
    for communicator in connected:
        await communicator.send_json_to({"type": "snapshot"})
    snapshots = [await frame(communicator) for communicator in connected]
    assert HALL_VIEWS.builds == before + 1
    assert [[b["own"] for b in s["bids"]] for s in snapshots] == [
        [True, False, False],
        [False, True, False],
        [False, False, False],
        [False, False, False],
    ]
    for user, snapshot in zip(readers, snapshots, strict=True):
        assert snapshot == await service_snapshot(user, case.tender, None)

    # A change moves the number: the next reader gets a new build, with the change in it.
    await database_sync_to_async(admission.sign_in)(case.personas.tenderer, case.tender)
    late, _hello = await sockets.enter(case.entries[2].user, case.tender.public_id)
    await late.send_json_to({"type": "snapshot"})
    fresh = await frame(late)
    assert HALL_VIEWS.builds == before + 2
    assert fresh["seq"] == snapshots[0]["seq"] + 1
    assert [a["name"] for a in fresh["attendance"]] == [a["name"] for a in snapshots[0]["attendance"]] + [
        case.personas.tenderer.display_name or case.personas.tenderer.get_username()
    ]


class EventsHeard:
    """Counts the events the hall's consumers have been handed by the layer (whatever they did with them)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from tendering.consumers import HallConsumer

        self.count = 0
        self.changed = asyncio.Condition()
        original = HallConsumer.room_event

        async def room_event(consumer: HallConsumer, message: dict[str, Any]) -> None:
            await original(consumer, message)
            async with self.changed:
                self.count += 1
                self.changed.notify_all()

        monkeypatch.setattr(HallConsumer, "room_event", room_event)

    async def reach(self, count: int) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: self.count >= count), TIMEOUT)


async def test_the_halls_messages_never_wait_for_channels_shared_database_thread(
    hall_case: OpeningCase, sockets: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Channels' dispatch hops onto its one thread (shared by every connection) before each message; the hall's
    # database work runs in the rooms' own threads, so its consumer skips that hop: connect, frames, events.
    import channels.consumer

    hops = []

    async def counted() -> None:
        hops.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    bidder, hello = await sockets.enter(hall_case.entries[0].user, hall_case.tender.public_id)
    assert hello["type"] == "hello"
    snapshot = await snapshot_of(bidder)
    await database_sync_to_async(admission.sign_in)(hall_case.personas.tenderer, hall_case.tender)
    event = await frame(bidder)
    assert (event["seq"], event["kind"]) == (snapshot["seq"] + 1, "attendance")
    assert hops == []


async def test_an_event_heard_before_the_snapshot_is_sent_follows_a_snapshot_older_than_it_once_and_in_order(
    hall_case: OpeningCase, sockets: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tendering.consumers import HALL_VIEWS

    case = hall_case
    heard = EventsHeard(monkeypatch)
    bidder, hello = await sockets.enter(case.entries[0].user, case.tender.public_id)
    # The snapshot's reading began before the event committed: its build is hooked to give the hall as it was.
    older = await database_sync_to_async(HALL_VIEWS.get)(case.tender)
    assert older.seq == hello["seq"]
    monkeypatch.setattr(HALL_VIEWS, "get", lambda tender: older)
    # In the window between joining the groups and sending the snapshot, an event reaches the consumer.
    await database_sync_to_async(admission.sign_in)(case.personas.tenderer, case.tender)
    await heard.reach(1)
    assert await bidder.receive_nothing()  # nothing is sent before the snapshot the client asked for

    await bidder.send_json_to({"type": "snapshot", "ref": "s"})
    snapshot = await frame(bidder)
    assert (snapshot["type"], snapshot["seq"]) == ("snapshot", hello["seq"])
    assert await frame(bidder) == (await stored_frames(case.tender, hello["seq"]))[0]
    assert await bidder.receive_nothing()

    # Then the next event, once: the one heard early is not sent again.
    await database_sync_to_async(admission.sign_in)(case.personas.regulator, case.tender)
    next_event = await frame(bidder)
    assert (next_event["seq"], next_event["kind"]) == (hello["seq"] + 2, "attendance")
    assert await bidder.receive_nothing()


@pytest.mark.parametrize("asks", ["snapshot", "resume"])
async def test_an_event_heard_before_the_snapshot_or_resume_that_already_holds_it_is_not_sent_twice(
    hall_case: OpeningCase, sockets: Sockets, monkeypatch: pytest.MonkeyPatch, asks: str
) -> None:
    case = hall_case
    heard = EventsHeard(monkeypatch)
    bidder, hello = await sockets.enter(case.entries[0].user, case.tender.public_id)
    await database_sync_to_async(admission.sign_in)(case.personas.tenderer, case.tender)
    await heard.reach(1)
    event = (await stored_frames(case.tender, hello["seq"]))[0]

    if asks == "snapshot":
        await bidder.send_json_to({"type": "snapshot"})
        snapshot = await frame(bidder)
        assert (snapshot["type"], snapshot["seq"]) == ("snapshot", event["seq"])
    else:
        await bidder.send_json_to({"type": "resume", "last_seq": hello["seq"]})
        assert await frame(bidder) == event
        assert await frame(bidder) == {"type": "resumed", "ref": None, "seq": event["seq"]}
    assert await bidder.receive_nothing()


# --- live events ----------------------------------------------------------------------------------------------


async def test_a_key_released_over_the_socket_is_acknowledged_and_announced_with_the_next_number(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    case = hall_case
    a = case.entries[0]
    tenderer, seq = await sockets.following(case.personas.tenderer, case.tender)
    regulator, _seq = await sockets.following(case.personas.regulator, case.tender)
    bidder, _seq = await sockets.following(a.user, case.tender)

    await bidder.send_json_to(
        {"type": "release_key", "ref": "wrong", "bid": str(a.bid.public_id), "file_key": b64(bytes(32))}
    )
    refused = (
        "该密钥与投标文件签名清单中的密钥承诺不符：它不是密封此投标文件所用的密钥。请用您投标时的加密私钥重新解密。"
    )
    error, told = await reply_and_event(bidder)
    assert error == {
        "type": "error",
        "ref": "wrong",
        "code": "invalid_input",
        "message": refused,
        "fields": {"file_key": [refused]},
    }
    # The refusal is the bidder's own business: its sockets hear it, nobody else's.
    assert (told["seq"], told["kind"], told["data"]["refusals"]) == (seq + 1, "bid.key_refused", 1)
    assert (await hall_state(case.tender))[2] == ["awaiting_key", "awaiting_key", "awaiting_key"]
    assert await tenderer.receive_nothing(timeout=0.5)
    assert await regulator.receive_nothing()

    await bidder.send_json_to(
        {"type": "release_key", "ref": "right", "bid": str(a.bid.public_id), "file_key": b64(a.file_key())}
    )
    assert await frame(bidder) == {"type": "ok", "ref": "right"}
    org = a.user.organization
    assert org is not None
    announced = {
        "type": "event",
        "seq": seq + 2,
        "kind": "bid.state",
        "at": (case.tender.opening_time + dt.timedelta(minutes=1)).isoformat(),
        "data": {
            "bid": str(a.bid.public_id),
            "position": 1,
            "bidder": "红土建设",
            "credit_code": org.credit_code,
            "size": a.bid.size,
            "state": "key_ready",
            "state_label": "密钥已就绪",
            "key_source": "bidder",
            "progress_bytes": 0,
            "price_summary": None,
            "files": [],
            "custodian_check": "",
            "faults": 0,
            "last_fault": "",
            "retry_at": None,
            "outcome_code": "",
            "outcome_detail": "",
            "confirmed_at": None,
            "confirmed_by_default": False,
        },
    }
    for watcher in (tenderer, regulator, bidder):
        assert await frame(watcher) == announced
    assert (await hall_state(case.tender))[2] == ["key_ready", "awaiting_key", "awaiting_key"]


async def test_a_refused_key_is_told_to_its_bidder_alone_and_never_to_another_bidder(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    case = hall_case
    a, b = case.entries[0], case.entries[1]
    own_tab, seq = await sockets.following(a.user, case.tender)
    other_bidder, _seq = await sockets.following(b.user, case.tender)
    custodian, _seq = await sockets.following(case.custodians[0], case.tender)
    sender, _seq = await sockets.following(a.user, case.tender)

    await sender.send_json_to(
        {"type": "release_key", "ref": "wrong", "bid": str(a.bid.public_id), "file_key": b64(bytes(32))}
    )
    error, heard = await reply_and_event(sender)
    assert error["code"] == "invalid_input"
    assert (heard["seq"], heard["kind"]) == (seq + 1, "bid.key_refused")
    assert heard["data"]["bid"] == str(a.bid.public_id) and heard["data"]["refusals"] == 1
    assert await frame(own_tab) == heard
    assert await other_bidder.receive_nothing(timeout=0.5)
    assert await custodian.receive_nothing()

    # The next public event reaches the other bidder across the gap, and the gap is not filled with the private one.
    await database_sync_to_async(admission.sign_in)(case.personas.tenderer, case.tender)
    public = await frame(other_bidder)
    assert (public["seq"], public["kind"]) == (seq + 2, "attendance")
    assert await frame(own_tab) == public
    assert await frame(custodian) == public
    assert await other_bidder.receive_nothing()
    # Nor does resuming from before it replay it to the other bidder, while its own bidder gets both.
    await other_bidder.send_json_to({"type": "resume", "ref": "r", "last_seq": seq})
    assert await frame(other_bidder) == public
    assert await frame(other_bidder) == {"type": "resumed", "ref": "r", "seq": seq + 2}
    await own_tab.send_json_to({"type": "resume", "ref": "r", "last_seq": seq})
    assert [await frame(own_tab), await frame(own_tab)] == [heard, public]
    assert await frame(own_tab) == {"type": "resumed", "ref": "r", "seq": seq + 2}


async def test_events_that_never_reach_this_process_layer_arrive_from_the_rooms_table_once_and_in_order(
    hall_case: OpeningCase, sockets: Sockets, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """The embedded default's in-memory layer: the worker (another process) publishes into its own."""
    case = hall_case
    settings.ROOM_CATCH_UP_SECONDS = 0.2
    bidder, seq = await sockets.following(case.entries[0].user, case.tender)
    # As for another process's events, nothing reaches this process's layer.
    monkeypatch.setattr("tendering.room.publisher.publisher.send", lambda *args, **kwargs: None)
    await database_sync_to_async(admission.sign_in)(case.personas.tenderer, case.tender)
    await database_sync_to_async(admission.sign_in)(case.personas.regulator, case.tender)
    stored = await stored_frames(case.tender, seq)
    assert [event["seq"] for event in stored] == [seq + 1, seq + 2]
    assert [await frame(bidder), await frame(bidder)] == stored
    assert await bidder.receive_nothing(timeout=0.5)


# --- resuming -------------------------------------------------------------------------------------------------


async def test_a_client_that_reconnects_gets_exactly_the_events_it_missed_then_resumed(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    case = hall_case
    a, b = case.entries[0], case.entries[1]
    first, _hello = await sockets.enter(b.user, case.tender.public_id)
    await first.send_json_to({"type": "snapshot"})
    seen = (await frame(first))["seq"]
    await sockets.leave(first)

    await database_sync_to_async(admission.sign_in)(case.personas.tenderer, case.tender)
    await database_sync_to_async(keys.release_key)(a.user, case.tender, a.bid.public_id, a.file_key())

    again, hello = await sockets.enter(b.user, case.tender.public_id)
    assert hello["seq"] == seen + 2
    await again.send_json_to({"type": "resume", "ref": "r1", "last_seq": seen})
    missed = [await frame(again), await frame(again)]
    assert [(m["seq"], m["kind"]) for m in missed] == [(seen + 1, "attendance"), (seen + 2, "bid.state")]
    assert missed == await stored_frames(case.tender, seen)
    assert await frame(again) == {"type": "resumed", "ref": "r1", "seq": seen + 2}
    assert await again.receive_nothing()


async def test_resuming_from_a_number_the_hall_never_gave_gets_a_snapshot(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    b = hall_case.entries[1]
    bidder, hello = await sockets.enter(b.user, hall_case.tender.public_id)
    await bidder.send_json_to({"type": "resume", "ref": "r2", "last_seq": hello["seq"] + 5})
    assert await frame(bidder) == await service_snapshot(b.user, hall_case.tender, "r2")


async def snapshot_of(communicator: WebsocketCommunicator) -> dict[str, Any]:
    await communicator.send_json_to({"type": "snapshot"})
    while (found := await frame(communicator))["type"] != "snapshot":
        pass
    return found


async def reply_to(communicator: WebsocketCommunicator, command: dict[str, Any]) -> dict[str, Any]:
    """The reply to ``command``, past the events that come before it."""
    await communicator.send_json_to(command)
    while (reply := await frame(communicator))["type"] == "event":
        pass
    return reply


async def test_the_events_after_an_old_snapshot_applied_by_the_pages_reducer_give_the_fresh_snapshot(
    hall_case: OpeningCase, sockets: Sockets, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Any
) -> None:
    """Zulip's verify_action, across languages: the frames each participant got over a whole opening are recorded,
    and the page's own reducer (frontend/js/lib/hall-reducer.js, under Node) must turn each old snapshot and its
    events into that participant's fresh snapshot."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed, so the page's reducer cannot be run")
    # Progress is announced every few KiB instead of every 8 MiB, so these small bids report some.
    monkeypatch.setattr(decryption, "PROGRESS_STEP", 2048)
    settings.OPENING_PROGRESS_SECONDS = 0
    case = hall_case
    a, b = case.entries[0], case.entries[1]
    watchers = {
        "bidder whose key is refused once": a.user,
        "another bidder": b.user,
        "supervisor": case.personas.regulator,
        "custodian": case.custodians[2],
    }
    old: dict[str, dict[str, Any]] = {}
    listening: dict[str, WebsocketCommunicator] = {}
    for who, user in watchers.items():
        listening[who], _hello = await sockets.enter(user, case.tender.public_id)
        old[who] = await snapshot_of(listening[who])

    # A whole opening: sign-ins, a refused key and the right one, two custodians' parts, the worker, the
    # conclusion and the record's publication, a confirmation, an objection and its answer, and the close.
    tenderer, _seq = await sockets.following(case.personas.tenderer, case.tender)
    bidder_a, _seq = await sockets.following(a.user, case.tender)
    for person in (case.personas.tenderer, a.user, case.custodians[0]):
        await database_sync_to_async(admission.sign_in)(person, case.tender)
    release = {"type": "release_key", "ref": "k", "bid": str(a.bid.public_id)}
    assert (await reply_to(bidder_a, {**release, "file_key": b64(bytes(32))}))["code"] == "invalid_input"
    assert await reply_to(bidder_a, {**release, "file_key": b64(a.file_key())}) == {"type": "ok", "ref": "k"}
    # The second custodian's parts are corrupt: the subsets it is in fail, naming it; the third's give the keys.
    for index in (0, 1, 2):
        custodian, _seq = await sockets.following(case.custodians[index], case.tender)
        parts = await database_sync_to_async(case.parts_of)(index, corrupt=index == 1)
        submission = {
            "type": "submit_parts",
            "ref": "p",
            "parts": [{"bid": str(p.bid), "members": list(p.members), "part": b64(p.part)} for p in parts],
        }
        assert await reply_to(custodian, submission) == {"type": "ok", "ref": "p", "parts": len(parts), "refusals": 0}
    assert await run_worker(case.tender) == ["opened", "opened", "opened"]
    assert await reply_to(tenderer, {"type": "conclude_decryption", "ref": "c"}) == {"type": "ok", "ref": "c"}
    await database_sync_to_async(confirmations.confirm_record)(a.user, case.tender)
    objection = await database_sync_to_async(confirmations.raise_objection)(b.user, case.tender, "第 2 标段报价有误。")
    await database_sync_to_async(confirmations.answer_objection)(
        case.personas.tenderer, case.tender, objection.pk, "已核对，报价无误。"
    )
    opening = await database_sync_to_async(Opening.objects.get)(tender=case.tender)
    assert opening.confirmation_ends_at is not None
    case.clock.set(opening.confirmation_ends_at + dt.timedelta(minutes=1))
    assert await reply_to(tenderer, {"type": "close_opening", "ref": "x"}) == {"type": "ok", "ref": "x"}

    last_seq, _events, states = await hall_state(case.tender)
    assert states == ["opened", "opened", "opened"]
    recordings = []
    for who, communicator in listening.items():
        events: list[dict[str, Any]] = []
        while not events or events[-1]["seq"] < last_seq:
            events.append(await frame(communicator))
        assert [e["type"] for e in events] == ["event"] * len(events)
        recordings.append({"who": who, "old": old[who], "events": events, "fresh": await snapshot_of(communicator)})
    heard = {r["who"]: {e["kind"] for e in r["events"]} for r in recordings}
    # Every kind but the hall's opening (before anyone connected), the filed PDF (the worker's, later) and the
    # failure (three bids opened; tests/opening/test_failed_hall.py records a failed close).
    assert heard["bidder whose key is refused once"] == set(hall_protocol.EVENTS) - {
        "opening.started",
        "record.filed",
        "tender.failed",
    }
    assert heard["another bidder"] == heard["bidder whose key is refused once"] - {"bid.key_refused"}
    assert heard["supervisor"] == heard["custodian"] == heard["another bidder"]
    # What the reducer must reproduce changed: every bid opened, confirmed (two by default), the objection answered.
    fresh = recordings[0]["fresh"]
    assert [(x["state"], x["confirmed_by_default"]) for x in fresh["bids"]] == [
        ("opened", False),
        ("opened", True),
        ("opened", True),
    ]
    assert fresh["bids"][0]["key_refusals"] == 1 and "key_refusals" not in recordings[1]["fresh"]["bids"][0]

    recorded = tmp_path / "hall-frames.json"
    text = json.dumps({"event_kinds": sorted(hall_protocol.EVENTS), "recordings": recordings}, ensure_ascii=False)
    recorded.write_text(text, encoding="utf-8")
    if os.environ.get("ETENDER_RECORD_HALL_FRAMES"):
        # Refreshes the copy the Node test reads on its own (tests/js/test_hall_reducer.py).
        HALL_FRAMES.write_text(json.dumps(json.loads(text), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    run_node_test(node, REDUCER_TEST, {"HALL_FRAMES": str(recorded)})


# --- a supervisor only watches --------------------------------------------------------------------------------


async def test_a_regulator_cannot_release_a_key_conclude_or_close_and_nothing_changes(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    case = hall_case
    a = case.entries[0]
    regulator, _seq = await sockets.following(case.personas.regulator, case.tender)
    before = await hall_state(case.tender)
    release = {"type": "release_key", "ref": "k", "bid": str(a.bid.public_id), "file_key": b64(a.file_key())}
    refused = [
        (release, "只有投标人可以解密自己的投标文件。"),
        ({"type": "conclude_decryption", "ref": "k"}, "只有招标人或代理机构可以结束解密。"),
        ({"type": "close_opening", "ref": "k"}, "只有招标人或代理机构可以结束开标。"),
    ]
    for command, message in refused:
        await regulator.send_json_to(command)
        assert await frame(regulator) == {
            "type": "error",
            "ref": "k",
            "code": "not_allowed_in_hall",
            "message": message,
        }
    assert await regulator.receive_nothing()
    assert await hall_state(case.tender) == before

    # The very frame the regulator sent, from the bidder whose key it is.
    bidder, _seq = await sockets.following(a.user, case.tender)
    await bidder.send_json_to(release)
    assert await frame(bidder) == {"type": "ok", "ref": "k"}
    assert (await frame(regulator))["data"]["state"] == "key_ready"


# --- membership, checked again --------------------------------------------------------------------------------


async def test_a_bidder_whose_role_is_withdrawn_after_connecting_is_refused_at_resume_and_closed_with_4403(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    b = hall_case.entries[1]
    bidder, seq = await sockets.following(b.user, hall_case.tender)
    await database_sync_to_async(RoleGrant.objects.filter(user=b.user, role=Role.BIDDER).delete)()
    await bidder.send_json_to({"type": "resume", "ref": "r", "last_seq": seq})
    assert await frame(bidder) == {"type": "error", "ref": "r", "code": "not_in_hall", "message": NOT_IN_HALL}
    assert await close_code(bidder) == 4403


async def test_a_bidder_whose_role_is_withdrawn_after_connecting_can_no_longer_release_its_key(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    a = hall_case.entries[0]
    bidder, _seq = await sockets.following(a.user, hall_case.tender)
    before = await hall_state(hall_case.tender)
    await database_sync_to_async(RoleGrant.objects.filter(user=a.user, role=Role.BIDDER).delete)()
    await bidder.send_json_to(
        {"type": "release_key", "ref": "k", "bid": str(a.bid.public_id), "file_key": b64(a.file_key())}
    )
    assert await frame(bidder) == {"type": "error", "ref": "k", "code": "not_in_hall", "message": NOT_IN_HALL}
    assert await hall_state(hall_case.tender) == before


async def test_a_listener_whose_role_is_withdrawn_stops_hearing_the_hall(
    hall_case: OpeningCase, sockets: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tendering.consumers import HallConsumer

    monkeypatch.setattr(HallConsumer, "membership_recheck_seconds", 0.0)
    b = hall_case.entries[1]
    listener, _seq = await sockets.following(b.user, hall_case.tender)
    await database_sync_to_async(RoleGrant.objects.filter(user=b.user, role=Role.BIDDER).delete)()
    # It sends nothing; the next event it would hear closes it instead.
    await database_sync_to_async(admission.sign_in)(hall_case.personas.tenderer, hall_case.tender)
    assert await close_code(listener) == 4403


# --- statements and retries over the socket --------------------------------------------------------------------


@database_sync_to_async
def submission_frame(case: OpeningCase, index: int, refused: tuple[str, tuple[int, ...]]) -> dict[str, Any]:
    """Custodian ``index``'s parts over the socket,
    its part of ``refused`` (bid, subset) replaced by a signed statement.
    """
    from tendering.sealing import fingerprint
    from tendering.sealing.refusal import PartRefusal, sign_refusal

    signing = case.personas.custodian_signing_keys[index]
    parts = [p for p in case.parts_of(index) if (str(p.bid), p.members) != refused]
    refusal = PartRefusal(
        str(case.tender.public_id), refused[0], refused[1], index, "hpke_open_failed", fingerprint(signing.public_key())
    )
    statement, signature = sign_refusal(refusal, signing)
    return {
        "type": "submit_parts",
        "ref": "p",
        "parts": [{"bid": str(p.bid), "members": list(p.members), "part": b64(p.part)} for p in parts],
        "refusals": [{"statement": b64(statement), "signature": b64(signature)}],
    }


@database_sync_to_async
def hold_up(bid_opening: BidOpening) -> None:
    """The bid as a store fault leaves it: waiting out its back-off."""
    BidOpening.objects.filter(pk=bid_opening.pk).update(
        state=BidOpeningState.KEY_READY,
        faults=2,
        last_fault="对象存储故障",
        retry_at=bid_opening.opening.decryption_ends_at,
    )


async def test_a_custodian_s_statement_and_a_manager_s_retry_go_over_the_socket(
    hall_case: OpeningCase, sockets: Sockets
) -> None:
    case = hall_case
    a = case.entries[0]
    custodian, _seq = await sockets.following(case.custodians[0], case.tender)
    tenderer, _seq = await sockets.following(case.personas.tenderer, case.tender)
    regulator, _seq = await sockets.following(case.personas.regulator, case.tender)
    await custodian.send_json_to(await submission_frame(case, 0, (str(a.bid.public_id), (0, 1))))
    while (reply := await frame(custodian))["type"] == "event":
        pass
    assert reply == {"type": "ok", "ref": "p", "parts": 5, "refusals": 1}
    announced = await frame(regulator)
    assert announced["kind"] == "custodian.submitted" and announced["data"]["refusals"] == 1

    # The manager's retry: refused to the supervisor, and for a bid that needs none.
    retry = {"type": "retry_decryption", "ref": "r", "bid": str(a.bid.public_id)}
    await regulator.send_json_to(retry)
    assert await frame(regulator) == {
        "type": "error",
        "ref": "r",
        "code": "not_allowed_in_hall",
        "message": "只有招标人或代理机构可以重试解密。",
    }
    await tenderer.send_json_to(retry)
    while (reply := await frame(tenderer))["type"] == "event":
        pass
    assert reply["type"] == "error" and reply["code"] == "nothing_to_retry"
    await database_sync_to_async(keys.release_key)(a.user, case.tender, a.bid.public_id, a.file_key())
    bid_opening = await database_sync_to_async(BidOpening.objects.select_related("opening").get)(
        bid__public_id=a.bid.public_id
    )
    await hold_up(bid_opening)
    await tenderer.send_json_to(retry)
    while (reply := await frame(tenderer))["type"] == "event":
        pass
    assert reply == {"type": "ok", "ref": "r"}
    assert await run_worker(case.tender) == ["opened"]
