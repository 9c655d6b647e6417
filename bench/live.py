"""What the live-update benches share (the hall's, the evaluation session's): the channel layer's Redis,
the ASGI application Daphne serves (the platform's plus a bare consumer as the baseline), and a
long-lived event loop that sends the baseline's frames.

Daphne imports ``bench.live:application``: the platform's ``config.asgi:application`` untouched, plus the
route ``/bench/bare/``, the least a Channels broadcast does (join a group, send each ``room.event``
message's frame as JSON). Nothing here sets Django up on import.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import urllib.parse
from pathlib import Path
from typing import Any

from bench.common import check_loopback, start_redis

BARE_PATH = "/bench/bare/"
BARE_GROUP = "bench.bare"
CANNED: dict[str, str] = {}  # the bare consumer's snapshot text, by file


def channel_layer_redis(work: Path, redis_url: str) -> tuple[subprocess.Popen[bytes] | None, str, str]:
    """The Redis the channel layer uses: ``redis_url`` (loopback) or a ``redis-server`` of the bench's own in
    ``work``; (its process or None, its URL, a line saying which)."""
    if redis_url:
        check_loopback(redis_url)
        return None, redis_url, f"Redis at {redis_url} (--redis-url)"
    process, url = start_redis(work)
    import redis

    version = redis.Redis.from_url(url).info()["redis_version"]
    return process, url, f"its own redis-server {version} at {url}"


def bare_path(group: str = "", snapshot: str = "") -> str:
    """The bare consumer's path: listening to ``group`` (default ``BARE_GROUP``), answering a snapshot request
    with the text of the file ``snapshot``."""
    query = {name: value for name, value in (("group", group), ("snapshot", snapshot)) if value}
    return BARE_PATH + ("?" + urllib.parse.urlencode(query) if query else "")


def _bench_application() -> Any:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from channels.generic.websocket import AsyncWebsocketConsumer

    from config.asgi import application as platform_application  # sets Django up

    class BareConsumer(AsyncWebsocketConsumer):
        """The least a Channels broadcast does: join a group, send each message's frame as JSON."""

        async def connect(self) -> None:
            # ?group=<name>: listen to that group instead (a room's, to take its events as they are published).
            # ?snapshot=<file>: answer a snapshot request with that file's text (a real snapshot, no database).
            query = urllib.parse.parse_qs(self.scope.get("query_string", b"").decode())
            self.group = query.get("group", [BARE_GROUP])[0]
            self.snapshot_file = query.get("snapshot", [""])[0]
            await self.accept()
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.send(text_data=json.dumps({"type": "hello"}))

        async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
            if self.snapshot_file and text_data and json.loads(text_data).get("type") == "snapshot":
                if self.snapshot_file not in CANNED:
                    CANNED[self.snapshot_file] = Path(self.snapshot_file).read_text(encoding="utf-8")
                await self.send(text_data=CANNED[self.snapshot_file])

        async def disconnect(self, code: int) -> None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

        async def room_event(self, message: dict[str, Any]) -> None:
            # As the rooms' consumer serializes its frames.
            await self.send(text_data=json.dumps(message["frame"], ensure_ascii=False, default=str))

    bare = BareConsumer.as_asgi()

    async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and scope["path"] == BARE_PATH:
            await bare(scope, receive, send)
        else:
            await platform_application(scope, receive, send)

    return application


def __getattr__(name: str) -> Any:
    # Daphne imports "bench.live:application"; built on first use, so that importing this module
    # (a bench itself, its clients' child) does not set Django up.
    if name == "application":
        app = _bench_application()
        globals()["application"] = app
        return app
    raise AttributeError(name)


class BareSender:
    """The baseline's publisher: ``group_send`` from an event loop of the bench's own that runs for the whole
    bench (so over one connection pool), as a long-lived broadcaster would; Django must be set up."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None

    def send(self, group: str, frame: dict[str, Any]) -> None:
        """``frame`` to every member of ``group`` as a ``room.event`` message; returns once it is sent."""
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        asyncio.run_coroutine_threadsafe(
            layer.group_send(group, {"type": "room.event", "frame": frame}), self._loop()
        ).result()

    def _loop(self) -> asyncio.AbstractEventLoop:
        if self.loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="bench-bare-loop", daemon=True).start()
            self.loop = loop
        return self.loop
