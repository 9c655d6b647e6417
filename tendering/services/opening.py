"""The online opening (不见面开标): the hall, keys, custodians' parts, the opening record.

The order of an opening:

1. At the opening time the hall opens (``ensure_opening``): the bids that
   stood at the deadline are listed, bidders named. Participants sign in.
2. Keys. Each bidder may release its bid's file key within the decryption
   window (``release_key``); the tender's custodians submit their parts of
   every bid's key in one action (``submit_custodian_parts``). As soon as all
   members of a k-subset have submitted for a bid, their parts are combined;
   a key is used only if it matches the manifest's key commitment. A bid with
   a key is decrypted by the worker (``tendering.services.decryption``).
3. The tenderer concludes the decryption once the window has passed or every
   bid has its key (``conclude_decryption``): a bid still without a key counts
   as revoked (the bidder did not release it).
4. When every bid has ended in one state (opened, revoked, failed), the opening
   record (开标记录表) is published and bidders confirm it or object within the
   confirmation window; the tenderer answers objections.
5. The tenderer closes the opening (``close_opening``); the record is rendered
   as a signed PDF by the worker and filed.

Every change is recorded in the ledger and announced in the hall after commit.
No private key of a bidder or custodian ever reaches the platform: only the
file keys and parts they opened on their own devices, after the opening time.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, InvalidInput, NotFound, PermissionDenied, WrongPhase
from accounts.models import User
from archive import vault
from archive.ledger import record
from config import clock
from tendering import hall
from tendering.hall import HallRole
from tendering.models import (
    Bid,
    BidOpening,
    BidOpeningState,
    BidStatus,
    CustodianSubmission,
    KeySource,
    Opening,
    OpeningAttendance,
    RecordObjection,
    Tender,
    TenderCustodian,
    UnreleasedBidRule,
)
from tendering.sealing import (
    CustodianPart,
    KeyCommitmentError,
    combine_parts,
    parse_manifest,
    verify_commitment,
)
from tendering.sealing.envelopes import CustodianEnvelopes
from tendering.services.hall_events import publish

FILE_KEY_SIZE = 32


# --- who may do what ----------------------------------------------------------------------------------------


def roles_in_hall(user: Any, tender: Tender) -> set[HallRole]:
    return hall.hall_roles(user, tender)


def require_hall(user: Any, tender: Tender) -> set[HallRole]:
    """The user's roles in the hall; refused when the hall is not theirs or not open yet."""
    roles = hall.hall_roles(user, tender)
    if not roles:
        raise PermissionDenied(
            _("您不是本项目开标的参加人：只有招标人、代理机构、投标人、密钥保管人和监督人员可以进入开标大厅。"), code="not_in_hall"
        )
    if clock.now() < tender.opening_time:
        raise WrongPhase(
            _("开标大厅将于开标时间 %(when)s 开放。") % {"when": clock.local_text(tender.opening_time)}, code="hall_not_open"
        )
    return roles


def _require_role(roles: set[HallRole], role: HallRole, message: str) -> None:
    if role not in roles:
        raise PermissionDenied(message, code="not_allowed_in_hall")


# --- the hall opens -----------------------------------------------------------------------------------------


def ensure_opening(tender: Tender) -> Opening:
    """The tender's opening, made at its first use at or after the opening time."""
    existing = Opening.objects.filter(tender=tender).first()
    if existing is not None:
        return existing
    now = clock.now()
    if now < tender.opening_time:
        raise WrongPhase(
            _("开标大厅将于开标时间 %(when)s 开放。") % {"when": clock.local_text(tender.opening_time)}, code="hall_not_open"
        )
    with transaction.atomic():
        tender = Tender.objects.select_for_update().get(pk=tender.pk)
        existing = Opening.objects.filter(tender=tender).first()
        if existing is not None:
            return existing
        window = dt.timedelta(minutes=settings.OPENING_DECRYPTION_WINDOW_MINUTES)
        opening = Opening.objects.create(
            tender=tender, started_at=now, decryption_ends_at=max(now, tender.opening_time) + window
        )
        standing = list(
            Bid.objects.filter(tender=tender, status=BidStatus.ACCEPTED).select_related("bidder").order_by("accepted_at", "pk")
        )
        for position, bid in enumerate(standing, start=1):
            BidOpening.objects.create(opening=opening, bid=bid, position=position)
        record(
            tender.case,
            "tendering.opening.started",
            {
                "decryption_ends_at": opening.decryption_ends_at.isoformat(),
                "unreleased_bids": tender.unreleased_bids,
                "bids": [
                    {"position": p, "bid_id": str(b.public_id), "bidder": b.bidder.credit_code or "", "ciphertext_sha256": b.sha256}
                    for p, b in enumerate(standing, start=1)
                ],
            },
            None,
        )
        opening = Opening.objects.select_for_update().get(pk=opening.pk)
        publish(opening, "opening.started", _moments(opening))
        from tendering.tasks import schedule_watch

        opening_id = opening.pk
        transaction.on_commit(lambda: schedule_watch(opening_id))
    return opening


