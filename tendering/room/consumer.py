"""The consumer every room builds on: thin, with a table of handlers (venueless style).

It authenticates, asks the room whether the user may enter (a service), joins the groups of the
user's audiences, validates each frame against the room's typed commands and runs the handler the
table names for its ``type``. ``snapshot``, ``resume`` and ``ping`` are answered here for every room,
and live events are sent in sequence order with any gap filled from the room's table.

A room subclass sets ``room`` and ``commands``, marks one method per command with ``@handles(Model)``
(a synchronous function of ``(user, command)``, run in a database thread, returning the ``ok``
frame's fields), and supplies ``enter``, ``snapshot``, ``missed`` and ``still_member``.

Database work runs in the rooms' own threads (``settings.ROOM_DB_THREADS``, one by default), not in
Channels' one thread shared by every consumer of the process (and by its other consumers' connects).
One thread does the most: the rooms' database work is Python that holds the GIL (the ORM) far longer than
it waits for PostgreSQL, and threads that take the GIL from each other, and from the event loop that sends
the events, cost more than the waits they overlap (docs/benchmarks.md, "Evaluation session").
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
import os
import random
import threading
import time
import typing
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Annotated, Any, ClassVar, ParamSpec, TypeVar

from asgiref.sync import SyncToAsync
from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncWebsocketConsumer
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import close_old_connections, connections
from django.utils import translation
from django.utils.translation import gettext as _
from pydantic import Field, TypeAdapter, ValidationError

from accounts.errors import DomainError
from config.untrusted import FIELDS_MAX, bounded, nul_paths, nul_refused_message
from tendering.room import groups, protocol
from tendering.room.codes import CloseCode, ErrorCode

logger = logging.getLogger(__name__)
_jitter = random.SystemRandom()  # when each connection checks its membership again: spread, not secret


class _RoomDatabaseThreads(Executor):
    """The rooms' database threads: a pool of this process's own, made anew in a forked child.

    A child forked from a process that had used the pool (Daphne forked by a test, a pre-forking server)
    inherits the pool's object but none of its threads: work handed to it would wait for ever. The
    functions wrapped by ``in_db_thread`` keep this object, which hands their work to the pool of the
    process they run in.
    """

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self.size = 0  # the threads of this process's pool (settings.ROOM_DB_THREADS when it was made)
        self._pid = 0
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget_parents_pool)

    def _forget_parents_pool(self) -> None:
        # The parent's lock may have been held by one of its threads at the fork: the child gets its own.
        self._pool, self._pid, self._lock = None, 0, threading.Lock()

    def _current(self) -> ThreadPoolExecutor:
        pool = self._pool
        if pool is not None and self._pid == os.getpid():
            return pool
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self.size = settings.ROOM_DB_THREADS
                self._pool = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="room-db")
                self._pid = os.getpid()
            return self._pool

    def threads(self) -> int:
        """How many threads this process's pool has (made now if it was not)."""
        self._current()
        return self.size

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return self._current().submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._pool is not None and self._pid == os.getpid():
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
            self._pool = None


_db_pool = _RoomDatabaseThreads()

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")


# A database connection of a room thread used without error less than this long ago is not health-checked again
# (CONN_HEALTH_CHECKS: Django sends ``SELECT 1`` before the first query of every call, a round trip per command).
HEALTHY_FOR_SECONDS = 1.0
_recent = threading.local()


