"""The session's WebSocket (evaluation/consumers.py) through the ASGI application, signed in with a session cookie:
who may enter, drafts private to their expert, the supervisor read-only, a reconnect resumes with the drafts, a
sheet signed and submitted over the socket, and a frame flood rate-limited without touching the rest.

Transactional database (the consumer works in its own threads), one tender per test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections

from accounts.models import User
from config.asgi import application
from evaluation.models import Mark, SessionEvent, Sheet
from tendering.room.consumer import close_db_threads_connections
from tests.evaluation.session.helpers import to_qualification
from tests.opening.test_hall_consumer import session_cookie

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10


class Sockets:
    def __init__(self) -> None:
        self.open: list[WebsocketCommunicator] = []

    async def enter(self, user: User | None, tender_id: Any) -> tuple[WebsocketCommunicator, dict[str, Any]]:
        headers = [(b"origin", b"http://testserver")]
        if user is not None:
            headers.append((b"cookie", await database_sync_to_async(session_cookie)(user)))
        communicator = WebsocketCommunicator(application, f"/ws/tenders/{tender_id}/session/", headers=headers)
        self.open.append(communicator)
        connected, _sub = await communicator.connect(timeout=TIMEOUT)
        assert connected
        return communicator, await frame(communicator)

    async def following(self, user: User, tender: Any) -> WebsocketCommunicator:
        """Connected, resumed from the hello, and its own presence event read."""
        communicator, hello = await self.enter(user, tender.public_id)
        assert hello["type"] == "hello", hello
        await communicator.send_json_to({"type": "resume", "last_seq": hello["seq"]})
        await until(communicator, lambda f: f["type"] == "resumed")
        await drain(communicator)
        return communicator

    async def leave(self, communicator: WebsocketCommunicator) -> None:
        self.open.remove(communicator)
        await communicator.disconnect(timeout=TIMEOUT)


@pytest_asyncio.fixture
async def sockets(transactional_db: Any) -> AsyncIterator[Sockets]:
    opened = Sockets()
    yield opened
    for communicator in opened.open:
        await communicator.disconnect(timeout=TIMEOUT)
    await database_sync_to_async(connections.close_all)()
    await asyncio.to_thread(close_db_threads_connections)
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        await layer.flush()


async def frame(communicator: WebsocketCommunicator) -> dict[str, Any]:
    received: dict[str, Any] = await communicator.receive_json_from(timeout=TIMEOUT)
    return received


async def until(communicator: WebsocketCommunicator, wanted: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The first frame ``wanted`` accepts, and the frames before it."""
    before = []
    while True:
        got = await frame(communicator)
        if wanted(got):
            return got, before
        before.append(got)


async def drain(communicator: WebsocketCommunicator, quiet: float = 0.5) -> list[dict[str, Any]]:
    """Every frame until the socket is quiet for ``quiet`` seconds."""
    found = []
    while not await communicator.receive_nothing(timeout=quiet):
        found.append(await frame(communicator))
    return found


async def close_code(communicator: WebsocketCommunicator) -> int:
    message = await communicator.receive_output(timeout=TIMEOUT)
    assert message["type"] == "websocket.close", message
    code: int = message["code"]
    return code


@pytest.fixture
def case(session_case: Any) -> Any:
    built = session_case(n_bids=3, n_experts=3)
    to_qualification(built)
    return built


async def test_a_bidder_an_outsider_and_nobody_signed_in_are_refused_at_connect(case: Any, sockets: Sockets) -> None:
    for user in (case.bidder_users[0], case.personas.tenderer, case.personas.expert):
        communicator, refusal = await sockets.enter(user, case.tender.public_id)
        assert refusal["type"] == "error" and refusal["code"] == "not_a_member", refusal
        assert await close_code(communicator) == 4403
    communicator, refusal = await sockets.enter(None, case.tender.public_id)
    assert refusal["code"] == "not_authenticated" and await close_code(communicator) == 4401
    # Nothing was recorded of them: no presence, no event at all.
    events = await database_sync_to_async(lambda: SessionEvent.objects.filter(kind="member.presence").count())()
    assert events == 0


