"""The opening hall's WebSocket: thin. It authenticates, joins the groups of the user's
audiences, validates each frame against its schema and hands it to a service.

Protocol (docs/opening.md §4): on connect the server says ``hello``; the client
asks for a ``snapshot`` or, after a reconnect, ``resume`` from the last sequence
number it saw. Then events arrive in sequence order (``type: event``). Commands
carry an optional ``ref`` echoed in the ``ok`` or ``error`` reply. A bad frame
gets ``{"type": "error", "code": ...}`` and changes nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Annotated, Any, Literal

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ObjectDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import translation
from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from accounts.errors import DomainError
from config.untrusted import FIELDS_MAX, bounded, nul_paths, nul_refused_message
from tendering import hall
from tendering.models import Tender
from tendering.services import hall_events
from tendering.services.opening import admission, bid_retried, conclusion, confirmations, custodian_parts, keys, views

# Close codes (4000-4999 are the application's): not signed in, not entitled, not open yet, unknown tender.
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_NOT_OPEN = 4409
# Live events re-check the listener's membership at most this often (commands and resumes always do).
MEMBERSHIP_RECHECK_SECONDS = 30.0
# A command's ``ref`` is echoed in its reply: only a short string is (anything else is refused, never echoed).
REF_MAX_CHARS = 64
# Numbers that reach a query fit PostgreSQL's bigint: a larger one is refused here, not a database error.
DB_INT_MAX = 2**63 - 1


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ref: str | None = Field(default=None, max_length=REF_MAX_CHARS)


class Snapshot(_Frame):
    type: Literal["snapshot"]


class Resume(_Frame):
    type: Literal["resume"]
    last_seq: int = Field(ge=0, le=DB_INT_MAX)


class Ping(_Frame):
    type: Literal["ping"]


class SignIn(_Frame):
    type: Literal["sign_in"]


class ReleaseKey(_Frame):
    type: Literal["release_key"]
    bid: uuid.UUID
    file_key: str = Field(max_length=64, description="the 32-byte file key, base64")


class Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    bid: uuid.UUID
    members: list[Annotated[int, Field(ge=0, le=8)]] = Field(
        min_length=1, max_length=9, description="0-based positions"
    )
    part: str = Field(max_length=64)


class Refusal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    statement: str = Field(max_length=2048)
    signature: str = Field(max_length=200)


class SubmitParts(_Frame):
    type: Literal["submit_parts"]
    parts: list[Part] = Field(max_length=20000)
    refusals: list[Refusal] = Field(default=[], max_length=20000)


class RetryDecryption(_Frame):
    type: Literal["retry_decryption"]
    bid: uuid.UUID


class ConfirmRecord(_Frame):
    type: Literal["confirm_record"]


class Objection(_Frame):
    type: Literal["object"]
    text: str = Field(max_length=20000)


class AnswerObjection(_Frame):
    type: Literal["answer_objection"]
    objection: int = Field(ge=1, le=DB_INT_MAX)
    text: str = Field(max_length=20000)


class ConcludeDecryption(_Frame):
    type: Literal["conclude_decryption"]


class CloseOpening(_Frame):
    type: Literal["close_opening"]


Command = Annotated[
    Snapshot
    | Resume
    | Ping
    | SignIn
    | ReleaseKey
    | SubmitParts
    | RetryDecryption
    | ConfirmRecord
    | Objection
    | AnswerObjection
    | ConcludeDecryption
    | CloseOpening,
    Field(discriminator="type"),
]
COMMANDS: TypeAdapter[Any] = TypeAdapter(Command)
COMMAND_TYPES = {
    "snapshot",
    "resume",
    "ping",
    "sign_in",
    "release_key",
    "submit_parts",
    "retry_decryption",
    "confirm_record",
    "object",
    "answer_objection",
    "conclude_decryption",
    "close_opening",
}


def _echoable_ref(raw: Any) -> str | None:
    """The frame's ``ref`` if it may be echoed: a string of at most ``REF_MAX_CHARS`` characters, else none."""
    ref = raw.get("ref") if isinstance(raw, dict) else None
    return ref if isinstance(ref, str) and len(ref) <= REF_MAX_CHARS else None


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


