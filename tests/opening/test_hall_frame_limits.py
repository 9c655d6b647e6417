"""The hall's frame limit is one setting, enforced by the server and advertised: against a real Daphne, with a real
WebSocket client (aiohttp's).

Daphne is started as ``tests/fixtures/live_platform.py`` starts it for the browser tests (a forked process with the
WebSocket limits ``python -m config.serve`` gives it in production), after the opening case is in the database and
the clock stands at its opening: the forked server inherits the frozen clock.

- ``hello`` advertises ``HALL_FRAME_MAX_BYTES``; a frame between Daphne's own default (1 MiB) and that limit reaches
  the consumer (which answers it);
- a frame a little over the limit gets ``frame_too_large`` and the connection stays usable;
- a frame beyond the transport's limit (the setting plus a margin) is cut by Daphne, and the server goes on serving.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from channels.testing.live import make_application
from django.conf import settings
from django.db import connections

from tendering.models import BidOpening, Opening, OpeningEvent
from tests.fixtures.live_platform import PlatformServerProcess
from tests.opening.conftest import OpeningCase
from tests.opening.test_hall_consumer import hall_case, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["hall_case"]  # a fixture, used by name

DAPHNE_DEFAULT_MAX_MESSAGE = 1024 * 1024
TIMEOUT = 30


@pytest.fixture
def live_daphne(hall_case: OpeningCase) -> Iterator[str]:
    """A real Daphne serving the platform, forked with the case in the database; its ws:// base URL."""
    connections.close_all()  # the child must not share the test's database socket
    server = PlatformServerProcess("127.0.0.1", lambda: make_application(static_wrapper=None))
    server.daemon = True
    server.start()
    try:
        assert server.ready.wait(timeout=TIMEOUT), "Daphne did not start"
        yield f"ws://127.0.0.1:{server.port.value}"
    finally:
        server.terminate()
        server.join(timeout=TIMEOUT)


def hall_state(case: OpeningCase) -> tuple[int, int, list[str]]:
    opening = Opening.objects.get(tender=case.tender)
    states = list(BidOpening.objects.filter(opening=opening).order_by("position").values_list("state", flat=True))
    return opening.last_seq, OpeningEvent.objects.filter(opening=opening).count(), states


def error_frame(code: str, message: str, ref: str | None = None, **fields: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {"type": "error", "ref": ref, "code": code, "message": message}
    if fields:
        found["fields"] = fields
    return found


async def talk(url: str, cookie: str, frames: list[str]) -> tuple[dict[str, Any], list[Any]]:
    """Connect, read ``hello``, send each frame followed by a ping;
    what came back for each (a frame or how it ended).
    """
    results: list[Any] = []
    headers = {"Origin": "http://127.0.0.1", "Cookie": cookie}
    async with aiohttp.ClientSession() as session, session.ws_connect(url, headers=headers, max_msg_size=0) as socket:
        hello = json.loads((await socket.receive(timeout=TIMEOUT)).data)
        for text in frames:
            try:
                await socket.send_str(text)
                reply = await socket.receive(timeout=TIMEOUT)
            except (aiohttp.ClientError, ConnectionError) as exc:
                results.append(("ended", type(exc).__name__))
                break
            if reply.type != aiohttp.WSMsgType.TEXT:
                results.append(("ended", reply.type.name, reply.data))
                break
            await socket.send_json({"type": "ping", "ref": "after"})
            pong = json.loads((await socket.receive(timeout=TIMEOUT)).data)
            results.append((json.loads(reply.data), pong))
    return hello, results


def test_the_hall_takes_frames_up_to_its_advertised_limit_refuses_a_little_more_and_daphne_cuts_beyond(
    hall_case: OpeningCase, live_daphne: str
) -> None:
    limit = settings.HALL_FRAME_MAX_BYTES
    transport = settings.DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE
    # The case this test is for: the hall promises more than Daphne's own default would carry.
    assert DAPHNE_DEFAULT_MAX_MESSAGE < limit < transport
    url = f"{live_daphne}/ws/tenders/{hall_case.tender.public_id}/hall/"
    cookie = session_cookie(hall_case.entries[0].user).decode()
    before = hall_state(hall_case)

    def objection(size: int) -> str:
        head = '{"type": "object", "ref": "big", "text": "'
        return head + "x" * (size - len(head) - 2) + '"}'

    between = objection((DAPHNE_DEFAULT_MAX_MESSAGE + limit) // 2)
    at_limit = objection(limit)
    over = objection(limit + 1)
    beyond = objection(transport + 1024)
    hello, results = asyncio.run(talk(url, cookie, [between, at_limit, over]))
    assert hello == {
        "type": "hello",
        "seq": Opening.objects.get(tender=hall_case.tender).last_seq,
        "max_frame_bytes": limit,
    }
    pong = {"type": "pong", "ref": "after"}
    too_long = ["String should have at most 20000 characters"]  # the frame schema's bound on an objection
    assert results == [
        # Read and validated by the consumer: over Daphne's default, within the hall's limit.
        (error_frame("invalid_frame", "消息内容不符合要求。", "big", text=too_long), pong),
        (error_frame("invalid_frame", "消息内容不符合要求。", "big", text=too_long), pong),
        (error_frame("frame_too_large", f"消息过大：上限为 {limit} 字节。"), pong),
    ]

    # Beyond the transport's limit Daphne ends the connection before holding the frame whole.
    _hello, cut = asyncio.run(talk(url, cookie, [beyond]))
    assert len(cut) == 1 and cut[0][0] == "ended", cut
    # ... and goes on serving.
    _hello, after = asyncio.run(talk(url, cookie, ['{"type": "ping", "ref": "again"}']))
    assert after == [({"type": "pong", "ref": "again"}, pong)]
    assert hall_state(hall_case) == before
