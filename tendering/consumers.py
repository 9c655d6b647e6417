"""The opening hall's WebSocket: the room protocol's consumer (tendering/room/consumer.py) with the hall's
handlers, each one call to a service. docs/opening.md §5.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from django.db import connection
from django.utils import translation

from accounts.errors import DomainError, NotFound
from tendering import hall, permissions
from tendering import hall_protocol as hp
from tendering.models import Opening, Tender
from tendering.room import protocol
from tendering.room.codes import CloseCode, ErrorCode
from tendering.room.consumer import Entry, RoomConsumer, encode, handles
from tendering.services import hall_events
from tendering.services.opening import admission, bid_retried, conclusion, confirmations, custodian_parts, keys, views


class HallViews:
    """The hall's view by tender and language, built again only when the hall's number has moved.

    Participants who connect at once (after a restart of Daphne, say) are served from one build: each
    then costs its membership check, one number read and its own few fields, not the whole hall's
    queries. The cached view is current to the number it names (``views.hall_view``), so a reader that
    gets it and then the events after that number misses nothing."""

    KEEP = 64  # views kept (tenders × languages): the oldest used goes first

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._views: OrderedDict[tuple[int, str], views.HallView] = OrderedDict()
        self._building: dict[tuple[int, str], threading.Lock] = {}
        # Each view's snapshot as text, by what tells readers apart (their roles, their organization's bids),
        # kept with the view it was cut from: an id() is reused once its object is gone, the view is not.
        self._texts: dict[tuple[int, tuple[str, ...], int | None], tuple[views.HallView, protocol.EncodedFrame]] = {}
        self.builds = 0

    @staticmethod
    def last_seq(tender: Tender) -> int | None:
        """The hall's last number (None: not opened yet), in one statement: every connect asks it."""
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT last_seq FROM {Opening._meta.db_table} WHERE tender_id = %s", [tender.pk])  # noqa: S608
            row = cursor.fetchone()
        return None if row is None else int(row[0])

    def get(self, tender: Tender) -> views.HallView:
        key = (tender.pk, translation.get_language() or "")
        last_seq = self.last_seq(tender)
        found = self._fresh(key, last_seq)
        if found is not None:
            return found
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one thread builds; the others wait for its view
            found = self._fresh(key, last_seq)
            if found is not None:
                return found
            view = views.hall_view(tender)
            with self._lock:
                self.builds += 1
                self._forget(self._views.get(key))
                self._views[key] = view
                self._views.move_to_end(key)
                while len(self._views) > self.KEEP:
                    dropped, dropped_view = self._views.popitem(last=False)
                    self._building.pop(dropped, None)
                    self._forget(dropped_view)
            return view

    def encoded(self, view: views.HallView, user: Any, roles: set[hall.HallRole]) -> protocol.EncodedFrame:
        """``user``'s snapshot of ``view`` as text (the consumer adds ``ref``); encoded once per kind of reader."""
        own_org = user.organization_id if hall.HallRole.BIDDER in roles else None
        key = (id(view), tuple(sorted(roles)), own_org)
        with self._lock:
            kept = self._texts.get(key)
        found = kept[1] if kept is not None and kept[0] is view else None
        if found is None:
            frame = views.snapshot_for(view, user, roles)
            del frame["you"]
            found = protocol.EncodedFrame(view.seq, encode(frame))
            with self._lock:
                if any(self._views.get(k) is view for k in self._views):  # not a view dropped meanwhile
                    self._texts[key] = (view, found)
        return protocol.EncodedFrame(found.seq, found.with_fields(you=user.pk))

    def _forget(self, view: views.HallView | None) -> None:
        """Drop the texts cut from ``view`` (the lock held)."""
        for stale in [k for k, (kept, _text) in self._texts.items() if kept is view]:
            del self._texts[stale]

    def _fresh(self, key: tuple[int, str], last_seq: int | None) -> views.HallView | None:
        with self._lock:
            found = self._views.get(key)
            if found is None or last_seq is None or found.seq < last_seq:
                return None
            self._views.move_to_end(key)
            return found


HALL_VIEWS = HallViews()