class HallConsumer(AsyncWebsocketConsumer):
    """One participant's connection to one tender's opening hall."""

    tender: Tender
    groups_joined: list[str]
    sent_seq: int | None

    async def connect(self) -> None:
        self.groups_joined = []
        self.sent_seq = None
        self.checked_at = time.monotonic()
        self.language = _language(self.scope)
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self._refuse("not_authenticated", _("请先登录。"), CLOSE_NOT_AUTHENTICATED)
            return
        try:
            self.tender, audiences, last_seq = await self._enter(user)
        except ObjectDoesNotExist:
            await self._refuse("not_found", _("找不到该招标项目。"), CLOSE_NOT_FOUND)
            return
        except DomainError as exc:
            code = CLOSE_NOT_OPEN if exc.code == "hall_not_open" else CLOSE_FORBIDDEN
            await self._refuse(exc.code, exc.message, code)
            return
        for audience in sorted(audiences):
            group = hall.group_name(self.tender.pk, audience)
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self._send({"type": "hello", "seq": last_seq, "max_frame_bytes": settings.HALL_FRAME_MAX_BYTES})

    @database_sync_to_async
    def _enter(self, user: Any) -> tuple[Tender, set[str], int]:
        with translation.override(self.language):
            try:
                public_id = uuid.UUID(str(self.scope["url_route"]["kwargs"]["tender_id"]))
            except ValueError:
                raise Tender.DoesNotExist from None
            tender = Tender.objects.get(public_id=public_id, published_at__isnull=False)
            roles = admission.require_hall(user, tender)
            opening = admission.ensure_opening(tender)
            return tender, hall.audiences(user, roles), opening.last_seq

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _refuse(self, code: str, message: Any, close_code: int) -> None:
        with translation.override(self.language):
            await self._send({"type": "error", "code": code, "message": str(message)})
        await self.close(code=close_code)

    async def _send(self, frame: dict[str, Any]) -> None:
        # The encoder of the hall's events and of the HTTP API: a snapshot's dates are written as the events' are.
        await self.send(text_data=json.dumps(frame, ensure_ascii=False, cls=DjangoJSONEncoder))

    def _current_user(self) -> Any:
        """The user as the database has it now (sync code only).

        The scope's user is loaded once per connection and caches its roles:
        a role withdrawn after connecting must count at the next command or resume.
        """
        found = (
            get_user_model()
            .objects.select_related("organization")
            .filter(pk=self.scope["user"].pk, is_active=True)
            .first()
        )
        return found if found is not None else AnonymousUser()

    # --- from the client --------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        with translation.override(self.language):
            if not self.groups_joined:
                return  # refused at connect; the socket is closing
            if text_data is None:
                await self._error(None, "binary_frame", _("只接受 JSON 文本帧。"))
                return
            if len(text_data.encode("utf-8")) > settings.HALL_FRAME_MAX_BYTES:
                await self._error(
                    None, "frame_too_large", _("消息过大：上限为 %(n)d 字节。") % {"n": settings.HALL_FRAME_MAX_BYTES}
                )
                return
            try:
                raw = json.loads(text_data)
            except (ValueError, RecursionError):
                # RecursionError: nesting deeper than the decoder's stack (a few thousand brackets fit in a frame).
                await self._error(None, "malformed_frame", _("消息不是有效的 JSON。"))
                return
            ref = _echoable_ref(raw)
            kind = raw.get("type") if isinstance(raw, dict) else None
            if not isinstance(kind, str) or kind not in COMMAND_TYPES:
                await self._error(ref, "unknown_type", _("未知的消息类型。"))
                return
            with_nul = nul_paths(raw)
            if with_nul:
                # PostgreSQL refuses NUL in any text: refused here, before any service sees it.
                fields = {path: [nul_refused_message()] for path in with_nul}
                await self._error(ref, "invalid_frame", _("消息内容不符合要求。"), fields)
                return
            try:
                command = COMMANDS.validate_python(raw)
            except ValidationError as exc:
                await self._error(ref, "invalid_frame", _("消息内容不符合要求。"), _validation_fields(exc))
                return
            await self._dispatch(command)

    async def _dispatch(self, command: Any) -> None:
        if isinstance(command, Ping):
            await self._send({"type": "pong", "ref": command.ref})
            return
        if isinstance(command, Snapshot):
            await self._send_snapshot(command.ref)
            return
        if isinstance(command, Resume):
            await self._resume(command)
            return
        try:
            result = await self._run(command)
        except DomainError as exc:
            await self._error(command.ref, exc.code, exc.message, getattr(exc, "fields", None))
            return
        await self._send({"type": "ok", "ref": command.ref, **result})

    @database_sync_to_async
    def _run(self, command: Any) -> dict[str, Any]:
        user = self._current_user()
        tender = self.tender
        with translation.override(self.language):
            if isinstance(command, SignIn):
                admission.sign_in(user, tender)
            elif isinstance(command, ReleaseKey):
                keys.release_key(user, tender, command.bid, keys.decode_key(command.file_key, "file_key"))
            elif isinstance(command, SubmitParts):
                parts = [
                    custodian_parts.SubmittedPart(p.bid, tuple(p.members), keys.decode_key(p.part, f"parts.{i}.part"))
                    for i, p in enumerate(command.parts)
                ]
                refusals = custodian_parts.decode_refusals([(r.statement, r.signature) for r in command.refusals])
                submission = custodian_parts.submit_custodian_parts(user, tender, parts, refusals)
                return {"parts": submission.part_count, "refusals": len(submission.refusals)}
            elif isinstance(command, RetryDecryption):
                bid_retried.retry_decryption(user, tender, command.bid)
            elif isinstance(command, ConfirmRecord):
                confirmations.confirm_record(user, tender)
            elif isinstance(command, Objection):
                return {"objection": confirmations.raise_objection(user, tender, command.text).pk}
            elif isinstance(command, AnswerObjection):
                confirmations.answer_objection(user, tender, command.objection, command.text)
            elif isinstance(command, ConcludeDecryption):
                conclusion.conclude_decryption(user, tender)
            elif isinstance(command, CloseOpening):
                conclusion.close_opening(user, tender)
        return {}

    async def _error(self, ref: str | None, code: str, message: Any, fields: dict[str, Any] | None = None) -> None:
        frame: dict[str, Any] = {"type": "error", "ref": ref, "code": code, "message": str(message)}
        if fields:
            frame["fields"] = {k: [str(m) for m in v] for k, v in fields.items()}
        await self._send(frame)

    # --- snapshot, resume, events -----------------------------------------------------------------

    @database_sync_to_async
    def _snapshot(self) -> dict[str, Any]:
        with translation.override(self.language):
            return views.snapshot(self._current_user(), self.tender)

    async def _send_snapshot(self, ref: str | None) -> None:
        try:
            snapshot = await self._snapshot()
        except DomainError as exc:
            await self._error(ref, exc.code, exc.message)
            await self.close(code=CLOSE_FORBIDDEN)
            return
        snapshot["ref"] = ref
        self.sent_seq = snapshot["seq"]
        await self._send(snapshot)

    @database_sync_to_async
    def _missed(self, after: int, up_to: int | None = None) -> tuple[list[dict[str, Any]] | None, int]:
        """The events after ``after`` this user may see (membership checked again), and the hall's last number."""
        user = self._current_user()
        roles = admission.require_hall(user, self.tender)
        opening = admission.ensure_opening(self.tender)
        opening.refresh_from_db(fields=["last_seq"])
        events = hall_events.events_after(opening.pk, after, hall.audiences(user, roles), up_to)
        return (None if events is None else [hall_events.event_frame(e) for e in events]), opening.last_seq

    @database_sync_to_async
    def _still_in_hall(self) -> bool:
        return bool(admission.roles_in_hall(self._current_user(), self.tender))

    async def _resume(self, command: Resume) -> None:
        try:
            frames, last_seq = await self._missed(command.last_seq)
        except DomainError as exc:
            await self._error(command.ref, exc.code, exc.message)
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if frames is None or command.last_seq > last_seq:
            # Too far behind, or a number this hall never gave: start again from a snapshot.
            await self._send_snapshot(command.ref)
            return
        for frame in frames:
            await self._send(frame)
        self.sent_seq = max(command.last_seq, frames[-1]["seq"] if frames else command.last_seq)
        await self._send({"type": "resumed", "ref": command.ref, "seq": self.sent_seq})

    async def hall_event(self, message: dict[str, Any]) -> None:
        """An event from one of this user's groups, sent in sequence order with any gap filled from the table."""
        frame = message["frame"]
        if self.sent_seq is None or frame["seq"] <= self.sent_seq:
            return
        if time.monotonic() - self.checked_at > MEMBERSHIP_RECHECK_SECONDS:
            # A participant removed from the procedure stops hearing the hall, even if it only listens.
            if not await self._still_in_hall():
                await self.close(code=CLOSE_FORBIDDEN)
                return
            self.checked_at = time.monotonic()
        if frame["seq"] == self.sent_seq + 1:
            self.sent_seq = frame["seq"]
            await self._send(frame)
            return
        try:
            frames, _last = await self._missed(self.sent_seq, frame["seq"])
        except DomainError:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        for missed in frames or [frame]:
            if missed["seq"] > self.sent_seq:
                self.sent_seq = missed["seq"]
                await self._send(missed)
