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

from accounts.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied, WrongPhase
from accounts.models import KeyPurpose, PublicKey, User
from archive import vault
from archive.canonical import canonical_json
from archive.ledger import record
from config import clock
from tendering import hall
from tendering.hall import HallRole
from tendering.models import (
    Bid,
    BidOpening,
    BidOpeningState,
    BidStatus,
    CustodianCheck,
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
    KeyCommitmentError,
    combine_parts,
    parse_manifest,
    verify_commitment,
)
from tendering.sealing.envelopes import CustodianEnvelopes
from tendering.sealing.refusal import RefusalError, parse_refusal, verify_refusal
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
            _("您不是本项目开标的参加人：只有招标人、代理机构、投标人、密钥保管人和监督人员可以进入开标大厅。"),
            code="not_in_hall",
        )
    if clock.now() < tender.opening_time:
        raise WrongPhase(
            _("开标大厅将于开标时间 %(when)s 开放。") % {"when": clock.local_text(tender.opening_time)},
            code="hall_not_open",
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
            _("开标大厅将于开标时间 %(when)s 开放。") % {"when": clock.local_text(tender.opening_time)},
            code="hall_not_open",
        )
    with transaction.atomic():
        tender = Tender.objects.select_for_update().get(pk=tender.pk)
        existing = Opening.objects.filter(tender=tender).first()
        if existing is not None:
            return existing
        # The opening starts at the published opening time, whenever the hall is first used:
        # the decryption window is the same for every bidder, however late anybody enters.
        window = dt.timedelta(minutes=settings.OPENING_DECRYPTION_WINDOW_MINUTES)
        opening = Opening.objects.create(
            tender=tender, started_at=tender.opening_time, decryption_ends_at=tender.opening_time + window
        )
        standing = list(
            Bid.objects.filter(tender=tender, status=BidStatus.ACCEPTED)
            .select_related("bidder")
            .order_by("accepted_at", "pk")
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
                    {
                        "position": p,
                        "bid_id": str(b.public_id),
                        "bidder": b.bidder.credit_code or "",
                        "ciphertext_sha256": b.sha256,
                    }
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


def decode_refusals(items: Sequence[tuple[str, str]]) -> list[SubmittedRefusal]:
    """The "does not open" statements as clients send them (base64 statement and signature)."""
    found = []
    for index, (statement, signature) in enumerate(items):
        decoded = []
        for name, text in (("statement", statement), ("signature", signature)):
            try:
                decoded.append(base64.b64decode(text, validate=True))
            except (binascii.Error, ValueError):
                raise InvalidInput({f"refusals.{index}.{name}": [_("不是有效的 base64。")]}) from None
        found.append(SubmittedRefusal(decoded[0], decoded[1]))
    return found


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
        if bid_opening.state in (BidOpeningState.REVOKED, BidOpeningState.FAILED):
            raise Conflict(
                _("该投标文件已结束（%(state)s），不再接收密钥。") % {"state": bid_opening.get_state_display()},
                code="bid_already_ended",
            )
        if bid_opening.state != BidOpeningState.AWAITING_KEY:
            raise Conflict(
                _("该投标文件的密钥已提交（%(state)s），无需再次解密。") % {"state": bid_opening.get_state_display()},
                code="key_already_ready",
            )
        _throttle_key_release(bid_opening, now)
        try:
            verify_commitment(file_key, bytes.fromhex(bid_opening.bid.key_commitment))
        except KeyCommitmentError:
            refused = True
            _count_key_refusal(opening, bid_opening, now, user)
        else:
            refused = False
            _key_ready(opening, bid_opening, file_key, KeySource.BIDDER, user)
    if refused:
        # The count (and, up to the cap, its ledger entry) is committed: the refusal is a fact of the opening.
        raise InvalidInput(
            {
                "file_key": [
                    _(
                        "该密钥与投标文件签名清单中的密钥承诺不符：它不是密封此投标文件所用的密钥。请用您投标时的加密私钥重新解密。"
                    )
                ]
            }
        )
    bid_opening.refresh_from_db()
    return bid_opening


def _throttle_key_release(bid_opening: BidOpening, now: dt.datetime) -> None:
    """After OPENING_KEY_REFUSALS_RECORDED refused keys, one more try per OPENING_KEY_RETRY_SECONDS."""
    if bid_opening.key_refusals < settings.OPENING_KEY_REFUSALS_RECORDED or bid_opening.last_key_refusal_at is None:
        return
    wait_until = bid_opening.last_key_refusal_at + dt.timedelta(seconds=settings.OPENING_KEY_RETRY_SECONDS)
    if now < wait_until:
        raise DomainError(
            _("该投标文件已有 %(n)d 次提交的密钥与承诺不符，请于 %(when)s 之后再试。")
            % {"n": bid_opening.key_refusals, "when": clock.local_text(wait_until)},
            code="key_release_throttled",
            status=429,
        )


def _count_key_refusal(opening: Opening, bid_opening: BidOpening, now: dt.datetime, user: User) -> None:
    """Count a key that does not match kc; only the first few get a ledger entry of their own.

    The ledger is permanent: a client that sends wrong keys in a loop must not
    grow it without bound. Later refusals are counted here and their total is
    recorded once, with the bid's end (``key_refusals`` in bid_opened / bid_not_opened).
    """
    bid_opening.key_refusals += 1
    bid_opening.last_key_refusal_at = now
    bid_opening.save(update_fields=["key_refusals", "last_key_refusal_at"])
    if bid_opening.key_refusals <= settings.OPENING_KEY_REFUSALS_RECORDED:
        record(
            opening.tender.case,
            "tendering.opening.key_refused",
            {"bid_id": str(bid_opening.bid.public_id), "reason": "key_commitment", "refusal": bid_opening.key_refusals},
            user,
        )


def key_refusals_note(bid_opening: BidOpening) -> dict[str, Any]:
    """What a bid's end adds to the ledger about refused keys not recorded one by one."""
    if bid_opening.key_refusals > settings.OPENING_KEY_REFUSALS_RECORDED:
        return {"key_refusals": bid_opening.key_refusals}
    return {}


def _key_ready(opening: Opening, bid_opening: BidOpening, file_key: bytes, source: str, user: User | None) -> None:
    """Keep the key (sealed under the data key), record it, announce it and queue the decryption."""
    bid_opening.sealed_file_key = vault.seal(_file_key_purpose(bid_opening), file_key)
    bid_opening.state = BidOpeningState.KEY_READY
    bid_opening.key_source = source
    bid_opening.key_released_by = user if source == KeySource.BIDDER else None
    bid_opening.key_ready_at = clock.now()
    bid_opening.retry_at = None
    bid_opening.save(
        update_fields=["sealed_file_key", "state", "key_source", "key_released_by", "key_ready_at", "retry_at"]
    )
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


@dataclasses.dataclass(frozen=True)
class SubmittedRefusal:
    """A signed "does not open" statement (etender-part-refusal-v1) instead of one part."""

    statement: bytes
    signature: bytes


def _parts_purpose(opening: Opening, slot: TenderCustodian) -> str:
    return f"custodian-parts:{opening.tender.public_id}:{slot.position}"


def _custodian_envelopes(bid: Bid) -> CustodianEnvelopes:
    return parse_manifest(bytes(bid.manifest)).envelopes.custodians


def submit_custodian_parts(
    user: User, tender: Tender, parts: Sequence[SubmittedPart], refusals: Sequence[SubmittedRefusal] = ()
) -> CustodianSubmission:
    """A custodian submits, in one action, its part of every subset it belongs to, for every bid.

    A part that did not open on the custodian's device comes as a signed "does
    not open" statement instead: every (bid, subset) of the custodian is covered
    exactly once, by a part or by a statement, and the other bids go on at once.
    Refused before the opening time (the hall is not open; custodians' parts are
    refused before the *opening time*, not only before the deadline), after the
    decryption is concluded, twice, or incomplete. Parts are combined and checked
    against kc for every bid, whoever else released its key.
    """
    roles = require_hall(user, tender)
    _require_role(roles, HallRole.CUSTODIAN, _("只有本项目的密钥保管人可以提交密钥分量。"))
    with transaction.atomic():
        opening = _lock(tender)
        _require_not_closed(opening)
        if opening.decryption_concluded_at is not None:
            raise WrongPhase(_("解密已结束，不再接收密钥分量。"), code="decryption_concluded")
        if tender.unreleased_bids != UnreleasedBidRule.CUSTODIANS:
            raise WrongPhase(
                _("本项目规定投标文件只由投标人自行解密，不使用密钥保管人的密钥分量。"), code="custodians_not_used"
            )
        slot = TenderCustodian.objects.get(tender=tender, user=user)
        if CustodianSubmission.objects.filter(opening=opening, custodian=slot).exists():
            raise Conflict(_("您已提交过密钥分量，每位密钥保管人只提交一次。"), code="parts_already_submitted")
        bid_openings = list(opening.bids.select_related("bid", "bid__bidder").select_for_update())
        index = _envelope_index(slot)
        expected = _expected_subsets(index, bid_openings)
        statements = _check_refusals(user, tender, slot, expected, refusals)
        checked = _check_parts(expected, parts, {(r["bid"], tuple(r["members"])) for r in statements})
        payload = json.dumps(
            [
                {"bid": str(p.bid), "members": list(p.members), "part": base64.b64encode(p.part).decode()}
                for p in checked
            ],
            separators=(",", ":"),
        ).encode()
        submission = CustodianSubmission.objects.create(
            opening=opening,
            custodian=slot,
            submitted_by=user,
            submitted_at=clock.now(),
            part_count=len(checked),
            sealed_parts=vault.seal(_parts_purpose(opening, slot), payload),
            refusals=statements,
        )
        record(
            tender.case,
            "tendering.opening.custodian_parts_submitted",
            {
                "position": slot.position,
                "parts": len(checked),
                "parts_sha256": hashlib.sha256(payload).hexdigest(),
                # The statements themselves: anybody can check them again with the custodian's signing key.
                "refusals": statements,
            },
            user,
        )
        publish(
            opening,
            "custodian.submitted",
            {
                "position": slot.position,
                "name": _name(user),
                "parts": len(checked),
                "refusals": len(statements),
                "at": submission.submitted_at,
            },
        )
        submitted = _submitted(opening)
        for bid_opening in bid_openings:
            if bid_opening.custodian_check == CustodianCheck.PENDING:
                _check_custodian_key(
                    opening, bid_opening, index, submitted.get(str(bid_opening.bid.public_id), _BidParts())
                )
        _drop_parts_when_done(opening)
    return submission


def _envelope_index(slot: TenderCustodian) -> int:
    """Envelopes number the custodians from 0 in the tender's published order; the tender from 1."""
    return slot.position - 1


def _expected_subsets(position: int, bid_openings: list[BidOpening]) -> dict[tuple[str, tuple[int, ...]], None]:
    """Every (bid, subset) this custodian belongs to, in every bid of the opening (in order)."""
    expected: dict[tuple[str, tuple[int, ...]], None] = {}
    for bid_opening in bid_openings:
        for subset in _custodian_envelopes(bid_opening.bid).subsets:
            if position in subset.members:
                expected[(str(bid_opening.bid.public_id), subset.members)] = None
    return expected


def _check_refusals(
    user: User,
    tender: Tender,
    slot: TenderCustodian,
    expected: dict[tuple[str, tuple[int, ...]], None],
    refusals: Sequence[SubmittedRefusal],
) -> list[dict[str, Any]]:
    """Each statement: well-formed, about this tender, one of this custodian's subsets,
    signed by its active signing key.

    Where the custodian confirmed its custody with a signing key (docs/custody.md §C), the statement must be
    signed by that very key: the one bidders checked against their own trust before sealing, so a key registered
    later with the custodian's password cannot speak for the custodian (docs/threat-model.md says what an operator
    rewriting the key rows can do).
    """
    index = _envelope_index(slot)
    keys = {
        k.fingerprint: k
        for k in PublicKey.objects.filter(owner=user, purpose=KeyPurpose.SIGNING, revoked_at__isnull=True)
    }
    found: list[dict[str, Any]] = []
    seen: set[tuple[str, tuple[int, ...]]] = set()
    for number, submitted in enumerate(refusals):
        field = f"refusals.{number}"
        try:
            claimed = parse_refusal(submitted.statement)
            key = keys.get(claimed.signing_key)
            if key is None:
                raise InvalidInput({field: [_("声明所用的签名密钥不是您已登记且有效的签名公钥。")]})
            if slot.custody_signing_key_id is not None and key.pk != slot.custody_signing_key_id:
                raise InvalidInput({field: [_("声明须用您确认本项目保管职责时所用的签名密钥签署。")]})
            refusal = verify_refusal(submitted.statement, submitted.signature, bytes(key.spki_der))
        except RefusalError as exc:
            raise InvalidInput({field: [_("“无法打开”声明无效：%(reason)s") % {"reason": exc}]}) from None
        if refusal.tender != str(tender.public_id):
            raise InvalidInput({field: [_("声明所述的招标项目不是本项目。")]})
        if refusal.index != index:
            raise InvalidInput({field: [_("声明所述的密钥保管人序号不是您的序号。")]})
        subset = (refusal.bid, refusal.members)
        if subset not in expected:
            raise InvalidInput(
                {
                    field: [
                        _("投标文件 %(bid)s 中没有包含您的子集 %(members)s。")
                        % {"bid": refusal.bid, "members": list(refusal.members)}
                    ]
                }
            )
        if subset in seen:
            raise InvalidInput({field: [_("同一子集的声明提交了两次。")]})
        seen.add(subset)
        found.append(
            {
                "bid": refusal.bid,
                "members": list(refusal.members),
                "reason": refusal.reason,
                "statement": base64.b64encode(submitted.statement).decode(),
                "signature": base64.b64encode(submitted.signature).decode(),
                "signing_key": refusal.signing_key,
            }
        )
    return found


def _check_parts(
    expected: dict[tuple[str, tuple[int, ...]], None],
    parts: Sequence[SubmittedPart],
    refused: set[tuple[str, tuple[int, ...]]],
) -> list[SubmittedPart]:
    """One 32-byte part for every subset this custodian belongs to, in every bid, but those it made a statement for."""
    if not expected and parts:
        raise InvalidInput({"parts": [_("本次开标没有投标文件，无需提交密钥分量。")]})
    seen: set[tuple[str, tuple[int, ...]]] = set()
    for index, part in enumerate(parts):
        key = (str(part.bid), tuple(part.members))
        if key not in expected:
            raise InvalidInput(
                {
                    f"parts.{index}": [
                        _("投标文件 %(bid)s 中没有包含您的子集 %(members)s。")
                        % {"bid": part.bid, "members": list(part.members)}
                    ]
                }
            )
        if key in seen:
            raise InvalidInput({f"parts.{index}": [_("同一子集的密钥分量提交了两次。")]})
        if key in refused:
            raise InvalidInput({f"parts.{index}": [_("同一子集既提交了密钥分量，又声明无法打开。")]})
        if len(part.part) != FILE_KEY_SIZE:
            raise InvalidInput({f"parts.{index}": [_("每个密钥分量应为 32 字节。")]})
        seen.add(key)
    missing = [key for key in expected if key not in seen and key not in refused]
    if missing:
        raise InvalidInput(
            {
                "parts": [
                    _(
                        "缺少 %(n)d 个密钥分量：请一次提交您在全部投标文件、全部子集中的分量"
                        "（无法打开的分量请提交签名的“无法打开”声明）。"
                    )
                    % {"n": len(missing)}
                ]
            }
        )
    return list(parts)


@dataclasses.dataclass
class _BidParts:
    """What the custodians submitted for one bid: parts by subset and position, and the positions that refused."""

    parts: dict[tuple[int, ...], dict[int, bytes]] = dataclasses.field(default_factory=dict)
    refused: dict[tuple[int, ...], set[int]] = dataclasses.field(default_factory=dict)


def _submitted(opening: Opening) -> dict[str, _BidParts]:
    """Every part and statement submitted so far, by bid id (parts opened from the data key's seal)."""
    found: dict[str, _BidParts] = {}
    for submission in opening.custodian_submissions.select_related("custodian"):
        position = _envelope_index(submission.custodian)
        if bytes(submission.sealed_parts):
            payload = json.loads(
                vault.open_sealed(_parts_purpose(opening, submission.custodian), bytes(submission.sealed_parts))
            )
            for item in payload:
                bid_parts = found.setdefault(item["bid"], _BidParts())
                bid_parts.parts.setdefault(tuple(item["members"]), {})[position] = base64.b64decode(item["part"])
        for refusal in submission.refusals:
            found.setdefault(refusal["bid"], _BidParts()).refused.setdefault(tuple(refusal["members"]), set()).add(
                position
            )
    return found


def _check_custodian_key(opening: Opening, bid_opening: BidOpening, newcomer: int, submitted: _BidParts) -> None:
    """Combine the complete subsets of this bid; the custodians' check is decided once a subset matches kc
    (matched) or every subset is decided without a match (defect: the bidder's).

    A subset is decided when all its members submitted a part (combined: it
    matches kc or not) or one of them signed a "does not open" statement for it;
    a subset still waiting for a member's submission is undecided. A subset whose
    parts combine to another key is recorded and shown with its members; the
    custodians common to every failing subset are named as suspects (an XOR
    cannot tell more: see docs/opening.md).
    """
    bid_id = str(bid_opening.bid.public_id)
    custodians = _custodian_envelopes(bid_opening.bid)
    kc = bytes.fromhex(bid_opening.bid.key_commitment)
    failed: list[tuple[int, ...]] = []
    found: bytes | None = None
    undecided = 0
    for subset in custodians.subsets:
        have = submitted.parts.get(subset.members, {})
        if submitted.refused.get(subset.members):
            continue  # a member's part does not open: this subset can never give the key
        if not all(m in have for m in subset.members):
            undecided += 1
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
        bid_opening.custodian_check = CustodianCheck.MATCHED
        bid_opening.save(update_fields=["custodian_check"])
        if bid_opening.state == BidOpeningState.AWAITING_KEY:
            _key_ready(opening, bid_opening, found, KeySource.CUSTODIANS, None)
    elif undecided == 0:
        bid_opening.custodian_check = CustodianCheck.DEFECT
        bid_opening.save(update_fields=["custodian_check"])
        detail = _(
            "密钥保管人的密钥分量无法恢复本投标文件的密钥（投标人密封的分量无效），无论投标人是否解密，均视为撤销投标。"
        )
        if (
            bid_opening.state != BidOpeningState.REVOKED
        ):  # already revoked (its ciphertext did not decrypt): once is enough
            clear_opened(bid_opening)
            resolve(opening, bid_opening, BidOpeningState.REVOKED, "custodian_parts_invalid", detail)
            maybe_publish_record(opening)


def clear_opened(bid_opening: BidOpening) -> None:
    """Forget what a decryption found (a bid revoked after the worker opened it: nothing of it is ever shown)."""
    bid_opening.price_summary = None
    bid_opening.files = []
    bid_opening.sealed_evaluation_key = b""
    bid_opening.plaintext_sha256 = ""
    bid_opening.plaintext_size = None
    bid_opening.save(
        update_fields=["price_summary", "files", "sealed_evaluation_key", "plaintext_sha256", "plaintext_size"]
    )


def _drop_parts_when_done(opening: Opening) -> None:
    """Drop the custodians' parts once nothing can need them again.

    Parts are needed only to combine with parts still to come. Once every bid's
    check is decided, or no more parts can come (the decryption is concluded),
    the keys they gave are kept (sealed) on the bids and the parts are emptied.
    """
    if opening.custodian_parts_dropped_at is not None:
        # A custodian that submits after every check was decided: its parts are not needed either.
        CustodianSubmission.objects.filter(opening=opening).exclude(sealed_parts=b"").update(sealed_parts=b"")
        return
    if opening.decryption_concluded_at is None and opening.bids.filter(custodian_check=CustodianCheck.PENDING).exists():
        return
    submissions = list(opening.custodian_submissions.all())
    if not submissions:
        return
    now = clock.now()
    CustodianSubmission.objects.filter(opening=opening).update(sealed_parts=b"")
    opening.custodian_parts_dropped_at = now
    opening.save(update_fields=["custodian_parts_dropped_at"])
    record(opening.tender.case, "tendering.opening.custodian_parts_dropped", {"submissions": len(submissions)}, None)


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
        waiting = list(
            opening.bids.select_for_update()
            .select_related("bid", "bid__bidder")
            .filter(state=BidOpeningState.AWAITING_KEY)
        )
        if waiting and now < opening.decryption_ends_at:
            raise WrongPhase(
                _("还有 %(n)d 份投标文件未解密，解密时间到 %(when)s 才结束。")
                % {"n": len(waiting), "when": clock.local_text(opening.decryption_ends_at)},
                code="decryption_window_open",
            )
        if tender.unreleased_bids == UnreleasedBidRule.CUSTODIANS and now < opening.decryption_ends_at:
            # Every bid's custodian parts are checked against kc (no free option): wait for them in the window.
            pending = opening.bids.filter(custodian_check=CustodianCheck.PENDING).count()
            if pending:
                raise WrongPhase(
                    _("还有 %(n)d 份投标文件的密钥分量尚未核验（密钥保管人未全部提交），解密时间到 %(when)s 才结束。")
                    % {"n": pending, "when": clock.local_text(opening.decryption_ends_at)},
                    code="custodian_check_pending",
                )
        for bid_opening in waiting:
            if tender.unreleased_bids == UnreleasedBidRule.CUSTODIANS:
                detail = _("投标人未在解密时限内解密，密钥保管人也未能凑齐门限数量的有效密钥分量。")
            else:
                detail = _("投标人未在解密时限内解密（本项目规定视为撤销投标）。")
            resolve(opening, bid_opening, BidOpeningState.REVOKED, "key_not_released", detail)
        # No more parts can come: a check still waiting for a custodian's submission proves nothing against the bidder.
        inconclusive = 0
        if tender.unreleased_bids == UnreleasedBidRule.CUSTODIANS:
            inconclusive = opening.bids.filter(custodian_check=CustodianCheck.PENDING).update(
                custodian_check=CustodianCheck.INCONCLUSIVE
            )
        opening.decryption_concluded_at = now
        opening.save(update_fields=["decryption_concluded_at"])
        record(
            tender.case,
            "tendering.opening.decryption_concluded",
            {"revoked_without_key": len(waiting), "custodian_checks_inconclusive": inconclusive},
            user,
        )
        _drop_parts_when_done(opening)
        publish(opening, "opening.moments", _moments(opening))
        maybe_publish_record(opening)
    return opening


# Bids ended as failed for a cause of the platform's own: a manager may have them tried again
# while the record is not yet published (the store may have recovered after the window).
PLATFORM_FAULT_CODES = ("stored_ciphertext_differs", "decryption_faults", "decryption_interrupted")


def retry_decryption(user: User, tender: Tender, bid_public_id: uuid.UUID | str) -> BidOpening:
    """A manager has a bid's decryption tried again now: one waiting for its next attempt after a fault of
    the platform's, or one ended as failed for such a fault while the record is not yet published."""
    roles = require_hall(user, tender)
    _require_role(roles, HallRole.MANAGER, _("只有招标人或代理机构可以重试解密。"))
    with transaction.atomic():
        opening = _lock(tender)
        _require_not_closed(opening)
        bid_opening = _bid_opening_for(opening, bid_public_id, lock=True)
        now = clock.now()
        waiting_retry = bid_opening.state == BidOpeningState.KEY_READY and bid_opening.retry_at is not None
        dead_worker = (
            bid_opening.state == BidOpeningState.DECRYPTING
            and bid_opening.lease_until is not None
            and bid_opening.lease_until < now
        )
        failed = (
            bid_opening.state == BidOpeningState.FAILED
            and bid_opening.outcome_code in PLATFORM_FAULT_CODES
            and opening.record_published_at is None
        )
        if not (waiting_retry or dead_worker or failed):
            raise Conflict(
                _("该投标文件现在无需重试解密（%(state)s）：只有因平台故障等待重试或失败的投标文件可以重试。")
                % {"state": bid_opening.get_state_display()},
                code="nothing_to_retry",
            )
        was = bid_opening.state
        bid_opening.state = BidOpeningState.KEY_READY
        bid_opening.retry_at = None
        bid_opening.lease_owner = ""
        bid_opening.lease_until = None
        bid_opening.outcome_code = ""
        bid_opening.outcome_detail = ""
        bid_opening.resolved_at = None
        bid_opening.save(
            update_fields=[
                "state",
                "retry_at",
                "lease_owner",
                "lease_until",
                "outcome_code",
                "outcome_detail",
                "resolved_at",
            ]
        )
        record(
            tender.case,
            "tendering.opening.decryption_retried",
            {"bid_id": str(bid_opening.bid.public_id), "was": was},
            user,
        )
        publish(opening, "bid.state", bid_view(bid_opening))
        from tendering.tasks import decrypt_bid

        bid_opening_id = bid_opening.pk
        transaction.on_commit(lambda: decrypt_bid.enqueue(bid_opening_id))
    return bid_opening


def resolve(opening: Opening, bid_opening: BidOpening, state: str, code: str, detail: str) -> None:
    """End a bid in revoked or failed (the caller holds the opening's lock and the bid's)."""
    bid_opening.state = state
    bid_opening.outcome_code = code
    bid_opening.outcome_detail = str(detail)
    bid_opening.resolved_at = clock.now()
    bid_opening.lease_owner = ""
    bid_opening.lease_until = None
    bid_opening.save(
        update_fields=["state", "outcome_code", "outcome_detail", "resolved_at", "lease_owner", "lease_until"]
    )
    record(
        opening.tender.case,
        "tendering.opening.bid_not_opened",
        {
            "bid_id": str(bid_opening.bid.public_id),
            "state": state,
            "reason": code,
            "detail": str(detail),
            **key_refusals_note(bid_opening),
        },
        None,
    )
    publish(opening, "bid.state", bid_view(bid_opening))


def maybe_publish_record(opening: Opening) -> None:
    """Once the decryption is concluded and every bid has ended in one state, the record is published."""
    if opening.decryption_concluded_at is None or opening.record_published_at is not None:
        return
    if opening.bids.exclude(
        state__in=[s.value for s in (BidOpeningState.OPENED, BidOpeningState.REVOKED, BidOpeningState.FAILED)]
    ).exists():
        return
    now = clock.now()
    opening.record_published_at = now
    opening.confirmation_ends_at = now + dt.timedelta(minutes=settings.OPENING_CONFIRMATION_WINDOW_MINUTES)
    opening.save(update_fields=["record_published_at", "confirmation_ends_at"])
    rows = [record_row(b) for b in opening.bids.select_related("bid", "bid__bidder")]
    record(
        opening.tender.case,
        "tendering.opening.record_published",
        {
            "rows": rows,
            "confirmation_ends_at": opening.confirmation_ends_at.isoformat(),
            # Revealed now: each opened bid's price summary and files, as bid_opened committed to them.
            "opened": [
                {"bid_id": str(b.bid.public_id), "price_summary": b.price_summary, "files": _ledger_files(b)}
                for b in opening.bids.select_related("bid").filter(state=BidOpeningState.OPENED)
            ],
        },
        None,
    )
    publish(opening, "opening.moments", _moments(opening))
    # Only now, with every bid final, are prices and file lists shown (no free option: docs/opening.md §3).
    publish(
        opening,
        "opening.revealed",
        {"bids": [bid_view(b, revealed=True) for b in opening.bids.select_related("bid", "bid__bidder")]},
    )


# --- the opening record: confirmations and objections -------------------------------------------------------


def _own_bid_opening(opening: Opening, user: User) -> BidOpening:
    found = (
        opening.bids.select_for_update()
        .select_related("bid", "bid__bidder")
        .filter(bid__bidder_id=user.organization_id)
        .first()
    )
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
        publish(
            opening,
            "record.confirmed",
            {"position": bid_opening.position, "bidder": bid_opening.bid.bidder.name, "at": bid_opening.confirmed_at},
        )
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
        objection = (
            RecordObjection.objects.select_for_update()
            .select_related("bid_opening__bid__bidder")
            .filter(opening=opening, pk=objection_id)
            .first()
        )
        if objection is None:
            raise NotFound(_("找不到该异议。"))
        if objection.answered_at is not None:
            raise Conflict(_("该异议已答复。"), code="already_answered")
        objection.answer = text
        objection.answered_by = user
        objection.answered_at = clock.now()
        objection.save(update_fields=["answer", "answered_by", "answered_at"])
        record(
            tender.case, "tendering.opening.objection_answered", {"objection_id": objection.pk, "answer": text}, user
        )
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
            raise WrongPhase(
                _("开标记录尚未公布：请先结束解密，并等待全部投标文件解密完毕。"), code="record_not_published"
            )
        unanswered = opening.objections.filter(answered_at__isnull=True).count()
        if unanswered:
            raise WrongPhase(
                _("还有 %(n)d 条异议未答复，答复后才能结束开标。") % {"n": unanswered}, code="objections_unanswered"
            )
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
            {
                "rows": rows,
                "record_sha256": hashlib.sha256(
                    json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()
                ).hexdigest(),
            },
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


def _ledger_files(bid_opening: BidOpening) -> list[dict[str, Any]]:
    return [{"path": f["path"], "size": f["size"], "sha256": f["sha256"]} for f in bid_opening.files or []]


def opened_content_commitment(bid_opening: BidOpening) -> dict[str, Any]:
    """What the ledger's ``bid_opened`` entry says of an opened bid's content before the reveal: SHA-256 of the
    canonical price summary and of the file list, which ``record_published`` then carries in full."""
    return {
        "price_summary_sha256": hashlib.sha256(canonical_json(bid_opening.price_summary or {})).hexdigest(),
        "files_sha256": hashlib.sha256(canonical_json(_ledger_files(bid_opening))).hexdigest(),
        "file_count": len(bid_opening.files or []),
    }


def revealed(opening: Opening) -> bool:
    """Whether prices and file lists may be shown: once the record is published, i.e. the decryption is
    concluded and every bid has ended in its final state (no bid can change any more)."""
    return opening.record_published_at is not None


def bid_view(bid_opening: BidOpening, *, revealed: bool = False) -> dict[str, Any]:
    """One bid as the hall shows it; its price summary and files only when ``revealed`` (see ``revealed``)."""
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
        "price_summary": bid_opening.price_summary if revealed else None,
        "files": [{"path": f["path"], "size": f["size"]} for f in bid_opening.files] if revealed else [],
        "custodian_check": bid_opening.custodian_check,
        "faults": bid_opening.faults,
        "last_fault": bid_opening.last_fault,
        "retry_at": bid_opening.retry_at,
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
            {
                "position": slot.position,
                "name": _name(slot.user),
                "submitted_at": submission.submitted_at if submission else None,
                "refusals": len(submission.refusals) if submission else 0,
            }
        )
    own_org = user.organization_id if HallRole.BIDDER in roles else None
    bids = []
    shown = revealed(opening)
    for bid_opening in opening.bids.select_related("bid", "bid__bidder"):
        view = bid_view(bid_opening, revealed=shown)
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
            # The zone the tender's times are given in (clients print them there, not in their machine's).
            "time_zone": settings.TIME_ZONE,
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
        "custodian_failures": [
            e.payload for e in opening.events.filter(kind="custodian.parts_failed", audience=hall.ALL).order_by("seq")
        ],
        "record": {"sha256": opening.record_sha256, "ledger_seq": opening.record_ledger_seq}
        if opening.record_sha256
        else None,
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
        {
            "bid": str(b.bid.public_id),
            "position": b.position,
            "state": b.state,
            "manifest": base64.b64encode(bytes(b.bid.manifest)).decode(),
        }
        for b in qs
    ]


def filed_record(user: Any, tender: Tender) -> Opening | None:
    """The closed opening whose signed record is filed, for a participant or supervisor; None before."""
    require_hall(user, tender)
    found = Opening.objects.filter(tender=tender).exclude(record_sha256="").first()
    return found