class _RoomDatabaseCall(DatabaseSyncToAsync):
    """Channels' ``database_sync_to_async`` (old connections closed before and after the call) that skips the
    health check of a connection this thread used without error within ``HEALTHY_FOR_SECONDS``.

    A connection that broke in that second fails the call's first query; the error marks it, and it is closed
    after the call (``close_old_connections``), as Django closes one that fails between requests."""

    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        now = time.monotonic()
        used: dict[str, float] = getattr(_recent, "used", {})
        for connection in connections.all(initialized_only=True):
            at = used.get(connection.alias)
            if connection.connection is not None and at is not None and now - at < HEALTHY_FOR_SECONDS:
                connection.health_check_done = True  # type: ignore[attr-defined]  # Django's, not in its stubs
        try:
            return SyncToAsync.thread_handler(self, loop, *args, **kwargs)
        finally:
            close_old_connections()
            now = time.monotonic()
            _recent.used = {
                connection.alias: now
                for connection in connections.all(initialized_only=True)
                if connection.connection is not None and not connection.errors_occurred
            }


def in_db_thread(function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """``function`` run in one of the rooms' database threads, its old connections closed around it."""
    wrapped: Callable[P, Awaitable[R]] = _RoomDatabaseCall(function, thread_sensitive=False, executor=_db_pool)
    return wrapped


def close_db_threads_connections() -> None:
    """Close the database connection of every room thread (tests: so that the test database can be dropped)."""
    threads = _db_pool.threads()
    barrier = threading.Barrier(threads)

    def close() -> None:
        barrier.wait(timeout=10)
        connections.close_all()

    for future in [_db_pool.submit(close) for _thread in range(threads)]:
        future.result(timeout=20)


async def join_groups(layer: Any, names: list[str], channel: str) -> None:
    """``channel`` added to every group of ``names``.

    On channels_redis, what its ``group_add`` sends for one group (ZADD of the channel, then EXPIRE of the
    group's key) is sent for all of them in one pipelined round trip per Redis shard, instead of two round
    trips per group; any other layer gets its own ``group_add`` for each."""
    if not isinstance(layer, RedisChannelLayer):
        await asyncio.gather(*(layer.group_add(name, channel) for name in names))
        return
    layer.require_valid_channel_name(channel)
    shards: dict[int, list[str]] = {}
    for name in names:
        layer.require_valid_group_name(name)
        shards.setdefault(layer.consistent_hash(name), []).append(name)
    now = time.time()
    for index, shard_names in shards.items():
        async with layer.connection(index).pipeline(transaction=False) as pipe:
            for name in shard_names:
                key = layer._group_key(name)
                pipe.zadd(key, {channel: now})
                pipe.expire(key, layer.group_expiry)
            await pipe.execute()


def handles(command: type[protocol.Command]) -> Callable[[F], F]:
    """Marks a room consumer's method as the handler of ``command``."""

    def mark(function: F) -> F:
        function.room_command = command  # type: ignore[attr-defined]
        return function

    return mark


def command_type(model: type[protocol.Command]) -> str:
    """The ``type`` a command model answers to (its ``Literal``)."""
    (value,) = typing.get_args(model.model_fields["type"].annotation)
    return str(value)


@dataclasses.dataclass(frozen=True)
class Entry:
    """What a room says of a user who may enter: the room's id, the user's audiences, the last number."""

    room_id: int
    audiences: frozenset[str]
    last_seq: int


class TokenBucket:
    """A connection's allowance of frames: ``burst`` at most, refilled at ``rate`` a second (monotonic time)."""

    def __init__(self, rate: float, burst: int, now: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._now = rate, burst, now
        self.tokens, self.at = float(burst), now()

    def take(self) -> bool:
        """One frame's token, if there is one."""
        now = self._now()
        self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class NotSignedIn(Exception):
    """The connection's session has no user (or no longer has one)."""


def _echoable_ref(raw: Any) -> str | None:
    """The frame's ``ref`` if it may be echoed: a string of at most ``REF_MAX_CHARS`` characters, else none."""
    ref = raw.get("ref") if isinstance(raw, dict) else None
    return ref if isinstance(ref, str) and len(ref) <= protocol.REF_MAX_CHARS else None


def _validation_fields(exc: ValidationError) -> dict[str, list[str]]:
    """pydantic's errors by field path, bounded: paths can be the client's own keys, and a list can hold thousands."""
    fields: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False, include_input=False)[:FIELDS_MAX]:
        path = ".".join(bounded(str(part)) for part in error["loc"][1:]) or "frame"
        fields.setdefault(path, []).append(error["msg"])
    return fields


def _language(scope: dict[str, Any]) -> str:
    cookie = scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME)
    headers = dict(scope.get("headers", []))
    accept = headers.get(b"accept-language", b"").decode("latin-1")
    for candidate in [cookie, *(part.split(";")[0].strip() for part in accept.split(","))]:
        if candidate:
            try:
                return translation.get_supported_language_variant(candidate)
            except LookupError:
                continue
    return settings.LANGUAGE_CODE