def _lock(tender: Tender) -> Opening:
    """The opening with its row locked: every change of an opening takes this lock first."""
    ensure_opening(tender)
    return Opening.objects.select_for_update().select_related("tender").get(tender_id=tender.pk)


def _require_not_closed(opening: Opening) -> None:
    if opening.closed_at is not None:
        raise WrongPhase(_("开标已结束，不能再进行此操作。"), code="opening_closed")


def _moments(opening: Opening) -> dict[str, Any]:
    return {
        "started_at": opening.started_at,
        "decryption_ends_at": opening.decryption_ends_at,
        "decryption_concluded_at": opening.decryption_concluded_at,
        "record_published_at": opening.record_published_at,
        "confirmation_ends_at": opening.confirmation_ends_at,
        "closed_at": opening.closed_at,
    }


# --- attendance ---------------------------------------------------------------------------------------------


@transaction.atomic
def sign_in(user: User, tender: Tender) -> OpeningAttendance:
    """A participant signs in to the hall (签到); signing in again changes nothing."""
    roles = require_hall(user, tender)
    opening = _lock(tender)
    existing = OpeningAttendance.objects.filter(opening=opening, user=user).first()
    if existing is not None:
        return existing
    attendance = OpeningAttendance.objects.create(
        opening=opening, user=user, roles=sorted(roles), organization=user.organization, signed_in_at=clock.now()
    )
    record(tender.case, "tendering.opening.signed_in", {"user_id": user.pk, "roles": sorted(roles)}, user)
    publish(opening, "attendance", attendance_view(attendance))
    return attendance


def attendance_view(attendance: OpeningAttendance) -> dict[str, Any]:
    user = attendance.user
    return {
        "user": user.pk,
        "name": user.display_name or user.get_username(),
        "organization": attendance.organization.name if attendance.organization else "",
        "roles": attendance.roles,
        "signed_in_at": attendance.signed_in_at,
    }


# --- the bidder releases its key ----------------------------------------------------------------------------


def _file_key_purpose(bid_opening: BidOpening) -> str:
    return f"file-key:{bid_opening.bid.public_id}"


def open_file_key(bid_opening: BidOpening) -> bytes:
    """The file key of a bid whose key is ready (for the worker)."""
    return vault.open_sealed(_file_key_purpose(bid_opening), bytes(bid_opening.sealed_file_key))


