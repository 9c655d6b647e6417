"""A bid part's request body goes to the view as it is received: no temporary file on the way.

Django's ASGI handler copies every request body into a ``SpooledTemporaryFile``
before the view runs (on disk beyond ``FILE_UPLOAD_MAX_MEMORY_SIZE``), and
Twisted, under Daphne, writes every body of 100 kB or more to a temporary file
before Daphne hands it on in 8 KiB messages. For a bid part (``PUT
/api/bids/uploads/{id}/parts/{n}``, up to ``BID_PART_SIZE`` bytes) that is two
disk round trips and a thousand messages per 8 MiB. Here, for those requests
only:

* ``StreamingASGIHandler`` gives the view a ``StreamedBody``: the event loop
  receives the ASGI messages into a small bounded buffer and the view's thread
  reads them out of it (``read``/``readinto``), with backpressure (the loop stops
  receiving while ``HIGH_WATER`` bytes wait). A body that ends before its
  ``Content-Length`` (the client went away) is a ``ValueError`` for the view.
* ``install_into_daphne()`` (``python -m config.serve``) makes Daphne keep such a
  body in memory instead of a temporary file, bounded by ``MAX_BUFFERED_BODY``
  (a longer declared length keeps Twisted's temporary file, and the view refuses
  it anyway), and hand it on in 1 MiB messages.

Every other request goes through Django's and Daphne's own code unchanged.
"""

from __future__ import annotations

import asyncio
import collections
import io
import re
import threading
from typing import Any

from django.core.handlers.asgi import ASGIHandler

MiB = 1024 * 1024
#: The requests whose body is streamed: a bid part (the API's prefix is /api/).
STREAMED_PATH = re.compile(r"^/api/bids/uploads/[^/]+/parts/\d+/?$")
#: Bytes received but not yet read by the view before the loop stops receiving.
HIGH_WATER = 4 * MiB
#: The largest body Daphne keeps in memory: the largest part the settings allow (64 MiB) and headroom.
MAX_BUFFERED_BODY = 64 * MiB + 64 * 1024
#: How long the view's thread waits for the next bytes before the body counts as broken off.
READ_TIMEOUT_SECONDS = 120.0


def is_streamed(method: str, path: str) -> bool:
    return method == "PUT" and STREAMED_PATH.match(path) is not None


