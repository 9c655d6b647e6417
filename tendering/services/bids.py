"""Sealed bid submission (投标): upload in parts, finalize, receipt, withdraw, replace.

The platform only ever handles ciphertext. Finalize checks the manifest signature
against the bidder's registered key, the ciphertext hash and structure, the
envelopes against the tender's published custodians, and — under a row lock on
the tender, so one instant has one answer — that the deadline has not passed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, InvalidInput, NotFound, PermissionDenied, WrongPhase
from accounts.models import KeyPurpose, PublicKey, User
from archive.ledger import record
from archive.receipts import issue_receipt
from archive.storage import (
    ObjectStore,
    StorageError,
    StoredObject,
    UploadNotFound,
    get_object_store,
    is_store_outage,
)
from archive.storage.base import multipart_etag, sorted_parts
from config import clock
from tendering import object_keys, permissions
from tendering.models import (
    Bid,
    BidStatus,
    BidUpload,
    BidUploadPart,
    BidUploadState,
    Phase,
    Tender,
)
from tendering.services import custody, locks, sealed_format
from tendering.services.sealed_format import BidRefused

logger = logging.getLogger(__name__)


def _require_bidder(user: User) -> None:
    if not permissions.is_bidder(user):
        raise PermissionDenied(_("只有投标人可以提交投标文件。"))


def _require_open(tender: Tender) -> None:
    phase = tender.phase(clock.now())
    if phase != Phase.OPEN_FOR_BIDS:
        if phase in (Phase.DRAFT,):
            raise WrongPhase(_("该招标项目尚未发布，不能投标。"), code="tender_not_published")
        raise WrongPhase(
            _("投标已于 %(when)s 截止，不再接受投标文件。") % {"when": clock.local_text(tender.bid_deadline)},
            code="deadline_passed",
        )


def _own_upload(user: User, upload_id: uuid.UUID | str, *, lock: bool = False) -> BidUpload:
    """The user's organization's upload; another bidder's upload id is simply not found."""
    try:
        public_id = uuid.UUID(str(upload_id))
    except ValueError:
        raise NotFound(_("找不到该上传。")) from None
    # Locked, only the upload's own row: the tender is read, not locked, so parts of different bids do not
    # wait on one another (finalize decides against the deadline under the tender's lock).
    qs = BidUpload.objects.select_related("tender").filter(public_id=public_id, bidder_id=user.organization_id)
    upload = locks.lock_first(qs) if lock else qs.first()
    if upload is None:
        raise NotFound(_("找不到该上传。"))
    return upload