class HallConsumer(RoomConsumer):
    """One participant's connection to one tender's opening hall."""

    room = hp.ROOM
    commands = hp.COMMANDS
    tender: Tender
    member: tuple[Any, set[hall.HallRole], float]  # the user, its roles, when they were last checked

    # --- entering, and what the user sees --------------------------------------------------------------

    def enter(self, user: Any) -> Entry:
        try:
            tender = permissions.visible_tender(user, self.scope["url_route"]["kwargs"]["tender_id"], published=True)
        except NotFound:
            raise Tender.DoesNotExist from None
        roles = admission.require_hall(user, tender)
        last_seq = HALL_VIEWS.last_seq(tender)
        if last_seq is None:  # the first to enter opens the hall
            last_seq = admission.ensure_opening(tender).last_seq
        self.tender = tender
        self.member = (user, roles, time.monotonic())
        return Entry(tender.pk, frozenset(hall.audiences(user, roles)), last_seq)

    def refusal_close_code(self, exc: DomainError) -> int:
        return int(CloseCode.NOT_OPEN if exc.code == ErrorCode.HALL_NOT_OPEN else CloseCode.FORBIDDEN)

    def snapshot(self) -> protocol.EncodedFrame:
        user, roles, checked_at = self.member
        if time.monotonic() - checked_at > self.membership_recheck_seconds:
            user = self.current_user()
            roles = admission.require_hall(user, self.tender)
            self.member = (user, roles, time.monotonic())
        return HALL_VIEWS.encoded(HALL_VIEWS.get(self.tender), user, roles)

    def missed(self, user: Any, after: int, up_to: int | None) -> tuple[list[dict[str, Any]] | None, int]:
        roles = admission.require_hall(user, self.tender)
        opening = admission.ensure_opening(self.tender)
        opening.refresh_from_db(fields=["last_seq"])
        events = hall_events.events_after(opening.pk, after, hall.audiences(user, roles), up_to)
        return (None if events is None else [hall_events.event_frame(e) for e in events]), opening.last_seq

    def still_member(self, user: Any) -> bool:
        return bool(admission.roles_in_hall(user, self.tender))

    # --- the commands ----------------------------------------------------------------------------------

    @handles(hp.SignIn)
    def sign_in(self, user: Any, command: hp.SignIn) -> None:
        admission.sign_in(user, self.tender)

    @handles(hp.ReleaseKey)
    def release_key(self, user: Any, command: hp.ReleaseKey) -> None:
        keys.release_key(user, self.tender, command.bid, keys.decode_key(command.file_key, "file_key"))

    @handles(hp.SubmitParts)
    def submit_parts(self, user: Any, command: hp.SubmitParts) -> dict[str, Any]:
        parts = [
            custodian_parts.SubmittedPart(p.bid, tuple(p.members), keys.decode_key(p.part, f"parts.{i}.part"))
            for i, p in enumerate(command.parts)
        ]
        refusals = custodian_parts.decode_refusals([(r.statement, r.signature) for r in command.refusals])
        submission = custodian_parts.submit_custodian_parts(user, self.tender, parts, refusals)
        return {"parts": submission.part_count, "refusals": len(submission.refusals)}

    @handles(hp.RetryDecryption)
    def retry_decryption(self, user: Any, command: hp.RetryDecryption) -> None:
        bid_retried.retry_decryption(user, self.tender, command.bid)

    @handles(hp.ConfirmRecord)
    def confirm_record(self, user: Any, command: hp.ConfirmRecord) -> None:
        confirmations.confirm_record(user, self.tender)

    @handles(hp.Objection)
    def raise_objection(self, user: Any, command: hp.Objection) -> dict[str, Any]:
        return {"objection": confirmations.raise_objection(user, self.tender, command.text).pk}

    @handles(hp.AnswerObjection)
    def answer_objection(self, user: Any, command: hp.AnswerObjection) -> None:
        confirmations.answer_objection(user, self.tender, command.objection, command.text)

    @handles(hp.ConcludeDecryption)
    def conclude_decryption(self, user: Any, command: hp.ConcludeDecryption) -> None:
        conclusion.conclude_decryption(user, self.tender)

    @handles(hp.CloseOpening)
    def close_opening(self, user: Any, command: hp.CloseOpening) -> None:
        conclusion.close_opening(user, self.tender)
