"""Admission to the hall and the opening of the hall: who may enter, the opening made at its first use
at or after the opening time, its lock, and signing in (签到)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import NotFound, PermissionDenied, WrongPhase
from accounts.models import User
from archive import cases
from archive.ledger import record
from config import clock
from tendering import hall
from tendering import hall_protocol as hp
from tendering.hall import HallRole
from tendering.models import (
    Bid,
    BidOpening,
    BidStatus,
    Opening,
    OpeningAttendance,
    Tender,
)
from tendering.services.after_commit import Work, enqueue_after_commit
from tendering.services.hall_events import publish
from tendering.services.locks import lock_first, lock_one
from tendering.services.opening.payloads import attendance_view, moments

# How often a running opening is checked for bids whose worker died (seconds of real time).
WATCH_INTERVAL_SECONDS = 10


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


def require_role(roles: set[HallRole], role: HallRole, message: str) -> None:
    if role not in roles:
        raise PermissionDenied(message, code="not_allowed_in_hall")


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
        tender = lock_one(Tender.objects.filter(pk=tender.pk))
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
            # The accepted ciphertext, exactly as its bidder signed it, is the case's record of the bid.
            cases.file_object(
                tender.case,
                f"bids/{bid.public_id}/bid.sealed",
                object_key=bid.object_key,
                version_id=bid.version_id,
                sha256=bid.sha256,
                size=bid.size,
                content_type="application/octet-stream",
            )
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
        opening = lock_one(Opening.objects.filter(pk=opening.pk))
        publish(opening, hp.OpeningStarted(**moments(opening)))
        enqueue_after_commit(Work.WATCH_OPENING, opening.pk, delay=dt.timedelta(seconds=WATCH_INTERVAL_SECONDS))
        enqueue_after_commit(Work.FILE_BID_RECORDS, tender.pk)
    return opening


def lock_opening(tender: Tender) -> Opening:
    """The opening with its row locked: every change of an opening takes this lock first."""
    ensure_opening(tender)
    return lock_one(Opening.objects.select_related("tender").filter(tender_id=tender.pk))


def require_not_closed(opening: Opening) -> None:
    if opening.closed_at is not None:
        raise WrongPhase(_("开标已结束，不能再进行此操作。"), code="opening_closed")


def bid_opening_for(opening: Opening, bid_public_id: uuid.UUID | str, *, lock: bool = False) -> BidOpening:
    try:
        public_id = uuid.UUID(str(bid_public_id))
    except ValueError:
        raise NotFound(_("找不到该投标文件。")) from None
    qs = BidOpening.objects.select_related("bid", "bid__bidder", "opening").filter(
        opening=opening, bid__public_id=public_id
    )
    found = lock_first(qs) if lock else qs.first()
    if found is None:
        raise NotFound(_("本次开标中没有该投标文件。"))
    return found


@transaction.atomic
def sign_in(user: User, tender: Tender) -> OpeningAttendance:
    """A participant signs in to the hall (签到); signing in again changes nothing."""
    roles = require_hall(user, tender)
    opening = lock_opening(tender)
    existing = OpeningAttendance.objects.filter(opening=opening, user=user).first()
    if existing is not None:
        return existing
    attendance = OpeningAttendance.objects.create(
        opening=opening, user=user, roles=sorted(roles), organization=user.organization, signed_in_at=clock.now()
    )
    record(tender.case, "tendering.opening.signed_in", {"user_id": user.pk, "roles": sorted(roles)}, user)
    publish(opening, hp.SignedIn(**attendance_view(attendance)))
    return attendance
