"""The bidder releases its bid's file key (投标人解密) within the decryption window."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, DomainError, InvalidInput, NotFound, WrongPhase
from accounts.models import User
from archive.ledger import record
from config import clock
from tendering import hall
from tendering import hall_protocol as hp
from tendering.hall import HallRole
from tendering.models import (
    BidOpening,
    BidOpeningState,
    KeySource,
    Opening,
    Tender,
)
from tendering.sealing import (
    KeyCommitmentError,
    verify_commitment,
)
from tendering.services.hall_events import publish
from tendering.services.opening.admission import (
    bid_opening_for,
    lock_opening,
    require_hall,
    require_not_closed,
    require_role,
)
from tendering.services.opening.bid_key_ready import key_ready
from tendering.services.opening.key_seals import FILE_KEY_SIZE


def decode_key(text: str, field: str) -> bytes:
    """A 32-byte key or part as clients send it (base64), or a refusal naming the field."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput({field: [_("不是有效的 base64。")]}) from None
    if len(raw) != FILE_KEY_SIZE:
        raise InvalidInput({field: [_("应为 32 字节。")]})
    return raw


def check_file_key(file_key: bytes, field: str = "file_key") -> bytes:
    if not isinstance(file_key, (bytes, bytearray)) or len(file_key) != FILE_KEY_SIZE:
        raise InvalidInput({field: [_("文件密钥应为 32 字节。")]})
    return bytes(file_key)


def release_key(user: User, tender: Tender, bid_public_id: uuid.UUID | str, file_key: bytes) -> BidOpening:
    """The bidder releases the file key it opened from its own envelope (投标人解密)."""
    roles = require_hall(user, tender)
    require_role(roles, HallRole.BIDDER, _("只有投标人可以解密自己的投标文件。"))
    file_key = check_file_key(file_key)
    with transaction.atomic():
        opening = lock_opening(tender)
        require_not_closed(opening)
        bid_opening = bid_opening_for(opening, bid_public_id, lock=True)
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
            key_ready(opening, bid_opening, file_key, KeySource.BIDDER, user)
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
    throttled = bid_opening.key_refusals >= settings.OPENING_KEY_REFUSALS_RECORDED
    # Told to the bidder's own devices and tabs only: no other participant hears of it.
    publish(
        opening,
        hp.BidKeyRefused(
            bid=str(bid_opening.bid.public_id),
            position=bid_opening.position,
            refusals=bid_opening.key_refusals,
            at=now,
            retry_after=now + dt.timedelta(seconds=settings.OPENING_KEY_RETRY_SECONDS) if throttled else None,
        ),
        audience=hall.bidder_audience(bid_opening.bid.bidder_id),
    )
    if bid_opening.key_refusals <= settings.OPENING_KEY_REFUSALS_RECORDED:
        record(
            opening.tender.case,
            "tendering.opening.key_refused",
            {"bid_id": str(bid_opening.bid.public_id), "reason": "key_commitment", "refusal": bid_opening.key_refusals},
            user,
        )
