"""Decrypting opened bids, in the worker, off the request path.

One bid at a time, in one pass (``tendering.sealing.container.index_container``):
the ciphertext streams from the object store through the decryptor, which
authenticates every segment and hashes the ciphertext once (it must be the one
accepted at the deadline); the container is read as it comes, its price
summary and response index parsed and each file's place noted with its SHA-256 (hashed in a
second thread, out of the decryptor's own buffers). Nothing is written to the
object store: the index (``BidOpening.files``, ``ciphertext_header``) lets the
evaluation read each file straight out of the accepted ciphertext by segment
ranges (``tendering.services.opened_files``), under the bid's file key, kept
sealed under the platform data key. No plaintext is ever written to the object
store, the database or a disk; memory stays flat whatever the size.

Idempotent and resumable: the worker takes a lease on the bid and renews it as
it reads; a worker killed mid-bid leaves a lease that expires, after which
``resume_stalled`` (run by ``watch_opening``) queues the bid again and another
attempt starts from the beginning (a killed worker is not counted against the
bid). Results are kept only by the worker that still holds the lease.

A fault of the platform's own (the object store cannot be read or written, or
returns other bytes than those accepted) is never the bidder's: the bid is
tried again after ``OPENING_RETRY_BASE_SECONDS``, doubling up to
``OPENING_RETRY_MAX_SECONDS``, until the decryption window ends (a manager may
have it tried at once: ``opening.bid_retried.retry_decryption``). Only a fault at or after
the window's end ends it **failed** (counts as withdrawn; 办法 Art 31).

The key matches the manifest's commitment but the ciphertext the bidder signed
does not decrypt, or its container or price summary is malformed: the
bidder's fault, so **revoked** at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from archive.ledger import record
from archive.storage import StorageError, get_object_store
from archive.streams import sha256_of
from config import clock
from tendering import hall_protocol as hp
from tendering.models import BidOpening, BidOpeningState, Opening
from tendering.sealing import Decryptor, SealingError, parse_manifest
from tendering.sealing.container import index_container
from tendering.sealing.stream import SEGMENT_SIZE
from tendering.services.after_commit import Work, enqueue_after_commit, enqueue_now
from tendering.services.hall_events import publish
from tendering.services.locks import lock_one
from tendering.services.opened_files import index_entry
from tendering.services.opening.bid_ended import resolve
from tendering.services.opening.key_seals import open_file_key
from tendering.services.opening.payloads import bid_view, key_refusals_note, opened_content_commitment
from tendering.services.opening.record_published import maybe_publish_record

logger = logging.getLogger(__name__)

# The lease is renewed, and the progress shown, at most every PROGRESS_STEP bytes and OPENING_PROGRESS_SECONDS
# (and always within a third of the lease): a fast opening does not write a row and an event every few milliseconds.
PROGRESS_STEP = 8 * 1024 * 1024


class LeaseLost(Exception):
    """Another worker took the bid over (this one was too slow to renew its lease)."""


class StoredBytesDiffer(Exception):
    """The object store returned other bytes than the ciphertext accepted at the deadline."""


@dataclasses.dataclass
class Decrypted:
    price_summary: dict[str, Any]
    files: list[dict[str, Any]]
    plaintext_size: int
    ciphertext_header: bytes
    response_index: dict[str, Any] | None = None


def worker_id() -> str:
    return f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _lease_until() -> dt.datetime:
    return clock.now() + dt.timedelta(seconds=settings.OPENING_LEASE_SECONDS)


# --- claiming ----------------------------------------------------------------------------------------------


def _claim(bid_opening_id: int, owner: str) -> BidOpening | None:
    """Take the lease on a bid whose key is ready, or None when there is nothing to do here."""
    found = BidOpening.objects.filter(pk=bid_opening_id).values_list("opening_id", flat=True).first()
    if found is None:
        return None
    with transaction.atomic():
        # The opening's row first, as every service does, so two lockers never wait on each other.
        opening = lock_one(Opening.objects.select_related("tender").filter(pk=found))
        if opening.closed_at is not None:
            return None
        bid_opening = lock_one(
            BidOpening.objects.select_related("bid", "bid__bidder", "bid__tender").filter(pk=bid_opening_id)
        )
        now = clock.now()
        if (
            bid_opening.state == BidOpeningState.DECRYPTING
            and bid_opening.lease_until
            and bid_opening.lease_until > now
        ):
            return None  # a live worker has it
        if bid_opening.state not in (BidOpeningState.KEY_READY, BidOpeningState.DECRYPTING):
            return None  # no key yet, or already ended
        if (
            bid_opening.state == BidOpeningState.KEY_READY
            and bid_opening.retry_at is not None
            and bid_opening.retry_at > now
        ):
            return None  # waiting out the back-off after a fault; its own task comes at retry_at
        if bid_opening.state == BidOpeningState.DECRYPTING and now >= opening.decryption_ends_at:
            # Its worker died (the lease ran out) after the window: within the window a death costs nothing.
            _fault_locked(opening, bid_opening, "decryption_interrupted", _("解密进程中断"))
            return None
        bid_opening.state = BidOpeningState.DECRYPTING
        bid_opening.lease_owner = owner
        bid_opening.lease_until = _lease_until()
        bid_opening.attempts += 1
        bid_opening.progress_bytes = 0
        bid_opening.retry_at = None
        bid_opening.save(
            update_fields=["state", "lease_owner", "lease_until", "attempts", "progress_bytes", "retry_at"]
        )
        if bid_opening.attempts > 1:
            record(
                opening.tender.case,
                "tendering.opening.decryption_resumed",
                {"bid_id": str(bid_opening.bid.public_id), "attempt": bid_opening.attempts},
                None,
            )
        publish(opening, hp.BidState(**bid_view(bid_opening)))
        return bid_opening


def _renew(bid_opening: BidOpening, owner: str, progress: int) -> None:
    """Renew the lease and show the progress; LeaseLost if another worker has taken over."""
    with transaction.atomic():
        opening = lock_one(Opening.objects.filter(pk=bid_opening.opening_id))
        updated = BidOpening.objects.filter(
            pk=bid_opening.pk, lease_owner=owner, state=BidOpeningState.DECRYPTING
        ).update(lease_until=_lease_until(), progress_bytes=progress)
        if not updated:
            raise LeaseLost(str(bid_opening.bid.public_id))
        publish(
            opening,
            hp.BidProgress(
                bid=str(bid_opening.bid.public_id),
                position=bid_opening.position,
                bytes=progress,
                total=bid_opening.bid.size,
            ),
        )


# --- the work ----------------------------------------------------------------------------------------------


class _ProgressReader:
    """The stored ciphertext, counted as it is read; renews the lease every PROGRESS_STEP bytes once
    ``interval`` seconds have passed since the last renewal."""

    def __init__(self, source: Any, on_progress: Any, interval: float) -> None:
        self._source = source
        self._on_progress = on_progress
        self._interval = interval
        self.count = 0
        self._next = PROGRESS_STEP
        self._renewed = time.monotonic()

    def readinto(self, buffer: Any) -> int:
        got = self._source.readinto(buffer) or 0
        if got:
            self.count += got
            if self.count >= self._next:
                self._next = self.count + PROGRESS_STEP
                now = time.monotonic()
                if now - self._renewed >= self._interval:
                    self._on_progress(self.count)
                    self._renewed = now
        return got


def _progress_interval() -> float:
    return min(settings.OPENING_PROGRESS_SECONDS, settings.OPENING_LEASE_SECONDS / 3)


def _decrypt(bid_opening: BidOpening, owner: str) -> Decrypted:
    bid = bid_opening.bid
    manifest = parse_manifest(bytes(bid.manifest))
    decryptor = Decryptor(open_file_key(bid_opening), manifest.identity.stream_info())
    store = get_object_store()
    with store.open(bid.object_key, bid.version_id or None) as stored:
        counted = _ProgressReader(stored, lambda n: _renew(bid_opening, owner, n), _progress_interval())
        try:
            index = index_container(decryptor, counted)
            if index.summary.identity != manifest.identity:
                raise SealingError("the price summary inside names another tender, bid or bidder than the manifest")
        except SealingError:
            _check_stored_bytes(bid)
            raise
    # The one hash of the ciphertext, made by the decryptor: it must be what the bidder signed and we accepted.
    if index.ciphertext.ciphertext_size != bid.size or index.ciphertext.ciphertext_sha256.hex() != bid.sha256:
        raise StoredBytesDiffer(str(bid.public_id))
    return Decrypted(
        price_summary=index.summary.to_json(),
        files=[index_entry(f, SEGMENT_SIZE) for f in index.files],
        plaintext_size=index.plaintext_size,
        ciphertext_header=index.ciphertext.header,
        response_index=None if index.response_index is None else index.response_index.to_json(),
    )


def _check_stored_bytes(bid: Any) -> None:
    """After a decryption failure: were the stored bytes the accepted ones? If not, it is not the bidder's fault.

    The failure path only: the object is read once more from its start and hashed.
    """
    with get_object_store().open(bid.object_key, bid.version_id or None) as opened:
        found = sha256_of(opened)
    if found.size != bid.size or found.sha256 != bid.sha256:
        raise StoredBytesDiffer(str(bid.public_id))


def decrypt_bid(bid_opening_id: int) -> str:
    """Decrypt one bid (the worker's task); what happened, in a word."""
    owner = worker_id()
    bid_opening = _claim(bid_opening_id, owner)
    if bid_opening is None:
        return "nothing to do"
    try:
        decrypted = _decrypt(bid_opening, owner)
    except LeaseLost:
        return "taken over"
    except StoredBytesDiffer:
        return _fault(bid_opening, owner, "stored_ciphertext_differs", _("对象存储返回的密文与投标时受理的密文不一致"))
    except SealingError as exc:
        _end(
            bid_opening,
            owner,
            BidOpeningState.REVOKED,
            "bid_not_decryptable",
            _("密钥与承诺相符，但投标人密封的文件无法解密或格式不符：%(reason)s") % {"reason": exc},
        )
        return "revoked"
    except (StorageError, OSError) as exc:
        logger.warning("decryption of bid %s interrupted: %s", bid_opening.bid.public_id, exc)
        # The hall shows the kind of fault only: the store's own message (paths, hosts) stays in the log.
        return _fault(bid_opening, owner, "decryption_faults", _("对象存储读写失败"))
    _finish(bid_opening, owner, decrypted)
    return "opened"


def retry_delay(faults: int) -> dt.timedelta:
    """The back-off after the ``faults``-th fault: the base, doubling, at most the maximum."""
    seconds = min(settings.OPENING_RETRY_MAX_SECONDS, settings.OPENING_RETRY_BASE_SECONDS * 2 ** min(faults - 1, 20))
    return dt.timedelta(seconds=seconds)


def _fault(bid_opening: BidOpening, owner: str, code: str, text: str) -> str:
    """A fault of the platform's own during this worker's attempt: try again later, or fail after the window."""
    with transaction.atomic():
        locked = _locked_own(bid_opening, owner)
        if locked is None:
            return "taken over"
        opening, current = locked
        return _fault_locked(opening, current, code, text)


def _fault_locked(opening: Opening, bid_opening: BidOpening, code: str, text: str) -> str:
    now = clock.now()
    bid_opening.faults += 1
    bid_opening.last_fault = str(text)[:200]
    if now >= opening.decryption_ends_at:
        resolve(
            opening,
            bid_opening,
            BidOpeningState.FAILED,
            code,
            _("解密时间结束时平台仍未能完成解密（%(fault)s，共 %(n)d 次故障），非投标人原因，按撤回投标处理。")
            % {"fault": text, "n": bid_opening.faults},
        )
        bid_opening.save(update_fields=["faults", "last_fault"])
        maybe_publish_record(opening)
        return "failed"
    # The last retry comes exactly at the window's end: a fault then is the one that fails the bid.
    retry_at = min(now + retry_delay(bid_opening.faults), opening.decryption_ends_at)
    bid_opening.state = BidOpeningState.KEY_READY
    bid_opening.retry_at = retry_at
    bid_opening.lease_owner = ""
    bid_opening.lease_until = None
    bid_opening.save(update_fields=["faults", "last_fault", "state", "retry_at", "lease_owner", "lease_until"])
    record(
        opening.tender.case,
        "tendering.opening.decryption_fault",
        {
            "bid_id": str(bid_opening.bid.public_id),
            "fault": code,
            "faults": bid_opening.faults,
            "retry_at": retry_at.isoformat(),
        },
        None,
    )
    publish(opening, hp.BidState(**bid_view(bid_opening)))
    enqueue_after_commit(Work.DECRYPT_BID, bid_opening.pk, delay=retry_at - now)
    return "retry scheduled"


def _locked_own(bid_opening: BidOpening, owner: str) -> tuple[Opening, BidOpening] | None:
    opening = lock_one(Opening.objects.select_related("tender").filter(pk=bid_opening.opening_id))
    current = lock_one(BidOpening.objects.select_related("bid", "bid__bidder").filter(pk=bid_opening.pk))
    if current.lease_owner != owner or current.state != BidOpeningState.DECRYPTING:
        return None
    return opening, current


def _finish(bid_opening: BidOpening, owner: str, decrypted: Decrypted) -> None:
    with transaction.atomic():
        locked = _locked_own(bid_opening, owner)
        if locked is None:
            return
        opening, current = locked
        current.state = BidOpeningState.OPENED
        current.price_summary = decrypted.price_summary
        current.files = decrypted.files
        current.response_index = decrypted.response_index
        current.plaintext_size = decrypted.plaintext_size
        current.ciphertext_header = decrypted.ciphertext_header
        current.progress_bytes = current.bid.size
        current.resolved_at = clock.now()
        current.lease_owner = ""
        current.lease_until = None
        current.save()
        record(
            opening.tender.case,
            "tendering.opening.bid_opened",
            {
                "bid_id": str(current.bid.public_id),
                "key_source": current.key_source,
                # The ciphertext read is the one accepted (its SHA-256, in the submission's entry, checked here).
                "ciphertext_sha256": current.bid.sha256,
                "plaintext_size": decrypted.plaintext_size,
                # The prices and file names themselves enter the ledger with the published record, once
                # every bid is final (no free option); here only what commits to them.
                **opened_content_commitment(current),
                **key_refusals_note(current),
            },
            None,
        )
        publish(opening, hp.BidState(**bid_view(current)))
        maybe_publish_record(opening)


def _end(bid_opening: BidOpening, owner: str, state: str, code: str, detail: str) -> None:
    with transaction.atomic():
        locked = _locked_own(bid_opening, owner)
        if locked is None:
            return
        opening, current = locked
        resolve(opening, current, state, code, detail)
        maybe_publish_record(opening)


# --- resuming ----------------------------------------------------------------------------------------------


def stalled(opening: Opening) -> list[int]:
    """Bids with a key whose decryption is not running: never claimed, or their worker's lease expired."""
    now = clock.now()
    ready = (
        opening.bids.filter(state=BidOpeningState.KEY_READY)
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
        .values_list("pk", flat=True)
    )
    expired = opening.bids.filter(state=BidOpeningState.DECRYPTING, lease_until__lt=now).values_list("pk", flat=True)
    return sorted({*ready, *expired})


def resume_stalled(opening: Opening) -> int:
    """Queue every stalled bid again (a claim refuses a bid that a live worker holds, so this is safe to repeat)."""
    ids = stalled(opening)
    for bid_opening_id in ids:
        enqueue_now(Work.DECRYPT_BID, bid_opening_id)
    return len(ids)


def opening_needs_watch(opening: Opening) -> bool:
    return (
        opening.closed_at is None
        and opening.bids.filter(state__in=[BidOpeningState.KEY_READY, BidOpeningState.DECRYPTING]).exists()
    )
