"""Event numbers across audiences: an expert's draft (its own audience) takes a number every other connection
hears of without its content (``room.passed``), so the next event reaches them in order without a read of the
session's table; an own event that never arrived is still read from the table once its number is announced.
Events that reach a connection out of their order (two processes publish what they committed in one order) are
held for the numbers before them and sent in order without a read; a gap that stays open is read after the wait.

Transactional database (the consumer works in its own threads), one tender per test."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from evaluation.consumers import SessionConsumer
from tendering.room import groups
from tests.evaluation.session.test_session_consumer import Sockets, case, drain, frame, sockets, until

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
__all__ = ["case", "sockets"]  # the fixtures, shared with the consumer's tests


class TableReads:
    """Counts the reads of the session's table for missed events (``SessionConsumer.missed``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[int, int | None]] = []
        original = SessionConsumer.missed

        def missed(consumer: SessionConsumer, user: Any, after: int, up_to: int | None) -> Any:
            self.calls.append((after, up_to))
            return original(consumer, user, after, up_to)

        monkeypatch.setattr(SessionConsumer, "missed", missed)


async def two_experts_and_the_supervisor(case: Any, sockets: Sockets) -> tuple[Any, Any, Any]:
    """The first two experts' and the supervisor's connections, each following the session, nothing left to read."""
    connected = [await sockets.following(user, case.tender) for user in (*case.experts[:2], case.supervisor)]
    for communicator in connected:
        await drain(communicator)
    return connected[0], connected[1], connected[2]


def mark_frame(case: Any, ref: str, reason: str) -> dict[str, Any]:
    bid = str(case.bids[0].public_id)
    return {
        "type": "mark",
        "ref": ref,
        "sheet": "qualification",
        "bid": bid,
        "item": "Q1",
        "passed": False,
        "reason": reason,
    }


