"""Sending a room's events from synchronous code over one long-lived channel-layer connection per process.

``async_to_sync(layer.group_send)`` runs every call in a new event loop, and channels_redis keeps its
connections per event loop: each event opened a new Redis connection. Here one event loop runs in a
daemon thread for the life of the process (a new one after a fork), so the layer's connection pool,
made in that loop, is made once and used for every event. ``send`` waits for the message to be handed
to the layer (so events sent from one thread keep their order, and a process that ends just after
committing still sends), at most ``SEND_TIMEOUT`` seconds.

The in-memory layer (no ``REDIS_URL``: one process only) keeps its queues in the loop that serves the
consumers; it is sent to there, as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Coroutine
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer

from tendering.room import groups

logger = logging.getLogger(__name__)

SEND_TIMEOUT = 5.0


class Publisher:
    """One event loop thread per process, started at the first send."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self.loops_started = 0  # how many loops this object has started (one per process it ran in)
        os.register_at_fork(after_in_child=self._forget_parents_loop)

    def _forget_parents_loop(self) -> None:
        # The parent's thread is not in the child, and its lock may have been held at the fork.
        self._loop, self._pid, self._lock = None, 0, threading.Lock()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and self._pid == os.getpid() and loop.is_running():
            return loop
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or not self._loop.is_running():
                # After a fork the parent's thread is gone: its loop (and its connections) are not used again.
                started = threading.Event()
                new_loop = asyncio.new_event_loop()

                def run() -> None:
                    asyncio.set_event_loop(new_loop)
                    new_loop.call_soon(started.set)
                    new_loop.run_forever()

                threading.Thread(target=run, name="room-publisher", daemon=True).start()
                started.wait()
                self._loop, self._pid = new_loop, os.getpid()
                self.loops_started += 1
            return self._loop

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = SEND_TIMEOUT) -> Any:
        """Run ``coroutine`` in the publisher's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._running_loop()).result(timeout)

    def send(self, group: str, message: dict[str, Any], layer: BaseChannelLayer | None = None) -> None:
        """Hand ``message`` to every channel of ``group``; raises what the layer raises, or TimeoutError."""
        layer = layer if layer is not None else get_channel_layer()
        if layer is None:
            return
        if isinstance(layer, InMemoryChannelLayer):
            async_to_sync(layer.group_send)(group, message)
            return
        self.run(layer.group_send(group, message))

    def send_in_order(self, sends: list[tuple[str, dict[str, Any]]], layer: BaseChannelLayer | None = None) -> None:
        """Each ``(group, message)`` handed to the layer after the one before it, in one hop to the loop."""
        layer = layer if layer is not None else get_channel_layer()
        if layer is None:
            return

        async def in_order() -> None:
            for group, message in sends:
                await layer.group_send(group, message)

        if isinstance(layer, InMemoryChannelLayer):
            async_to_sync(in_order)()
            return
        self.run(in_order())


publisher = Publisher()


def send_after_commit(group: str, message: dict[str, Any]) -> None:
    """What ``transaction.on_commit`` calls: send, and log (never raise) when the layer cannot take it.

    The change is committed and the event stored by then: a client that missed it catches up when it
    resumes, or at the next event it hears (the consumer fills gaps from the room's table).
    """
    try:
        publisher.send(group, message)
    except Exception:
        logger.exception("could not send a room event to %s", group)


def send_event_after_commit(room: str, room_id: int, audience: str, message: dict[str, Any]) -> None:
    """What ``transaction.on_commit`` calls for a room's event (``message``, its frame numbered ``seq``): sent to
    ``audience``'s group, then, when that is narrower than ``all``, ``groups.passed_message`` to ``all``.

    Every connection is in ``all``: so each hears of every number, and one outside the audience moves past it
    without a read of the room's table; one inside it has had the event first (sent before, in this order).
    Logged, never raised, as ``send_after_commit``."""
    group = groups.group_name(room, room_id, audience)
    sends = [(group, message)]
    if audience != groups.ALL:
        passed = groups.passed_message(int(message["frame"]["seq"]), audience)
        sends.append((groups.group_name(room, room_id, groups.ALL), passed))
    try:
        publisher.send_in_order(sends)
    except Exception:
        logger.exception("could not send a room event to %s", group)
