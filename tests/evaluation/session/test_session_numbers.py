"""Event numbers across audiences: an expert's draft (its own audience) takes a number every other connection
hears of without its content (``room.passed``), so the next event reaches them in order without a read of the
session's table; an own event that never arrived is still read from the table once its number is announced.

Transactional database (the consumer works in its own threads), one tender per test."""

from __future__ import annotations

from typing import Any

import pytest

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
    a, b = case.experts[0], case.experts[1]
    a_one = await sockets.following(a, case.tender)
    b_one = await sockets.following(b, case.tender)
    watcher = await sockets.following(case.supervisor, case.tender)
    for communicator in (a_one, b_one, watcher):
        await drain(communicator)
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