async def test_a_drafts_number_reaches_the_others_without_its_content_and_the_next_event_needs_no_table_read(
    case: Any, sockets: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_one, b_one, watcher = await two_experts_and_the_supervisor(case, sockets)
    reads = TableReads(monkeypatch)

    await a_one.send_json_to(mark_frame(case, "m1", "营业执照已过期"))
    replies = {f.get("kind", f["type"]): f for f in [await frame(a_one), await frame(a_one)]}  # either order
    assert replies["ok"]["ref"] == "m1"
    saved = replies["sheet.saved"]
    assert await b_one.receive_nothing(timeout=0.5) and await watcher.receive_nothing(timeout=0.2)

    await a_one.send_json_to({"type": "message", "ref": "t1", "text": "资格审查请注意营业执照有效期"})
    for communicator in (b_one, watcher):
        posted = await frame(communicator)
        assert (posted["seq"], posted["kind"]) == (saved["seq"] + 1, "message.posted")
        assert "营业执照已过期" not in str(posted)
    posted_to_a, _ = await until(a_one, lambda f: f.get("kind") == "message.posted")
    assert posted_to_a["seq"] == saved["seq"] + 1
    # No connection read the table: the others moved past the draft's number as it was announced.
    assert reads.calls == []


async def test_an_own_event_that_never_arrived_is_read_from_the_table_when_its_number_is_announced(
    case: Any, sockets: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = case.experts[0], case.experts[1]
    a_one = await sockets.following(a, case.tender)
    a_two = await sockets.following(a, case.tender)
    b_one = await sockets.following(b, case.tender)
    for communicator in (a_one, a_two, b_one):
        await drain(communicator)
    from tendering.room.publisher import publisher

    send_in_order = publisher.send_in_order

    def lose_the_event(sends: list[tuple[str, dict[str, Any]]], layer: Any = None) -> None:
        # The layer loses the draft itself (a full channel, say): only its announcement to ``all`` goes out.
        send_in_order([(g, m) for g, m in sends if m["type"] == groups.PASSED_MESSAGE], layer)

    monkeypatch.setattr(publisher, "send_in_order", lose_the_event)
    reads = TableReads(monkeypatch)
    await a_one.send_json_to(mark_frame(case, "m1", "资质证书缺页"))
    await until(a_one, lambda f: f["type"] == "ok")
    for tab in (a_one, a_two):
        saved, _ = await until(tab, lambda f: f.get("kind") == "sheet.saved")
        assert saved["data"]["reason"] == "资质证书缺页"
    # Both of the expert's tabs read it from the table; the other expert moved past it and read nothing.
    assert len(reads.calls) == 2 and {up_to for _after, up_to in reads.calls} == {saved["seq"]}
    assert await b_one.receive_nothing(timeout=0.5)


class HeldBack:
    """The publisher with the sends of the first event of ``kind`` kept back, until ``release()``, or for ever."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
        from tendering.room.publisher import publisher

        self.kept: list[tuple[str, dict[str, Any]]] = []
        self.original = publisher.send_in_order
        self.kind = kind

        def send_in_order(sends: list[tuple[str, dict[str, Any]]], layer: Any = None) -> None:
            first = sends[0][1]
            if not self.kept and first.get("frame", {}).get("kind") == self.kind:
                self.kept = sends
                return
            self.original(sends, layer)

        monkeypatch.setattr(publisher, "send_in_order", send_in_order)

    async def release(self) -> None:
        await sync_to_async(self.original, thread_sensitive=False)(self.kept)


async def test_events_that_arrive_out_of_order_are_sent_in_order_without_a_table_read(
    case: Any, sockets: Sockets, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.ROOM_GAP_WAIT_MS = 10_000  # longer than the test: the order comes from holding back, not the table
    a_one, b_one, watcher = await two_experts_and_the_supervisor(case, sockets)
    held = HeldBack(monkeypatch, "message.posted")
    reads = TableReads(monkeypatch)

    await a_one.send_json_to({"type": "message", "ref": "t1", "text": "第一条：先核对资质"})
    await until(a_one, lambda f: f.get("ref") == "t1")
    await a_one.send_json_to({"type": "message", "ref": "t2", "text": "第二条：再看报价"})
    await until(a_one, lambda f: f.get("ref") == "t2")
    # The second event has reached every connection; none sends it before the first.
    for communicator in (a_one, b_one, watcher):
        assert await communicator.receive_nothing(timeout=0.3)

    await held.release()
    for communicator in (a_one, b_one, watcher):
        first, second = await frame(communicator), await frame(communicator)
        assert [first["data"]["text"], second["data"]["text"]] == ["第一条：先核对资质", "第二条：再看报价"]
        assert second["seq"] == first["seq"] + 1
        assert await communicator.receive_nothing(timeout=0.2)
    assert reads.calls == []


async def test_a_gap_still_open_after_the_wait_is_read_from_the_table_once_per_connection(
    case: Any, sockets: Sockets, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.ROOM_GAP_WAIT_MS = 300
    a, b = case.experts[0], case.experts[1]
    a_one = await sockets.following(a, case.tender)
    b_one = await sockets.following(b, case.tender)
    for communicator in (a_one, b_one):
        await drain(communicator)
    HeldBack(monkeypatch, "message.posted")  # never released: the layer lost the first message
    reads = TableReads(monkeypatch)

    await a_one.send_json_to({"type": "message", "ref": "t1", "text": "这一条在通道中丢失"})
    await until(a_one, lambda f: f.get("ref") == "t1")
    started = asyncio.get_running_loop().time()
    await a_one.send_json_to({"type": "message", "ref": "t2", "text": "这一条正常送达"})
    texts: dict[str, list[str]] = {}
    for name, communicator in (("a", a_one), ("b", b_one)):
        got = [await frame(communicator) for _ in range(3 if name == "a" else 2)]
        texts[name] = [f["data"]["text"] for f in got if f.get("kind") == "message.posted"]
    assert asyncio.get_running_loop().time() - started >= 0.3  # held for the wait first
    assert texts == {"a": ["这一条在通道中丢失", "这一条正常送达"], "b": ["这一条在通道中丢失", "这一条正常送达"]}
    # One read per connection, up to the held event's number.
    assert len(reads.calls) == 2 and len({up_to for _after, up_to in reads.calls}) == 1


async def test_a_member_removed_while_only_listening_is_closed_by_the_background_check_without_an_event(
    case: Any, sockets: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    from channels.db import database_sync_to_async

    from evaluation.models import CommitteeMember, MemberState
    from tests.evaluation.session.test_session_consumer import close_code

    monkeypatch.setattr(SessionConsumer, "membership_recheck_seconds", 0.6)
    b = case.experts[1]
    listener = await sockets.following(b, case.tender)
    other = await sockets.following(case.experts[0], case.tender)
    for communicator in (listener, other):
        await drain(communicator)  # the other's presence
    await database_sync_to_async(CommitteeMember.objects.filter(evaluation__tender=case.tender, expert__user=b).update)(
        state=MemberState.RECUSED
    )
    # Nothing is published meanwhile: the check runs on its own, within the period.
    assert await close_code(listener) == 4403
    sockets.open.remove(listener)
    # The others stay, and hear the session as before.
    await other.send_json_to({"type": "ping", "ref": "p"})
    assert (await frame(other))["type"] == "pong"