def decode_key(text: str, field: str) -> bytes:
    """A 32-byte key or part as clients send it (base64), or a refusal naming the field."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput({field: [_("不是有效的 base64。")]}) from None
    if len(raw) != FILE_KEY_SIZE:
        raise InvalidInput({field: [_("应为 32 字节。")]})
    return raw


def _check_file_key(file_key: bytes, field: str = "file_key") -> bytes:
    if not isinstance(file_key, (bytes, bytearray)) or len(file_key) != FILE_KEY_SIZE:
        raise InvalidInput({field: [_("文件密钥应为 32 字节。")]})
    return bytes(file_key)


def _bid_opening_for(opening: Opening, bid_public_id: uuid.UUID | str, *, lock: bool = False) -> BidOpening:
    try:
        public_id = uuid.UUID(str(bid_public_id))
    except ValueError:
        raise NotFound(_("找不到该投标文件。")) from None
    qs = BidOpening.objects.select_related("bid", "bid__bidder", "opening")
    if lock:
        qs = qs.select_for_update()
    found = qs.filter(opening=opening, bid__public_id=public_id).first()
    if found is None:
        raise NotFound(_("本次开标中没有该投标文件。"))
    return found


def release_key(user: User, tender: Tender, bid_public_id: uuid.UUID | str, file_key: bytes) -> BidOpening:
    """The bidder releases the file key it opened from its own envelope (投标人解密)."""
    roles = require_hall(user, tender)
    _require_role(roles, HallRole.BIDDER, _("只有投标人可以解密自己的投标文件。"))
    file_key = _check_file_key(file_key)
    with transaction.atomic():
        opening = _lock(tender)
        _require_not_closed(opening)
        bid_opening = _bid_opening_for(opening, bid_public_id, lock=True)
        if bid_opening.bid.bidder_id != user.organization_id:
            raise NotFound(_("本次开标中没有该投标文件。"))
        now = clock.now()
        if opening.decryption_concluded_at is not None or now >= opening.decryption_ends_at:
            raise WrongPhase(
                _("解密时间已于 %(when)s 结束，不能再解密。") % {"when": clock.local_text(opening.decryption_ends_at)},
                code="decryption_window_closed",
            )
        if bid_opening.state != BidOpeningState.AWAITING_KEY:
            raise Conflict(_("该投标文件的密钥已提交（%(state)s），无需再次解密。") % {"state": bid_opening.get_state_display()}, code="key_already_ready")
        try:
            verify_commitment(file_key, bytes.fromhex(bid_opening.bid.key_commitment))
        except KeyCommitmentError:
            refused = True
        else:
            refused = False
            _key_ready(opening, bid_opening, file_key, KeySource.BIDDER, user)
    if refused:
        # Recorded on its own: the refusal is a fact of the opening, and nothing else changed.
        with transaction.atomic():
            record(tender.case, "tendering.opening.key_refused", {"bid_id": str(bid_opening.bid.public_id), "reason": "key_commitment"}, user)
        raise InvalidInput(
            {"file_key": [_("该密钥与投标文件签名清单中的密钥承诺不符：它不是密封此投标文件所用的密钥。请用您投标时的加密私钥重新解密。")]}
        )
    bid_opening.refresh_from_db()
    return bid_opening


def _key_ready(opening: Opening, bid_opening: BidOpening, file_key: bytes, source: str, user: User | None) -> None:
    """Keep the key (sealed under the data key), record it, announce it and queue the decryption."""
    bid_opening.sealed_file_key = vault.seal(_file_key_purpose(bid_opening), file_key)
    bid_opening.state = BidOpeningState.KEY_READY
    bid_opening.key_source = source
    bid_opening.key_released_by = user if source == KeySource.BIDDER else None
    bid_opening.key_ready_at = clock.now()
    bid_opening.save(update_fields=["sealed_file_key", "state", "key_source", "key_released_by", "key_ready_at"])
    record(
        opening.tender.case,
        "tendering.opening.key_ready",
        {"bid_id": str(bid_opening.bid.public_id), "source": source},
        user if source == KeySource.BIDDER else None,
    )
    publish(opening, "bid.state", bid_view(bid_opening))
    from tendering.tasks import decrypt_bid

    bid_opening_id = bid_opening.pk
    transaction.on_commit(lambda: decrypt_bid.enqueue(bid_opening_id))


# --- custodians submit their parts --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SubmittedPart:
    bid: uuid.UUID
    members: tuple[int, ...]
    part: bytes


def _parts_purpose(opening: Opening, slot: TenderCustodian) -> str:
    return f"custodian-parts:{opening.tender.public_id}:{slot.position}"


def _custodian_envelopes(bid: Bid) -> CustodianEnvelopes:
    return parse_manifest(bytes(bid.manifest)).envelopes.custodians


def submit_custodian_parts(user: User, tender: Tender, parts: Sequence[SubmittedPart]) -> CustodianSubmission:
    """A custodian submits, in one action, its part of every subset it belongs to, for every bid.

    Refused before the opening time (the hall is not open; the opening time is
    never before the deadline), after the decryption is concluded, twice, or
    incomplete. Parts are combined as soon as a subset is complete.
    """
    roles = require_hall(user, tender)
    _require_role(roles, HallRole.CUSTODIAN, _("只有本项目的密钥保管人可以提交密钥分量。"))
    with transaction.atomic():
        opening = _lock(tender)
        _require_not_closed(opening)
        if opening.decryption_concluded_at is not None:
            raise WrongPhase(_("解密已结束，不再接收密钥分量。"), code="decryption_concluded")
        if tender.unreleased_bids != UnreleasedBidRule.CUSTODIANS:
            raise WrongPhase(_("本项目规定投标文件只由投标人自行解密，不使用密钥保管人的密钥分量。"), code="custodians_not_used")
        slot = TenderCustodian.objects.get(tender=tender, user=user)
        if CustodianSubmission.objects.filter(opening=opening, custodian=slot).exists():
            raise Conflict(_("您已提交过密钥分量，每位密钥保管人只提交一次。"), code="parts_already_submitted")
        bid_openings = list(opening.bids.select_related("bid", "bid__bidder").select_for_update())
        checked = _check_parts(_envelope_index(slot), bid_openings, parts)
        payload = json.dumps(
            [{"bid": str(p.bid), "members": list(p.members), "part": base64.b64encode(p.part).decode()} for p in checked],
            separators=(",", ":"),
        ).encode()
        submission = CustodianSubmission.objects.create(
            opening=opening,
            custodian=slot,
            submitted_by=user,
            submitted_at=clock.now(),
            part_count=len(checked),
            sealed_parts=vault.seal(_parts_purpose(opening, slot), payload),
        )
        record(
            tender.case,
            "tendering.opening.custodian_parts_submitted",
            {"position": slot.position, "parts": len(checked), "parts_sha256": hashlib.sha256(payload).hexdigest()},
            user,
        )
        publish(opening, "custodian.submitted", {"position": slot.position, "name": _name(user), "parts": len(checked), "at": submission.submitted_at})
        submitted = _submitted_parts(opening)
        for bid_opening in bid_openings:
            if bid_opening.state == BidOpeningState.AWAITING_KEY:
                _try_custodian_key(opening, bid_opening, _envelope_index(slot), submitted.get(str(bid_opening.bid.public_id), []))
    return submission


def _envelope_index(slot: TenderCustodian) -> int:
    """Envelopes number the custodians from 0 in the tender's published order; the tender from 1."""
    return slot.position - 1