class StreamedBody(io.RawIOBase):
    """A request body filled by the event loop (``pump``) and read by the view's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, high_water: int = HIGH_WATER) -> None:
        super().__init__()
        self._loop = loop
        self._high_water = high_water
        self._chunks: collections.deque[memoryview] = collections.deque()
        self._buffered = 0
        self._ended = False
        self._disconnected = False
        self._lock = threading.Condition()
        self._room = asyncio.Event()
        self._room.set()

    @property
    def disconnected(self) -> bool:
        return self._disconnected

    async def pump(self, receive: Any) -> None:
        """Receive the body's messages into the buffer until the last one (or a disconnect)."""
        try:
            while True:
                await self._room.wait()
                message = await receive()
                with self._lock:
                    if message["type"] == "http.disconnect":
                        self._disconnected = self._ended = True
                    else:
                        chunk = message.get("body", b"")
                        if chunk:
                            self._chunks.append(memoryview(chunk))
                            self._buffered += len(chunk)
                        if not message.get("more_body", False):
                            self._ended = True
                    if self._buffered >= self._high_water:
                        self._room.clear()
                    self._lock.notify_all()
                    if self._ended:
                        return
        finally:
            with self._lock:
                self._ended = True
                self._lock.notify_all()

    def _make_room(self) -> None:
        with self._lock:
            if self._buffered < self._high_water:
                self._room.set()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` with what has arrived (waiting for the first bytes); 0 at the end of the body."""
        target = memoryview(buffer).cast("B")
        filled = 0
        for view in self._take(len(target)):
            target[filled : filled + len(view)] = view
            filled += len(view)
        return filled

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes of what has arrived (waiting for the first), copied once; b"" at the end."""
        if size is None or size < 0:
            return self.readall()
        return b"".join(self._take(size))

    def _take(self, limit: int) -> list[memoryview]:
        """Up to ``limit`` bytes of what has arrived (waiting for the first), as views of the chunks taken off."""
        taken: list[memoryview] = []
        with self._lock:
            self._wait_for_bytes()
            filled = 0
            while self._chunks and filled < limit:
                chunk = self._chunks[0]
                take = min(len(chunk), limit - filled)
                taken.append(chunk[:take])
                filled += take
                if take == len(chunk):
                    self._chunks.popleft()
                else:
                    self._chunks[0] = chunk[take:]
            self._buffered -= filled
        if filled:
            self._loop.call_soon_threadsafe(self._make_room)
        return taken

    def _wait_for_bytes(self) -> None:
        while not self._chunks and not self._ended:
            if not self._lock.wait(timeout=READ_TIMEOUT_SECONDS):
                raise ValueError(f"no bytes of the request body arrived for {READ_TIMEOUT_SECONDS:g} s")
        if not self._chunks and self._disconnected:
            raise ValueError("the request body ended early: the client went away")


class StreamingASGIHandler(ASGIHandler):
    """Django's ASGI handler, except that a bid part's body is streamed to the view (see the module docstring)."""

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not is_streamed(scope.get("method", ""), scope.get("path", "")):
            await super().handle(scope, receive, send)
            return
        body = StreamedBody(asyncio.get_running_loop())
        pump = asyncio.create_task(body.pump(receive))

        async def after_the_body() -> dict[str, Any]:
            """What Django's disconnect listener receives: nothing until the body is in, then the connection's news."""
            await pump
            if body.disconnected:
                return {"type": "http.disconnect"}
            message: dict[str, Any] = await receive()
            return message

        after_the_body.streamed_body = body  # type: ignore[attr-defined]
        try:
            await super().handle(scope, after_the_body, send)
        finally:
            if not pump.done():
                pump.cancel()

    async def read_body(self, receive: Any) -> Any:
        body = getattr(receive, "streamed_body", None)
        if body is not None:
            return body
        return await super().read_body(receive)


def streaming_asgi_application() -> StreamingASGIHandler:
    """``django.core.asgi.get_asgi_application()`` with the streaming handler."""
    import django

    django.setup(set_prefix=False)
    return StreamingASGIHandler()


# --- Daphne ------------------------------------------------------------------------------------------------------


class _LargeChunks(io.BytesIO):
    """A body in memory that Daphne hands on in 1 MiB messages (it asks for 8 KiB; a short read ends the body)."""

    def read(self, size: int | None = -1) -> bytes:
        return super().read(size if size is None or size < 0 else max(size, MiB))


def install_into_daphne() -> None:
    """Daphne keeps a bid part's body (declared length up to ``MAX_BUFFERED_BODY``) in memory, not a temporary file."""
    import daphne.server
    from daphne.http_protocol import HTTPFactory, WebRequest

    class PartBodyRequest(WebRequest):
        def gotLength(self, length: int | None) -> None:
            command = getattr(self.channel, "_command", b"")
            path = getattr(self.channel, "_path", b"").split(b"?", 1)[0]
            if (
                length is not None
                and length <= MAX_BUFFERED_BODY
                and is_streamed(command.decode("latin1"), path.decode("latin1"))
            ):
                self.content = _LargeChunks()
                return
            super().gotLength(length)

    class PartBodyHTTPFactory(HTTPFactory):
        def buildProtocol(self, addr: Any) -> Any:
            protocol = super().buildProtocol(addr)
            if protocol is not None:
                protocol.requestFactory = PartBodyRequest
            return protocol

    daphne.server.HTTPFactory = PartBodyHTTPFactory