async def test_a_draft_reaches_its_experts_other_tab_but_never_another_expert_or_the_supervisor(
    case: Any, sockets: Sockets
) -> None:
    a, b = case.experts[0], case.experts[1]
    a_one = await sockets.following(a, case.tender)
    a_two = await sockets.following(a, case.tender)
    b_one = await sockets.following(b, case.tender)
    watcher = await sockets.following(case.supervisor, case.tender)
    for communicator in (a_one, a_two, b_one, watcher):
        await drain(communicator)  # the presence of those who came after
    bid = str(case.bids[0].public_id)
    await a_one.send_json_to(
        {
            "type": "mark",
            "ref": "m1",
            "sheet": "qualification",
            "bid": bid,
            "item": "Q1",
            "passed": False,
            "reason": "营业执照已过期",
        }
    )
    reply, _before = await until(a_one, lambda f: f["type"] == "ok")
    assert reply["ref"] == "m1"
    saved, _ = await until(a_two, lambda f: f.get("kind") == "sheet.saved")
    assert saved["data"]["reason"] == "营业执照已过期" and saved["data"]["passed"] is False
    assert await b_one.receive_nothing(timeout=1) and await watcher.receive_nothing(timeout=0.2)
    # Nor in their snapshots.
    for communicator in (b_one, watcher):
        await communicator.send_json_to({"type": "snapshot"})
        snapshot, _ = await until(communicator, lambda f: f["type"] == "snapshot")
        assert snapshot["you"]["marks"] == [] and snapshot["revealed"] == []
        assert "营业执照已过期" not in str(snapshot)
    # The supervisor only watches: every command is refused, nothing changes.
    await watcher.send_json_to({"type": "message", "ref": "s", "text": "请加快进度"})
    refusal, _ = await until(watcher, lambda f: f["type"] == "error")
    assert refusal["code"] == "read_only" and refusal["ref"] == "s"
    assert await database_sync_to_async(lambda: case.evaluation.messages.count())() == 0


async def test_an_expert_who_reconnects_resumes_with_its_drafts_and_a_sheet_is_signed_over_the_socket(
    case: Any, sockets: Sockets
) -> None:
    user = case.experts[2]
    first = await sockets.following(user, case.tender)
    refs = []
    for i, bid in enumerate(case.bids):
        for item in ("Q1", "Q2"):
            ref = f"{i}-{item}"
            refs.append(ref)
            await first.send_json_to(
                {
                    "type": "mark",
                    "ref": ref,
                    "sheet": "qualification",
                    "bid": str(bid.public_id),
                    "item": item,
                    "passed": True,
                }
            )
    for ref in refs:
        await until(first, lambda f, ref=ref: f["type"] == "ok" and f["ref"] == ref)
    await sockets.leave(first)
    other = await sockets.following(case.experts[0], case.tender)
    second, _hello = await sockets.enter(user, case.tender.public_id)
    await second.send_json_to({"type": "snapshot", "ref": "s"})
    snapshot, _ = await until(second, lambda f: f["type"] == "snapshot")
    assert sorted((m["bid"], m["item"]) for m in snapshot["you"]["marks"]) == sorted(
        (str(b.public_id), item) for b in case.bids for item in ("Q1", "Q2")
    )
    await second.send_json_to({"type": "sheet_statement", "ref": "st", "sheet": "qualification"})
    statement, _ = await until(second, lambda f: f["type"] == "ok" and f["ref"] == "st")
    signature = case.sign(2, statement["statement"].encode())
    fingerprint = await database_sync_to_async(case.fingerprint)(2)
    await second.send_json_to(
        {"type": "submit_sheet", "ref": "sub", "sheet": "qualification", "key": fingerprint, "signature": signature}
    )
    done, _ = await until(second, lambda f: f.get("ref") == "sub")
    assert done["type"] == "ok", done
    submitted, _ = await until(other, lambda f: f.get("kind") == "sheet.submitted")
    assert submitted["data"] == {"member": case.members[2].pk, "sheet": "qualification"}
    sheet = await database_sync_to_async(Sheet.objects.get)(member=case.members[2], kind="qualification")
    assert sheet.locked and bytes(sheet.statement) == statement["statement"].encode()
    # A replay of the same signature is a second submission: refused.
    await second.send_json_to(
        {"type": "submit_sheet", "ref": "again", "sheet": "qualification", "key": fingerprint, "signature": signature}
    )
    again, _ = await until(second, lambda f: f.get("ref") == "again")
    assert again["type"] == "error" and again["code"] == "already_submitted"