def _check_parts(position: int, bid_openings: list[BidOpening], parts: Sequence[SubmittedPart]) -> list[SubmittedPart]:
    """Exactly one 32-byte part for every subset this custodian belongs to, in every bid of the opening."""
    if not bid_openings:
        if parts:
            raise InvalidInput({"parts": [_("本次开标没有投标文件，无需提交密钥分量。")]})
        return []
    expected: dict[tuple[str, tuple[int, ...]], None] = {}
    for bid_opening in bid_openings:
        custodians = _custodian_envelopes(bid_opening.bid)
        for subset in custodians.subsets:
            if position in subset.members:
                expected[(str(bid_opening.bid.public_id), subset.members)] = None
    seen: set[tuple[str, tuple[int, ...]]] = set()
    for index, part in enumerate(parts):
        key = (str(part.bid), tuple(part.members))
        if key not in expected:
            raise InvalidInput(
                {f"parts.{index}": [_("投标文件 %(bid)s 中没有包含您的子集 %(members)s。") % {"bid": part.bid, "members": list(part.members)}]}
            )
        if key in seen:
            raise InvalidInput({f"parts.{index}": [_("同一子集的密钥分量提交了两次。")]})
        if len(part.part) != FILE_KEY_SIZE:
            raise InvalidInput({f"parts.{index}": [_("每个密钥分量应为 32 字节。")]})
        seen.add(key)
    missing = [key for key in expected if key not in seen]
    if missing:
        raise InvalidInput(
            {"parts": [_("缺少 %(n)d 个密钥分量：请一次提交您在全部投标文件、全部子集中的分量。") % {"n": len(missing)}]}
        )
    return list(parts)


def _submitted_parts(opening: Opening) -> dict[str, list[CustodianPart]]:
    """Every part submitted so far, by bid id (opened from the data key's seal)."""
    found: dict[str, list[CustodianPart]] = {}
    for submission in opening.custodian_submissions.select_related("custodian"):
        payload = json.loads(vault.open_sealed(_parts_purpose(opening, submission.custodian), bytes(submission.sealed_parts)))
        for item in payload:
            found.setdefault(item["bid"], []).append(
                CustodianPart(tuple(item["members"]), _envelope_index(submission.custodian), base64.b64decode(item["part"]))
            )
    return found