def _seq_of(message: dict[str, Any]) -> int:
    """The number of a ``room.event`` (its frame's) or ``room.passed`` message."""
    frame = message.get("frame")
    return int(frame["seq"] if frame is not None else message["seq"])


def encode(frame: dict[str, Any]) -> str:
    """A frame as text: the encoder of the HTTP API, so a snapshot's dates are written as the events' are."""
    return json.dumps(frame, ensure_ascii=False, cls=DjangoJSONEncoder)


class RoomConsumer(AsyncWebsocketConsumer):
    """One participant's connection to one room."""

    room: ClassVar[str]
    commands: ClassVar[tuple[type[protocol.Command], ...]] = ()
    # Filled from the ``@handles`` marks: command type → method name; and the validator of every command.
    handlers: ClassVar[dict[str, str]]
    command_types: ClassVar[frozenset[str]]
    command_adapter: ClassVar[TypeAdapter[Any]]
    # A listener's membership is checked again at most this long after the last check (commands and resumes always
    # check it): in the background, at a random point in the second half of the period, so that connections made
    # together do not all check at once and an event never waits for a check; an event that finds the last check
    # older than this (the database slow, or 0 here) checks it first.
    membership_recheck_seconds: ClassVar[float] = 30.0

    room_id: int
    audiences: frozenset[str]
    groups_joined: list[str]
    sent_seq: int | None
    # Events heard after joining the groups and before the first snapshot (or resume) was sent; the oldest go
    # first when there are more than a replay's worth, and the gap they leave is filled from the room's table.
    early_events: collections.deque[dict[str, Any]]
    # Events heard ahead of a number not heard yet, by number, held until the numbers before them arrive or
    # ``ROOM_GAP_WAIT_MS`` has passed (``gap_timer``); ``delivering`` lets one delivery run at a time.
    held: dict[int, dict[str, Any]]
    gap_timer: asyncio.Task[None] | None
    delivering: asyncio.Lock
    removed: bool  # closed because its user may no longer be in the room: nothing more is sent

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                command = getattr(value, "room_command", None)
                if command is not None:
                    handlers[command_type(command)] = name
        cls.handlers = handlers
        models = (*protocol.BASE_COMMANDS, *cls.commands)
        missing = {command_type(m) for m in cls.commands} - set(handlers)
        if missing:
            raise TypeError(f"{cls.__name__} has no handler for {sorted(missing)}")
        cls.command_types = frozenset(command_type(m) for m in models)
        union = typing.Union[models]  # type: ignore[valid-type]  # noqa: UP007
        cls.command_adapter = TypeAdapter(Annotated[union, Field(discriminator="type")])

    # --- what a room supplies (synchronous: run in a database thread) -------------------------------------

    def enter(self, user: Any) -> Entry:
        """May ``user`` enter? Raise ObjectDoesNotExist (no such room) or DomainError (refused)."""
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any] | protocol.EncodedFrame:
        """Everything the room shows this connection's user now: ``{"type": "snapshot", "seq": …, …}``
        (or that frame already encoded, without its ``ref``).

        The room checks the user's membership again (``current_user``) when its last check is older than
        ``membership_recheck_seconds``, as for live events: the snapshot asked right after connecting
        does not repeat the check the connection has just passed."""
        raise NotImplementedError

    def missed(self, user: Any, after: int, up_to: int | None) -> tuple[list[dict[str, Any]] | None, int]:
        """The event frames after ``after`` the user may see (None: too many), and the room's last number.

        Raises DomainError when the user may no longer be in the room."""
        raise NotImplementedError

    def still_member(self, user: Any) -> bool:
        raise NotImplementedError

    def current_user(self) -> Any:
        """The user as the database has it now (sync code only): a role withdrawn after connecting counts."""
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import AnonymousUser

        model = get_user_model()
        try:
            return model.objects.select_related("organization").get(pk=self.scope["user"].pk, is_active=True)
        except model.DoesNotExist:
            return AnonymousUser()

    def command_user(self) -> Any:
        """The user a command's handler gets (sync code only): ``current_user()``, read again for every command.

        A room whose every handler checks in its own first statement that the user is still active and entitled
        may return the connection's user instead, and save that read."""
        return self.current_user()

    def listener_user(self) -> Any:
        """The user ``still_member`` gets (sync code only): ``current_user()``. A room whose ``still_member`` reads
        the user's active flag itself may return the connection's user instead, and save that read."""
        return self.current_user()

    def refusal_close_code(self, exc: DomainError) -> int:
        return int(CloseCode.FORBIDDEN)

    # --- connecting -----------------------------------------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' ``dispatch`` without its ``aclose_old_connections()`` before every message.

        That call closes the old database connections of Channels' one thread, shared by every connection of
        the process: a hop onto it per message (the connect, every frame, every event), each queued behind the
        others'. A room does no database work on that thread: all of it runs in the rooms' own threads
        (``in_db_thread``), which close their old connections around every call."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.groups_joined = []
        self.sent_seq = None
        self.early_events = collections.deque(maxlen=protocol.MAX_REPLAY)
        self.held = {}
        self.gap_timer = None
        self.delivering = asyncio.Lock()
        self.removed = False
        self.checked_at = time.monotonic()
        self.language = _language(self.scope)
        self.bucket = TokenBucket(settings.ROOM_COMMANDS_PER_SECOND, settings.ROOM_COMMAND_BURST)
        await self.accept()
        try:
            entry = await self._enter()
        except NotSignedIn:
            await self._refuse(ErrorCode.NOT_AUTHENTICATED, _("请先登录。"), CloseCode.NOT_AUTHENTICATED)
            return
        except ObjectDoesNotExist:
            await self._refuse(ErrorCode.NOT_FOUND, _("找不到该招标项目。"), CloseCode.NOT_FOUND)
            return
        except DomainError as exc:
            await self._refuse(exc.code, exc.message, self.refusal_close_code(exc))
            return
        self.room_id = entry.room_id
        self.audiences = entry.audiences
        joined = [groups.group_name(self.room, entry.room_id, audience) for audience in sorted(entry.audiences)]
        # In one round trip: under a crowd of connections each round trip to the layer waits its turn in the loop.
        await join_groups(self.channel_layer, joined, self.channel_name)
        self.groups_joined.extend(joined)
        await self._send(protocol.hello(entry.last_seq, settings.HALL_FRAME_MAX_BYTES))
        if settings.ROOM_CATCH_UP_SECONDS:
            self.catch_up = asyncio.create_task(self._catch_up_from_the_table(settings.ROOM_CATCH_UP_SECONDS))
        if self.membership_recheck_seconds > 0:
            self.membership_checks = asyncio.create_task(self._keep_checking_membership())

    async def _keep_checking_membership(self) -> None:
        """The listener's membership checked again, in the background, before the last check is
        ``membership_recheck_seconds`` old; a participant no longer entitled is closed and hears nothing more."""
        while True:
            await asyncio.sleep(self.membership_recheck_seconds * _jitter.uniform(0.5, 0.9))
            try:
                still = await self._still_member()
            except Exception:
                # The database away for a moment: the next event checks it itself once the last check is too old.
                logger.warning("could not check a room listener's membership", exc_info=True)
                continue
            if not still:
                await self._close_removed()
                return
            self.checked_at = time.monotonic()

    async def _close_removed(self) -> None:
        self.removed = True
        await self.close(code=CloseCode.FORBIDDEN)

    @in_db_thread
    def _enter(self) -> Entry:
        """Who the session's user is and whether it may enter, in one hop to a database thread.

        ``scope["user"]`` is read here, from the session (config/asgi.py, ``LazySessionUser``), not before
        the consumer starts."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            raise NotSignedIn
        with translation.override(self.language):
            return self.enter(user)

    async def _catch_up_from_the_table(self, every: float) -> None:
        """Now and then, the events this connection has not had, read from the room's table and delivered.

        For a layer that reaches this process only (settings.ROOM_CATCH_UP_SECONDS): what another process
        published (the worker's decryption results) is sent within ``every`` seconds, in order, and never
        twice (``_deliver`` skips what was sent meanwhile)."""
        while True:
            await asyncio.sleep(every)
            if self.sent_seq is None:
                continue
            try:
                frames, _last = await self._missed(self.sent_seq)
            except DomainError:
                await self.close(code=CloseCode.FORBIDDEN)
                return
            if frames is None:  # more than a replay's worth behind: the client resumes or asks for a snapshot
                continue
            for missed in frames:
                if not await self._deliver({"frame": missed}):
                    return

    async def disconnect(self, code: int) -> None:
        tasks = ("catch_up", "gap_timer", "membership_checks")
        for task in (getattr(self, name, None) for name in tasks):
            if task is not None:
                task.cancel()
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _refuse(self, code: str, message: Any, close_code: int) -> None:
        with translation.override(self.language):
            await self._send({"type": "error", "code": str(code), "message": str(message)})
        await self.close(code=int(close_code))

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=encode(frame))

    async def _error(self, ref: str | None, code: str, message: Any, fields: dict[str, Any] | None = None) -> None:
        shown = {k: [str(m) for m in v] for k, v in fields.items()} if fields else None
        await self._send(protocol.error_frame(ref, str(code), str(message), shown))

    # --- from the client ------------------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        with translation.override(self.language):
            if not self.groups_joined:
                return  # refused at connect; the socket is closing
            if not self.bucket.take():
                # Nothing of the frame is read: a flood costs this connection its own frames, no database work.
                await self._error(None, ErrorCode.RATE_LIMITED, _("操作过于频繁，请稍后再试。"))
                return
            if text_data is None:
                await self._error(None, ErrorCode.BINARY_FRAME, _("只接受 JSON 文本帧。"))
                return
            if len(text_data.encode("utf-8")) > settings.HALL_FRAME_MAX_BYTES:
                limit = {"n": settings.HALL_FRAME_MAX_BYTES}
                await self._error(None, ErrorCode.FRAME_TOO_LARGE, _("消息过大：上限为 %(n)d 字节。") % limit)
                return
            try:
                raw = json.loads(text_data)
            except (ValueError, RecursionError):
                # RecursionError: nesting deeper than the decoder's stack (a few thousand brackets fit in a frame).
                await self._error(None, ErrorCode.MALFORMED_FRAME, _("消息不是有效的 JSON。"))
                return
            ref = _echoable_ref(raw)
            kind = raw.get("type") if isinstance(raw, dict) else None
            if not isinstance(kind, str) or kind not in self.command_types:
                await self._error(ref, ErrorCode.UNKNOWN_TYPE, _("未知的消息类型。"))
                return
            with_nul = nul_paths(raw)
            if with_nul:
                # PostgreSQL refuses NUL in any text: refused here, before any service sees it.
                fields = {path: [nul_refused_message()] for path in with_nul}
                await self._error(ref, ErrorCode.INVALID_FRAME, _("消息内容不符合要求。"), fields)
                return
            try:
                command = self.command_adapter.validate_python(raw)
            except ValidationError as exc:
                await self._error(ref, ErrorCode.INVALID_FRAME, _("消息内容不符合要求。"), _validation_fields(exc))
                return
            await self.dispatch_command(command)

    async def dispatch_command(self, command: protocol.Command) -> None:
        if isinstance(command, protocol.Ping):
            await self._send({"type": "pong", "ref": command.ref})
        elif isinstance(command, protocol.Snapshot):
            await self._send_snapshot(command.ref)
        elif isinstance(command, protocol.Resume):
            await self._resume(command)
        else:
            try:
                result = await self._run(command)
            except DomainError as exc:
                await self._error(command.ref, exc.code, exc.message, getattr(exc, "fields", None))
                return
            await self._send({"type": "ok", "ref": command.ref, **(result or {})})

    @in_db_thread
    def _run(self, command: protocol.Command) -> dict[str, Any] | None:
        handler = getattr(self, self.handlers[command_type(type(command))])
        with translation.override(self.language):
            result: dict[str, Any] | None = handler(self.command_user(), command)
            return result

    # --- snapshot, resume, events ---------------------------------------------------------------------------

    @in_db_thread
    def _snapshot(self) -> dict[str, Any] | protocol.EncodedFrame:
        with translation.override(self.language):
            return self.snapshot()

    async def _send_snapshot(self, ref: str | None) -> None:
        try:
            snapshot = await self._snapshot()
        except DomainError as exc:
            await self._error(ref, exc.code, exc.message)
            await self.close(code=CloseCode.FORBIDDEN)
            return
        if isinstance(snapshot, protocol.EncodedFrame):
            self.sent_seq = snapshot.seq
            await self.send(text_data=snapshot.with_fields(ref=ref))
        else:
            self.sent_seq = snapshot["seq"]
            await self._send({**snapshot, "ref": ref})
        await self._send_early_events()

    async def _send_early_events(self) -> None:
        """The events heard before the first snapshot or resume was sent, those after its number, in order."""
        early = sorted(self.early_events, key=_seq_of)
        self.early_events.clear()
        for message in early:
            if not await self._deliver(message):
                return

    @in_db_thread
    def _missed(self, after: int, up_to: int | None = None) -> tuple[list[dict[str, Any]] | None, int]:
        with translation.override(self.language):
            return self.missed(self.current_user(), after, up_to)

    @in_db_thread
    def _still_member(self) -> bool:
        return self.still_member(self.listener_user())

    async def _resume(self, command: protocol.Resume) -> None:
        try:
            frames, last_seq = await self._missed(command.last_seq)
        except DomainError as exc:
            await self._error(command.ref, exc.code, exc.message)
            await self.close(code=CloseCode.FORBIDDEN)
            return
        if frames is None or command.last_seq > last_seq:
            # Too far behind, or a number this room never gave: start again from a snapshot.
            await self._send_snapshot(command.ref)
            return
        for frame in frames:
            await self._send(frame)
        self.sent_seq = max(command.last_seq, frames[-1]["seq"] if frames else command.last_seq)
        await self._send({"type": "resumed", "ref": command.ref, "seq": self.sent_seq})
        await self._send_early_events()

    async def room_event(self, message: dict[str, Any]) -> None:
        """An event from one of this user's groups, sent in sequence order with any gap filled from the table.

        Before the first snapshot (or resume) is sent the client has no number to apply it to: it is kept,
        and sent after that snapshot if its number is above the snapshot's."""
        if self.sent_seq is None:
            self.early_events.append(message)
            return
        await self._deliver(message)

    async def room_passed(self, message: dict[str, Any]) -> None:
        """An event published to one audience took its number (``groups.passed_message``): an event of another
        audience is moved past without reading the room's table; one of this user's own was heard before it (it
        was sent first), or, if it never came, is read from the table."""
        if self.sent_seq is None:
            self.early_events.append(message)
            return
        await self._deliver(message)

    async def _deliver(self, message: dict[str, Any]) -> bool:
        """Send ``message``'s event (and any before it this connection has not had), or move past the number of
        another audience's event (``room.passed``); False: the socket was closed.

        One delivery at a time (``delivering``): the hold-back's timer and the layer's messages never interleave."""
        async with self.delivering:
            return await self._deliver_in_order(message)

    async def _deliver_in_order(self, message: dict[str, Any]) -> bool:
        seq = _seq_of(message)
        if self.removed:
            return False
        if self.sent_seq is None or seq <= self.sent_seq:
            return True
        if time.monotonic() - self.checked_at > self.membership_recheck_seconds:
            # A participant removed from the room stops hearing it, even if it only listens.
            if not await self._still_member():
                await self._close_removed()
                return False
            self.checked_at = time.monotonic()
        if seq > self.sent_seq + 1 and settings.ROOM_GAP_WAIT_MS:
            # Ahead of a number not heard yet: events committed in one order by two processes can reach this one
            # in the other. Held for a moment; only a gap still open then is read from the table.
            self.held[seq] = message
            if self.gap_timer is None:
                self.gap_timer = asyncio.create_task(self._fill_gap_after(settings.ROOM_GAP_WAIT_MS / 1000))
            return True
        if not await self._advance(message):
            return False
        while self.held:
            if self.sent_seq is not None and self.sent_seq + 1 in self.held:
                if not await self._advance(self.held.pop(self.sent_seq + 1)):
                    return False
            else:
                for passed in [n for n in self.held if self.sent_seq is not None and n <= self.sent_seq]:
                    del self.held[passed]
                break
        if not self.held and self.gap_timer is not None:
            self.gap_timer.cancel()
            self.gap_timer = None
        return True

    async def _fill_gap_after(self, wait: float) -> None:
        """After ``wait`` seconds, the numbers still missing before the held events read from the table."""
        await asyncio.sleep(wait)
        async with self.delivering:
            self.gap_timer = None
            if not self.held:
                return
            held, self.held = self.held, {}
            last = max(held)
            if not await self._from_the_table(last, held[last].get("frame")):
                return
            for seq in sorted(held):
                if not await self._deliver_in_order(held[seq]):
                    return

    async def _advance(self, message: dict[str, Any]) -> bool:
        """Deliver the event numbered one past the last sent, or move past it, or (an own event announced by its
        number but never heard, or a gap with no wait) read what is missing from the room's table."""
        frame = message.get("frame")
        seq = _seq_of(message)
        assert self.sent_seq is not None
        if seq == self.sent_seq + 1:
            if frame is None:
                if message["audience"] not in self.audiences:
                    self.sent_seq = seq  # another audience's: nothing to send, nothing to read
                    return True
            else:
                self.sent_seq = seq
                # Encoded once by the publisher for every listener.
                text = message.get("text")
                await (self.send(text_data=text) if isinstance(text, str) else self._send(frame))
                return True
        return await self._from_the_table(seq, frame)

    async def _from_the_table(self, seq: int, frame: dict[str, Any] | None) -> bool:
        """The events after the last sent up to ``seq`` read from the room's table and sent (``frame``, event
        ``seq``'s own, when the table has nothing); False: the socket was closed."""
        assert self.sent_seq is not None
        try:
            frames, _last = await self._missed(self.sent_seq, seq)
        except DomainError:
            await self.close(code=CloseCode.FORBIDDEN)
            return False
        for missed in frames if frames is not None else ([] if frame is None else [frame]):
            if missed["seq"] > self.sent_seq:
                self.sent_seq = missed["seq"]
                await self._send(missed)
        if frame is None:
            # The table holds every event up to ``seq`` (numbers are taken under the room's lock, in commit order).
            self.sent_seq = max(self.sent_seq, seq)
        return True