async def test_a_frame_flood_is_rate_limited_and_the_rest_of_the_session_goes_on(
    case: Any, sockets: Sockets, settings: Any
) -> None:
    # A refill so slow that no token comes back during the test: the bucket lets the burst through, no more.
    settings.ROOM_COMMANDS_PER_SECOND, settings.ROOM_COMMAND_BURST = 0.001, 30
    flooder = await sockets.following(case.experts[0], case.tender)
    calm = await sockets.following(case.experts[1], case.tender)
    await drain(flooder)
    bid = str(case.bids[0].public_id)
    started = time.monotonic()
    for i in range(500):
        await flooder.send_json_to(
            {"type": "mark", "ref": f"f{i}", "sheet": "qualification", "bid": bid, "item": "Q1", "passed": True}
        )
    replies = [f for f in await drain(flooder, quiet=1.5) if f["type"] in ("ok", "error")]
    elapsed = time.monotonic() - started
    limited = [f for f in replies if f["type"] == "error"]
    assert len(replies) == 500
    assert limited and all(f["code"] == "rate_limited" and f["message"] for f in limited)
    allowed = 30 + int(elapsed * 0.001)
    saved = await database_sync_to_async(
        lambda: SessionEvent.objects.filter(kind="sheet.saved", audience=f"expert:{case.experts[0].pk}").count()
    )()
    assert 0 < saved <= allowed and len(replies) - len(limited) == saved
    # The flooder's socket is open, and another member's commands work as before.
    await calm.send_json_to(
        {"type": "mark", "ref": "calm", "sheet": "qualification", "bid": bid, "item": "Q2", "passed": True}
    )
    reply, _ = await until(calm, lambda f: f.get("ref") == "calm")
    assert reply["type"] == "ok"
    assert await database_sync_to_async(Mark.objects.filter(sheet__member=case.members[1]).count)() == 1


async def test_presence_is_live_and_in_the_snapshot(case: Any, sockets: Sockets) -> None:
    watcher = await sockets.following(case.supervisor, case.tender)
    expert = await sockets.following(case.experts[1], case.tender)
    online, _ = await until(watcher, lambda f: f.get("kind") == "member.presence")
    assert online["data"] == {"member": case.members[1].pk, "online": True}
    await watcher.send_json_to({"type": "snapshot"})
    snapshot, _ = await until(watcher, lambda f: f["type"] == "snapshot")
    assert [m["online"] for m in snapshot["members"]] == [False, True, False]
    await sockets.leave(expert)
    offline, _ = await until(watcher, lambda f: f.get("kind") == "member.presence")
    assert offline["data"] == {"member": case.members[1].pk, "online": False}
    # The supervisor's own connection is no member's presence.
    kinds = await database_sync_to_async(
        lambda: list(SessionEvent.objects.filter(kind="member.presence").values_list("payload", flat=True))
    )()
    assert kinds == [online["data"], offline["data"]]


async def test_a_member_joining_after_the_method_was_changed_is_refused_its_snapshot_and_nothing_is_recorded(
    case: Any, sockets: Sockets
) -> None:
    from copy import deepcopy

    from archive.models import LedgerEntry
    from tendering.models import Tender

    def tamper() -> tuple[int, int]:
        method = deepcopy(case.tender.evaluation_criteria)
        method["qualification"] = method["qualification"][:1]  # one item fewer to mark
        Tender.objects.filter(pk=case.tender.pk).update(evaluation_criteria=method)
        return recorded()

    def recorded() -> tuple[int, int]:
        # Presence changes nothing and has no ledger entry (docs/evaluation.md §4.2): everything else counts.
        return SessionEvent.objects.exclude(kind="member.presence").count(), LedgerEntry.objects.count()

    before = await database_sync_to_async(tamper)()
    communicator, hello = await sockets.enter(case.experts[1], case.tender.public_id)
    assert hello["type"] == "hello", hello
    await communicator.send_json_to({"type": "snapshot", "ref": "s1"})
    refusal, _ = await until(communicator, lambda f: f["type"] == "error")
    assert refusal["code"] == "method_not_as_published" and refusal["ref"] == "s1", refusal
    assert "发布后被改动" in refusal["message"]
    assert await close_code(communicator) == 4403
    sockets.open.remove(communicator)
    # A mark sent without a snapshot is refused the same way.
    other, _hello = await sockets.enter(case.experts[2], case.tender.public_id)
    await other.send_json_to(
        {"type": "mark", "ref": "m", "sheet": "qualification", "bid": str(case.bids[0].public_id), "item": "Q1",
         "passed": True}
    )  # fmt: skip
    refused, _ = await until(other, lambda f: f["type"] == "error")
    assert refused["code"] == "method_not_as_published" and refused["ref"] == "m", refused
    assert await database_sync_to_async(lambda: Mark.objects.count())() == 0
    assert await database_sync_to_async(recorded)() == before