def _try_custodian_key(opening: Opening, bid_opening: BidOpening, newcomer: int, parts: list[CustodianPart]) -> None:
    """Combine the complete subsets that ``newcomer`` just completed; use the first whose key matches kc.

    A subset whose parts combine to another key is named with its members, and
    the custodians common to every failing subset of the bid are named as the
    ones whose parts are wrong (an XOR cannot tell more: see docs/opening.md).
    """
    bid_id = str(bid_opening.bid.public_id)
    custodians = _custodian_envelopes(bid_opening.bid)
    kc = bytes.fromhex(bid_opening.bid.key_commitment)
    by_subset: dict[tuple[int, ...], dict[int, bytes]] = {}
    for part in parts:
        by_subset.setdefault(tuple(part.members), {})[part.position] = part.part
    failed: list[tuple[int, ...]] = []
    found: bytes | None = None
    for subset in custodians.subsets:
        have = by_subset.get(subset.members, {})
        if not all(m in have for m in subset.members):
            continue
        candidate = combine_parts([have[m] for m in subset.members])
        try:
            verify_commitment(candidate, kc)
        except KeyCommitmentError:
            failed.append(subset.members)
            continue
        if found is None:
            found = candidate
    new_failures = [members for members in failed if newcomer in members]
    if new_failures:
        # Custodians as the tender numbers them (from 1).
        suspects = sorted(p + 1 for p in set.intersection(*(set(m) for m in failed)))
        subsets = [[p + 1 for p in m] for m in new_failures]
        names = _custodian_names(opening.tender, suspects)
        record(
            opening.tender.case,
            "tendering.opening.custodian_parts_failed",
            {"bid_id": bid_id, "failed_subsets": subsets, "suspects": suspects},
            None,
        )
        publish(
            opening,
            "custodian.parts_failed",
            {
                "bid": bid_id,
                "position": bid_opening.position,
                "failed_subsets": subsets,
                "suspects": [{"position": p, "name": names.get(p, "")} for p in suspects],
            },
        )
    if found is not None:
        _key_ready(opening, bid_opening, found, KeySource.CUSTODIANS, None)


def _custodian_names(tender: Tender, positions: list[int]) -> dict[int, str]:
    slots = tender.custodian_slots.select_related("user").filter(position__in=positions)
    return {slot.position: _name(slot.user) for slot in slots}


def _name(user: Any) -> str:
    return str(user.display_name or user.get_username())


# --- concluding the decryption ------------------------------------------------------------------------------


def conclude_decryption(user: User, tender: Tender) -> Opening:
    """The tenderer ends the decryption: bids still without a key count as revoked (the bidder did not release)."""
    roles = require_hall(user, tender)
    _require_role(roles, HallRole.MANAGER, _("只有招标人或代理机构可以结束解密。"))
    with transaction.atomic():
        opening = _lock(tender)
        _require_not_closed(opening)
        if opening.decryption_concluded_at is not None:
            raise Conflict(_("解密已经结束。"), code="decryption_concluded")
        now = clock.now()
        waiting = list(opening.bids.select_for_update().select_related("bid", "bid__bidder").filter(state=BidOpeningState.AWAITING_KEY))
        if waiting and now < opening.decryption_ends_at:
            raise WrongPhase(
                _("还有 %(n)d 份投标文件未解密，解密时间到 %(when)s 才结束。")
                % {"n": len(waiting), "when": clock.local_text(opening.decryption_ends_at)},
                code="decryption_window_open",
            )
        for bid_opening in waiting:
            if tender.unreleased_bids == UnreleasedBidRule.CUSTODIANS:
                detail = _("投标人未在解密时限内解密，密钥保管人也未能凑齐门限数量的有效密钥分量。")
            else:
                detail = _("投标人未在解密时限内解密（本项目规定视为撤销投标）。")
            resolve(opening, bid_opening, BidOpeningState.REVOKED, "key_not_released", detail)
        opening.decryption_concluded_at = now
        opening.save(update_fields=["decryption_concluded_at"])
        record(tender.case, "tendering.opening.decryption_concluded", {"revoked_without_key": len(waiting)}, user)
        publish(opening, "opening.moments", _moments(opening))
        maybe_publish_record(opening)
    return opening