@transaction.atomic
def start_upload(user: User, tender: Tender, bid_id: uuid.UUID, size: int) -> BidUpload:
    """Open an upload of ``size`` ciphertext bytes for the bid ``bid_id`` (chosen by the client)."""
    _require_bidder(user)
    tender = locks.lock_tender(tender.pk)
    _require_open(tender)
    custody.require_custody_confirmed(tender)
    if size < sealed_format.MIN_CIPHERTEXT_SIZE:
        raise InvalidInput({"size": [_("投标文件太小：这不是一个密封的投标文件。")]})
    if size > settings.BID_MAX_BYTES:
        raise InvalidInput(
            {"size": [_("投标文件过大：上限为 %(limit)d MiB。") % {"limit": settings.BID_MAX_BYTES // (1024 * 1024)}]}
        )
    if BidUpload.objects.filter(bid_id=bid_id).exists():
        raise Conflict(_("此投标编号已被使用，请为新的投标文件生成新的编号。"), code="bid_id_used")
    key = object_keys.bid_ciphertext(tender, bid_id)
    upload_id = get_object_store().start_multipart(key, "application/octet-stream")
    upload = BidUpload.objects.create(
        tender=tender,
        bidder_id=user.organization_id or 0,
        created_by=user,
        bid_id=bid_id,
        object_key=key,
        store_upload_id=upload_id,
        declared_size=size,
        part_size=settings.BID_PART_SIZE,
        created_at=clock.now(),
    )
    record(
        tender.case,
        "tendering.bid.upload_started",
        {
            "upload_id": str(upload.public_id),
            "bid_id": str(bid_id),
            "size": size,
            "organization_id": user.organization_id,
        },
        user,
    )
    return upload


# How many parts past the confirmed prefix an upload accepts at once: a client sends a few parts concurrently
# and the platform stores them concurrently (each streamed to the store outside every lock).
PART_WINDOW = 4
# A part being received holds its number for this long; a request that died without a trace (a killed
# process) frees it then. A live request slower than this finds its number taken and is refused.
PART_RESERVATION_SECONDS = 300


def upload_part(user: User, upload_id: uuid.UUID | str, number: int, stream: IO[bytes], length: int) -> BidUploadPart:
    """Store part ``number`` (1-based) of ``length`` bytes read from ``stream``.

    Up to ``PART_WINDOW`` parts past the confirmed prefix are taken at once, in
    any order among them: the part's number is reserved under the upload's
    lock (a short transaction), its bytes go to the object store with no lock
    held, hashed once on the way (the store signs that SHA-256 and the S3 server
    checks it), and the part is confirmed under the lock again. A part already
    confirmed, one being received, one past the window, or one of the wrong
    length is refused and changes nothing; an object store outage frees the
    number again and answers 503, so that the client retries the same part.
    """
    _require_bidder(user)
    upload, slot = _reserve_part(user, upload_id, number, length)
    try:
        info = get_object_store().upload_part(upload.object_key, upload.store_upload_id, number, stream, length)
    except BaseException as exc:
        _release_part(slot)
        if isinstance(exc, StorageError | ValueError) and not is_store_outage(exc):
            raise InvalidInput({"part": [_("分片不完整或无法保存：%(reason)s") % {"reason": str(exc)}]}) from None
        raise
    return _confirm_part(upload, slot, info)


def _part_length(upload: BidUpload, number: int) -> int:
    """The exact length of part ``number``: the part size, the last part what remains."""
    return min(upload.part_size, upload.declared_size - (number - 1) * upload.part_size)


@transaction.atomic
def _reserve_part(user: User, upload_id: uuid.UUID | str, number: int, length: int) -> tuple[BidUpload, BidUploadPart]:
    if number < 1:
        raise InvalidInput({"number": [_("分片编号必须在 1 到 10000 之间。")]})
    upload = _own_upload(user, upload_id, lock=True)
    if upload.state != BidUploadState.OPEN:
        raise Conflict(
            _("此上传已结束（%(state)s），不能再上传分片。") % {"state": upload.get_state_display()},
            code="upload_closed",
        )
    _require_open(upload.tender)
    expected = upload.received_parts + 1
    last = min(upload.expected_parts, upload.received_parts + PART_WINDOW)
    if number < expected:
        raise Conflict(
            _("分片 %(n)d 已收到，请从分片 %(next)d 继续。") % {"n": number, "next": expected},
            code="part_duplicated",
        )
    if number > last:
        raise Conflict(
            _("分片顺序错误：现在可上传分片 %(first)d 至 %(last)d。") % {"first": expected, "last": last},
            code="part_out_of_order",
        )
    want = _part_length(upload, number)
    if length != want:
        raise InvalidInput(
            {
                "part": [
                    _("分片 %(n)d 应为 %(want)d 字节，收到 %(got)d 字节。") % {"n": number, "want": want, "got": length}
                ]
            }
        )
    now = clock.now()
    held = upload.parts.filter(number=number).first()
    if held is not None:
        if held.etag:
            raise Conflict(_("分片 %(n)d 已收到。") % {"n": number}, code="part_duplicated")
        if (now - held.received_at).total_seconds() < PART_RESERVATION_SECONDS:
            raise Conflict(_("分片 %(n)d 正在接收中，请稍后查询上传状态。") % {"n": number}, code="part_in_progress")
        # A reservation left by a request that died: taken over with a new reservation time.
        held.size, held.received_at = length, now
        held.save(update_fields=["size", "received_at"])
        return upload, held
    slot = BidUploadPart.objects.create(upload=upload, number=number, size=length, etag="", sha256="", received_at=now)
    return upload, slot


def _release_part(slot: BidUploadPart) -> None:
    """Free a reservation whose bytes could not be stored (only this request's own, not a successor's)."""
    BidUploadPart.objects.filter(pk=slot.pk, etag="", received_at=slot.received_at).delete()


@transaction.atomic
def _confirm_part(upload: BidUpload, slot: BidUploadPart, info: Any) -> BidUploadPart:
    upload = locks.lock_one(BidUpload.objects.filter(pk=upload.pk))
    if upload.state != BidUploadState.OPEN:
        raise Conflict(_("此上传已结束，分片未被计入。"), code="upload_closed")
    now = clock.now()
    confirmed = BidUploadPart.objects.filter(pk=slot.pk, etag="", received_at=slot.received_at).update(
        etag=info.etag, sha256=info.sha256, received_at=now
    )
    if not confirmed:
        raise Conflict(
            _("分片 %(n)d 的接收超时，已由另一请求接替；请查询上传状态后继续。") % {"n": slot.number},
            code="part_in_progress",
        )
    done = dict(upload.parts.exclude(etag="").values_list("number", "size"))
    prefix = upload.received_parts
    while prefix + 1 in done:
        prefix += 1
    upload.received_parts = prefix
    upload.received_bytes = sum(done.values())
    upload.save(update_fields=["received_parts", "received_bytes"])
    slot.etag, slot.sha256, slot.received_at = info.etag, info.sha256, now
    return slot


def confirmed_parts(upload: BidUpload) -> list[BidUploadPart]:
    """The upload's confirmed parts by number (a part still being received is not one)."""
    return [p for p in upload.parts.all() if p.etag]


def own_uploads(user: User, bid_id: uuid.UUID | None = None) -> Any:
    """The organization's uploads, newest first: a client that lost its state finds its upload by bid id."""
    _require_bidder(user)
    qs = BidUpload.objects.filter(bidder_id=user.organization_id).select_related("tender").prefetch_related("parts")
    return qs.filter(bid_id=bid_id) if bid_id is not None else qs[:100]


def upload_status(user: User, upload_id: uuid.UUID | str) -> BidUpload:
    _require_bidder(user)
    return _own_upload(user, upload_id)


@transaction.atomic
def abort_upload(user: User, upload_id: uuid.UUID | str) -> BidUpload:
    _require_bidder(user)
    upload = _own_upload(user, upload_id, lock=True)
    if upload.state != BidUploadState.OPEN:
        raise Conflict(_("此上传已结束。"), code="upload_closed")
    _close_upload(upload, BidUploadState.ABORTED)
    record(upload.tender.case, "tendering.bid.upload_aborted", {"upload_id": str(upload.public_id)}, user)
    return upload


def _close_upload(upload: BidUpload, state: str) -> None:
    upload.state = state
    upload.closed_at = clock.now()
    upload.save(update_fields=["state", "closed_at"])
    key, store_id = upload.object_key, upload.store_upload_id

    def abort() -> None:
        try:
            get_object_store().abort_multipart(key, store_id)
        except StorageError:
            logger.warning("could not abort multipart upload %s of %s", store_id, key, exc_info=True)

    transaction.on_commit(abort)


def _signing_key_of(bidder_id: int, fingerprint: str) -> PublicKey:
    key = PublicKey.objects.select_related("owner").filter(fingerprint=fingerprint, purpose=KeyPurpose.SIGNING).first()
    if key is None:
        raise BidRefused(_("签名公钥未在平台登记。"), code="unregistered_key")
    if key.organization_id != bidder_id:
        raise BidRefused(_("签名公钥不属于本投标人。"), code="foreign_key")
    if key.revoked_at is not None:
        raise BidRefused(_("签名公钥已撤销。"), code="revoked_key")
    return key


def finalize(user: User, upload_id: uuid.UUID | str, manifest: bytes, signature: bytes) -> Bid:
    """Check everything, then accept the bid if the deadline has not passed, all under the tender's lock."""
    _require_bidder(user)
    upload = _own_upload(user, upload_id)
    if upload.state == BidUploadState.FINALIZED:
        raise Conflict(_("此投标文件已提交，回执已发出；重复提交无效。"), code="already_finalized")
    if upload.state != BidUploadState.OPEN:
        raise Conflict(_("此上传已结束（%(state)s）。") % {"state": upload.get_state_display()}, code="upload_closed")
    if upload.received_parts != upload.expected_parts or upload.received_bytes != upload.declared_size:
        raise Conflict(
            _("尚未收到全部分片：已收到 %(got)d / %(want)d 字节。")
            % {"got": upload.received_bytes, "want": upload.declared_size},
            code="upload_incomplete",
        )
    tender = upload.tender
    _require_open(tender)
    custody.require_custody_confirmed(tender)
    checked = sealed_format.check_manifest(
        manifest,
        signature,
        tender=tender,
        bid_id=upload.bid_id,
        bidder_credit_code=upload.bidder.credit_code or "",
        size=upload.declared_size,
        signing_key_of=lambda fingerprint: _signing_key_of(upload.bidder_id, fingerprint),
    )
    store = get_object_store()
    stored = _assemble(store, upload, confirmed_parts(upload))
    sealed_format.check_ciphertext(store, upload.object_key, stored.version_id, checked)
    sealed_format.check_envelopes(checked, tender)
    bid = _accept(user, upload, checked, stored.version_id or "", manifest, signature)
    if bid is None:
        raise WrongPhase(
            _("投标已于 %(when)s 截止，此投标文件未被受理。") % {"when": clock.local_text(tender.bid_deadline)},
            code="deadline_passed",
        )
    return ensure_receipt(bid)


RECEIPT_SUBJECT = ("tender_id", "bid_id", "bidder", "ciphertext_sha256", "size", "manifest_sha256")
# A withdrawal receipt names the bid it withdraws by the same ids and ciphertext hash, and when.
WITHDRAWAL_RECEIPT_SUBJECT = ("tender_id", "bid_id", "bidder", "ciphertext_sha256", "withdrawn_at")


def ensure_receipt(bid: Bid) -> Bid:
    """Sign and time-stamp the bid's receipt if it has none yet (回执).

    Runs after the acceptance committed, outside every lock: a slow or failing
    time-stamp authority delays the receipt, never the acceptance, and the
    receipt is issued on the next request for the bid.
    """
    if bid.receipt:
        return bid
    receipt = _receipt_of_entry(bid, bid.ledger_seq, RECEIPT_SUBJECT)
    if receipt:
        Bid.objects.filter(pk=bid.pk, receipt=b"").update(receipt=receipt)
        bid.refresh_from_db(fields=["receipt"])
    return bid


def ensure_withdrawal_receipt(bid: Bid) -> Bid:
    """Sign and time-stamp the receipt of the bid's withdrawal (撤回回执), if it was withdrawn and has none yet.

    As ``ensure_receipt``: after the withdrawal committed, outside every lock;
    a failing time-stamp authority delays it to the next request for the bid.
    """
    if bid.withdrawal_receipt or bid.withdrawal_ledger_seq is None:
        return bid
    receipt = _receipt_of_entry(bid, bid.withdrawal_ledger_seq, WITHDRAWAL_RECEIPT_SUBJECT)
    if receipt:
        Bid.objects.filter(pk=bid.pk, withdrawal_receipt=b"").update(withdrawal_receipt=receipt)
        bid.refresh_from_db(fields=["withdrawal_receipt"])
    return bid


def _receipt_of_entry(bid: Bid, seq: int, subject: tuple[str, ...]) -> bytes:
    """The receipt of ledger entry ``seq`` naming ``subject`` of its data, or b"" (logged) if none can be had now."""
    from archive.models import LedgerEntry

    entry = LedgerEntry.objects.get(seq=seq)
    data = json.loads(entry.data)
    try:
        return issue_receipt(entry, {k: data[k] for k in subject})
    except Exception:
        logger.exception("the receipt of ledger entry %s (bid %s) could not be issued yet", seq, bid.public_id)
        return b""


def _assemble(store: ObjectStore, upload: BidUpload, parts: list[BidUploadPart]) -> StoredObject:
    """Complete the multipart upload; a finalize retried after an answer lost on the way finds its object.

    If the store completed the upload but its answer never came (an outage, a
    timeout), the upload id is gone on the next try: the version of the key
    whose ETag is the multipart ETag of exactly these parts is the one it
    assembled. An outage propagates (503): the upload stays open for a retry.
    """
    infos = [_part_info(p) for p in parts]
    try:
        return store.complete_multipart(upload.object_key, upload.store_upload_id, infos)
    except UploadNotFound:
        wanted = multipart_etag([p.etag for p in sorted_parts(infos)])
        for version in store.list_versions(upload.object_key):
            if version.key == upload.object_key and (version.etag or "").strip('"') == wanted and version.version_id:
                return StoredObject(upload.object_key, version.version_id, version.size, None, wanted)
        raise BidRefused(_("无法组装投标文件：上传已不存在。"), code="assembly_failed") from None
    except StorageError as exc:
        if is_store_outage(exc):
            raise
        raise BidRefused(_("无法组装投标文件：%(reason)s") % {"reason": str(exc)}, code="assembly_failed") from None


def _part_info(part: BidUploadPart) -> Any:
    from archive.storage import PartInfo

    return PartInfo(part_number=part.number, etag=part.etag, size=part.size)


@transaction.atomic
def _accept(
    user: User, upload: BidUpload, checked: Any, version_id: str, manifest: bytes, signature: bytes
) -> Bid | None:
    """Accept the bid, or (deadline passed) record the refusal and return None; the caller raises
    after the commit so the refusal itself is kept."""
    tender = locks.lock_tender(upload.tender_id)
    upload = locks.lock_one(BidUpload.objects.filter(pk=upload.pk))
    if upload.state != BidUploadState.OPEN:
        raise Conflict(_("此投标文件已提交，回执已发出；重复提交无效。"), code="already_finalized")
    # The role and the organization as they are now, under the lock, not as cached when the request began:
    # a bidder role withdrawn while the upload ran (or while its ciphertext was checked) ends the submission.
    current = User.objects.get(pk=user.pk)
    if not permissions.is_bidder(current) or current.organization_id != upload.bidder_id:
        raise PermissionDenied(_("只有投标人可以提交投标文件。"))
    now = clock.now()
    if tender.phase(now) != Phase.OPEN_FOR_BIDS:
        # Decided under the lock: the deadline passed before this finalize completed.
        upload.state = BidUploadState.EXPIRED
        upload.closed_at = now
        upload.save(update_fields=["state", "closed_at"])
        record(
            tender.case,
            "tendering.bid.late_finalize_refused",
            {"upload_id": str(upload.public_id), "at": now.isoformat()},
            user,
        )
        _delete_later(upload.object_key, version_id)
        return None
    previous = locks.lock_first(
        Bid.objects.filter(tender=tender, bidder_id=upload.bidder_id, status=BidStatus.ACCEPTED)
    )
    if previous is not None:
        previous.status = BidStatus.SUPERSEDED
        previous.superseded_at = now
        previous.save(update_fields=["status", "superseded_at"])
    data = {
        "tender_id": str(tender.public_id),
        "bid_id": str(upload.bid_id),
        "organization_id": upload.bidder_id,
        "bidder": upload.bidder.credit_code or "",
        "ciphertext_sha256": checked.ciphertext_sha256,
        "size": upload.declared_size,
        "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
        "key_commitment": checked.key_commitment,
        "replaces": str(previous.public_id) if previous else None,
        "accepted_at": now.isoformat(),
    }
    entry = record(tender.case, "tendering.bid.submitted", data, user)
    bid = Bid.objects.create(
        public_id=upload.bid_id,
        tender=tender,
        bidder_id=upload.bidder_id,
        submitted_by=user,
        upload=upload,
        signing_key=checked.signing_key,
        manifest=manifest,
        signature=signature,
        object_key=upload.object_key,
        version_id=version_id,
        size=upload.declared_size,
        sha256=checked.ciphertext_sha256,
        key_commitment=checked.key_commitment,
        accepted_at=now,
        ledger_seq=entry.seq,
    )
    if previous is not None:
        previous.superseded_by = bid
        previous.save(update_fields=["superseded_by"])
    upload.state = BidUploadState.FINALIZED
    upload.closed_at = now
    upload.save(update_fields=["state", "closed_at"])
    return bid


def _delete_later(key: str, version_id: str) -> None:
    def delete() -> None:
        try:
            get_object_store().delete(key, version_id or None)
        except StorageError:
            logger.warning("could not delete late bid %s", key, exc_info=True)

    transaction.on_commit(delete)


def withdraw(user: User, bid_public_id: uuid.UUID | str) -> Bid:
    """Withdraw an accepted bid before the deadline (撤回投标文件); the bid comes back with its withdrawal receipt.

    The withdrawal commits under the tender's lock first, then its receipt is
    signed and time-stamped outside it, as a submission's (``ensure_receipt``).
    """
    return ensure_withdrawal_receipt(_withdraw(user, bid_public_id))


@transaction.atomic
def _withdraw(user: User, bid_public_id: uuid.UUID | str) -> Bid:
    _require_bidder(user)
    bid = _own_bid(user, bid_public_id)
    tender = locks.lock_tender(bid.tender_id)
    bid = locks.lock_one(Bid.objects.filter(pk=bid.pk))
    _require_open(tender)
    if bid.status != BidStatus.ACCEPTED:
        raise Conflict(
            _("此投标文件当前状态为「%(status)s」，不能撤回。") % {"status": bid.get_status_display()},
            code="not_withdrawable",
        )
    now = clock.now()
    entry = record(
        tender.case,
        "tendering.bid.withdrawn",
        {
            "tender_id": str(tender.public_id),
            "bid_id": str(bid.public_id),
            "organization_id": bid.bidder_id,
            "bidder": bid.bidder.credit_code or "",
            "ciphertext_sha256": bid.sha256,
            "withdrawn_at": now.isoformat(),
        },
        user,
    )
    bid.status = BidStatus.WITHDRAWN
    bid.withdrawn_at = now
    bid.withdrawal_ledger_seq = entry.seq
    bid.save(update_fields=["status", "withdrawn_at", "withdrawal_ledger_seq"])
    return bid


def _own_bid(user: User, bid_public_id: uuid.UUID | str) -> Bid:
    try:
        public_id = uuid.UUID(str(bid_public_id))
    except ValueError:
        raise NotFound(_("找不到该投标文件。")) from None
    bid = Bid.objects.filter(public_id=public_id, bidder_id=user.organization_id).first()
    if bid is None:
        raise NotFound(_("找不到该投标文件。"))
    return bid


def own_bids(user: User, tender: Tender | None = None) -> Any:
    """A bidder sees its own organization's bids only."""
    if not permissions.is_bidder(user):
        return Bid.objects.none()
    qs = Bid.objects.filter(bidder_id=user.organization_id).select_related("tender")
    return qs.filter(tender=tender) if tender is not None else qs


def own_bid(user: User, bid_public_id: uuid.UUID | str) -> Bid:
    _require_bidder(user)
    return ensure_withdrawal_receipt(ensure_receipt(_own_bid(user, bid_public_id)))


def bid_count(tender: Tender) -> int | None:
    """How many bids stand, from the opening on; None before it (招标投标法 Art 22: not even the number)."""
    if not permissions.bids_disclosed(tender, clock.now()):
        return None
    return int(Bid.objects.filter(tender=tender, status=BidStatus.ACCEPTED).count())


def standing_bidders(tender: Tender) -> list[str] | None:
    """Names of the organizations whose bids stand, from the opening on; None before it."""
    if not permissions.bids_disclosed(tender, clock.now()):
        return None
    accepted = (
        Bid.objects.filter(tender=tender, status=BidStatus.ACCEPTED).select_related("bidder").order_by("accepted_at")
    )
    return [bid.bidder.name for bid in accepted]


@transaction.atomic
def expire_uploads(tender_id: int) -> int:
    """After the deadline, uploads never finalized count as not submitted: abort them and record it."""
    tender = locks.lock_tender(tender_id)
    if tender.phase(clock.now()) == Phase.OPEN_FOR_BIDS:
        return 0
    expired = 0
    for upload in locks.lock(BidUpload.objects.filter(tender=tender, state=BidUploadState.OPEN)):
        _close_upload(upload, BidUploadState.EXPIRED)
        record(
            tender.case,
            "tendering.bid.upload_expired",
            {"upload_id": str(upload.public_id), "bid_id": str(upload.bid_id), "organization_id": upload.bidder_id},
            None,
        )
        expired += 1
    return expired