def resolve(opening: Opening, bid_opening: BidOpening, state: str, code: str, detail: str) -> None:
    """End a bid in revoked or failed (the caller holds the opening's lock and the bid's)."""
    bid_opening.state = state
    bid_opening.outcome_code = code
    bid_opening.outcome_detail = str(detail)
    bid_opening.resolved_at = clock.now()
    bid_opening.lease_owner = ""
    bid_opening.lease_until = None
    bid_opening.save(update_fields=["state", "outcome_code", "outcome_detail", "resolved_at", "lease_owner", "lease_until"])
    record(
        opening.tender.case,
        "tendering.opening.bid_not_opened",
        {"bid_id": str(bid_opening.bid.public_id), "state": state, "reason": code, "detail": str(detail)},
        None,
    )
    publish(opening, "bid.state", bid_view(bid_opening))


def maybe_publish_record(opening: Opening) -> None:
    """Once the decryption is concluded and every bid has ended in one state, the record is published."""
    if opening.decryption_concluded_at is None or opening.record_published_at is not None:
        return
    if opening.bids.exclude(state__in=[s.value for s in (BidOpeningState.OPENED, BidOpeningState.REVOKED, BidOpeningState.FAILED)]).exists():
        return
    now = clock.now()
    opening.record_published_at = now
    opening.confirmation_ends_at = now + dt.timedelta(minutes=settings.OPENING_CONFIRMATION_WINDOW_MINUTES)
    opening.save(update_fields=["record_published_at", "confirmation_ends_at"])
    rows = [record_row(b) for b in opening.bids.select_related("bid", "bid__bidder")]
    record(
        opening.tender.case,
        "tendering.opening.record_published",
        {"rows": rows, "confirmation_ends_at": opening.confirmation_ends_at.isoformat()},
        None,
    )
    publish(opening, "opening.moments", _moments(opening))


# --- the opening record: confirmations and objections -------------------------------------------------------


def _own_bid_opening(opening: Opening, user: User) -> BidOpening:
    found = opening.bids.select_for_update().select_related("bid", "bid__bidder").filter(bid__bidder_id=user.organization_id).first()
    if found is None:
        raise PermissionDenied(_("您的单位在本次开标中没有投标文件。"), code="not_allowed_in_hall")
    return found


def _require_confirmation_open(opening: Opening) -> None:
    _require_not_closed(opening)
    if opening.record_published_at is None:
        raise WrongPhase(_("开标记录尚未公布：全部投标文件解密结束后才能确认或提出异议。"), code="record_not_published")
    assert opening.confirmation_ends_at is not None
    if clock.now() >= opening.confirmation_ends_at:
        raise WrongPhase(
            _("确认开标记录的时间已于 %(when)s 结束。") % {"when": clock.local_text(opening.confirmation_ends_at)},
            code="confirmation_closed",
        )


def confirm_record(user: User, tender: Tender) -> BidOpening:
    roles = require_hall(user, tender)
    _require_role(roles, HallRole.BIDDER, _("只有投标人确认开标记录。"))
    with transaction.atomic():
        opening = _lock(tender)
        _require_confirmation_open(opening)
        bid_opening = _own_bid_opening(opening, user)
        if bid_opening.confirmed_at is not None:
            raise Conflict(_("您已确认过开标记录。"), code="already_confirmed")
        bid_opening.confirmed_at = clock.now()
        bid_opening.confirmed_by = user
        bid_opening.save(update_fields=["confirmed_at", "confirmed_by"])
        record(tender.case, "tendering.opening.record_confirmed", {"bid_id": str(bid_opening.bid.public_id)}, user)
        publish(opening, "record.confirmed", {"position": bid_opening.position, "bidder": bid_opening.bid.bidder.name, "at": bid_opening.confirmed_at})
    return bid_opening


def raise_objection(user: User, tender: Tender, text: str) -> RecordObjection:
    roles = require_hall(user, tender)
    _require_role(roles, HallRole.BIDDER, _("只有投标人可以对开标记录提出异议。"))
    text = _clean_text(text, "text")
    with transaction.atomic():
        opening = _lock(tender)
        _require_confirmation_open(opening)
        bid_opening = _own_bid_opening(opening, user)
        objection = RecordObjection.objects.create(
            opening=opening, bid_opening=bid_opening, raised_by=user, text=text, raised_at=clock.now()
        )
        record(
            tender.case,
            "tendering.opening.objection_raised",
            {"objection_id": objection.pk, "bid_id": str(bid_opening.bid.public_id), "text": text},
            user,
        )
        publish(opening, "objection", objection_view(objection))
    return objection


def answer_objection(user: User, tender: Tender, objection_id: int, text: str) -> RecordObjection:
    roles = require_hall(user, tender)
    _require_role(roles, HallRole.MANAGER, _("只有招标人或代理机构可以答复异议。"))
    text = _clean_text(text, "answer")
    with transaction.atomic():
        opening = _lock(tender)
        _require_not_closed(opening)
        objection = RecordObjection.objects.select_for_update().select_related("bid_opening__bid__bidder").filter(opening=opening, pk=objection_id).first()
        if objection is None:
            raise NotFound(_("找不到该异议。"))
        if objection.answered_at is not None:
            raise Conflict(_("该异议已答复。"), code="already_answered")
        objection.answer = text
        objection.answered_by = user
        objection.answered_at = clock.now()
        objection.save(update_fields=["answer", "answered_by", "answered_at"])
        record(tender.case, "tendering.opening.objection_answered", {"objection_id": objection.pk, "answer": text}, user)
        publish(opening, "objection", objection_view(objection))
    return objection


def _clean_text(text: Any, field: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput({field: [_("请填写内容。")]})
    text = text.strip()
    if len(text) > settings.OBJECTION_MAX_CHARS:
        raise InvalidInput({field: [_("内容过长：最多 %(n)d 个字符。") % {"n": settings.OBJECTION_MAX_CHARS}]})
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise InvalidInput({field: [_("内容含有控制字符。")]})
    return text


def objection_view(objection: RecordObjection) -> dict[str, Any]:
    return {
        "id": objection.pk,
        "position": objection.bid_opening.position,
        "bidder": objection.bid_opening.bid.bidder.name,
        "text": objection.text,
        "raised_at": objection.raised_at,
        "answer": objection.answer,
        "answered_at": objection.answered_at,
    }


# --- closing ------------------------------------------------------------------------------------------------


def close_opening(user: User, tender: Tender) -> Opening:
    """The tenderer closes the opening; the tender moves on to the evaluation and the record is filed."""
    roles = require_hall(user, tender)
    _require_role(roles, HallRole.MANAGER, _("只有招标人或代理机构可以结束开标。"))
    with transaction.atomic():
        opening = _lock(tender)
        _require_not_closed(opening)
        if opening.record_published_at is None:
            raise WrongPhase(_("开标记录尚未公布：请先结束解密，并等待全部投标文件解密完毕。"), code="record_not_published")
        unanswered = opening.objections.filter(answered_at__isnull=True).count()
        if unanswered:
            raise WrongPhase(_("还有 %(n)d 条异议未答复，答复后才能结束开标。") % {"n": unanswered}, code="objections_unanswered")
        now = clock.now()
        bid_openings = list(opening.bids.select_for_update().select_related("bid", "bid__bidder"))
        unconfirmed = [b for b in bid_openings if b.confirmed_at is None]
        assert opening.confirmation_ends_at is not None
        if unconfirmed and now < opening.confirmation_ends_at:
            raise WrongPhase(
                _("还有 %(n)d 家投标人未确认开标记录，确认时间到 %(when)s 结束。")
                % {"n": len(unconfirmed), "when": clock.local_text(opening.confirmation_ends_at)},
                code="confirmation_open",
            )
        for bid_opening in unconfirmed:
            # A bidder who let the window pass without objecting is taken to agree.
            bid_opening.confirmed_at = now
            bid_opening.confirmed_by_default = True
            bid_opening.save(update_fields=["confirmed_at", "confirmed_by_default"])
        opening.closed_at = now
        opening.closed_by = user
        opening.save(update_fields=["closed_at", "closed_by"])
        Tender.objects.filter(pk=tender.pk).update(opening_closed_at=now)
        rows = [record_row(b) for b in bid_openings]
        record(
            tender.case,
            "tendering.opening.closed",
            {"rows": rows, "record_sha256": hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()).hexdigest()},
            user,
        )
        publish(opening, "opening.moments", _moments(opening))
        from tendering.tasks import file_opening_record

        opening_id = opening.pk
        transaction.on_commit(lambda: file_opening_record.enqueue(opening_id))
    return opening


# --- views of the hall --------------------------------------------------------------------------------------


def record_row(bid_opening: BidOpening) -> dict[str, Any]:
    """One line of the opening record (开标记录表)."""
    bid = bid_opening.bid
    summary = bid_opening.price_summary or {}
    return {
        "position": bid_opening.position,
        "bid_id": str(bid.public_id),
        "bidder": bid.bidder.name,
        "credit_code": bid.bidder.credit_code or "",
        "state": bid_opening.state,
        "key_source": bid_opening.key_source,
        "lots": summary.get("lots", []),
        "outcome": bid_opening.outcome_code,
        "confirmed": bid_opening.confirmed_at is not None,
        "confirmed_by_default": bid_opening.confirmed_by_default,
    }


def bid_view(bid_opening: BidOpening) -> dict[str, Any]:
    bid = bid_opening.bid
    return {
        "bid": str(bid.public_id),
        "position": bid_opening.position,
        "bidder": bid.bidder.name,
        "credit_code": bid.bidder.credit_code or "",
        "size": bid.size,
        "state": bid_opening.state,
        "state_label": str(BidOpeningState(bid_opening.state).label),
        "key_source": bid_opening.key_source,
        "progress_bytes": bid_opening.progress_bytes,
        "price_summary": bid_opening.price_summary,
        "files": [{"path": f["path"], "size": f["size"]} for f in bid_opening.files],
        "outcome_code": bid_opening.outcome_code,
        "outcome_detail": bid_opening.outcome_detail,
        "confirmed_at": bid_opening.confirmed_at,
        "confirmed_by_default": bid_opening.confirmed_by_default,
    }


def snapshot(user: Any, tender: Tender) -> dict[str, Any]:
    """Everything the hall shows this user now, with the sequence number it is current to."""
    roles = require_hall(user, tender)
    opening = ensure_opening(tender)
    opening.refresh_from_db()
    custodians = []
    submitted = {s.custodian_id: s for s in opening.custodian_submissions.all()}
    for slot in tender.custodian_slots.select_related("user"):
        submission = submitted.get(slot.pk)
        custodians.append(
            {"position": slot.position, "name": _name(slot.user), "submitted_at": submission.submitted_at if submission else None}
        )
    own_org = user.organization_id if HallRole.BIDDER in roles else None
    bids = []
    for bid_opening in opening.bids.select_related("bid", "bid__bidder"):
        view = bid_view(bid_opening)
        view["own"] = bid_opening.bid.bidder_id == own_org
        bids.append(view)
    return {
        "type": "snapshot",
        "seq": opening.last_seq,
        "tender": {
            "id": str(tender.public_id),
            "number": tender.number,
            "title": tender.title,
            "opening_time": tender.opening_time,
            "threshold": tender.custodian_threshold,
            "unreleased_bids": tender.unreleased_bids,
        },
        "roles": sorted(roles),
        "you": user.pk,
        "moments": _moments(opening),
        "bids": bids,
        "custodians": custodians,
        "attendance": [attendance_view(a) for a in opening.attendance.select_related("user", "organization")],
        "objections": [objection_view(o) for o in opening.objections.select_related("bid_opening__bid__bidder")],
        # Subsets whose parts failed, with the custodians named, as announced (a page loaded later shows them too).
        "custodian_failures": [e.payload for e in opening.events.filter(kind="custodian.parts_failed", audience=hall.ALL).order_by("seq")],
        "record": {"sha256": opening.record_sha256, "ledger_seq": opening.record_ledger_seq} if opening.record_sha256 else None,
    }


def manifests_for(user: Any, tender: Tender) -> list[dict[str, Any]]:
    """The signed manifests a participant needs to open keys on its own device.

    A bidder gets its own bid's; a custodian every bid's (the envelopes of all
    custodians are in each manifest, but only its own private key opens its parts).
    """
    roles = require_hall(user, tender)
    opening = ensure_opening(tender)
    qs = opening.bids.select_related("bid", "bid__bidder")
    if HallRole.CUSTODIAN not in roles:
        if HallRole.BIDDER not in roles:
            raise PermissionDenied(_("只有投标人和密钥保管人需要签名清单。"), code="not_allowed_in_hall")
        qs = qs.filter(bid__bidder_id=user.organization_id)
    return [
        {"bid": str(b.bid.public_id), "position": b.position, "state": b.state, "manifest": base64.b64encode(bytes(b.bid.manifest)).decode()}
        for b in qs
    ]


def filed_record(user: Any, tender: Tender) -> Opening | None:
    """The closed opening whose signed record is filed, for a participant or supervisor; None before."""
    require_hall(user, tender)
    found = Opening.objects.filter(tender=tender).exclude(record_sha256="").first()
    return found
