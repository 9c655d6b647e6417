"""A bid's state change failed / waiting → key_ready: a manager has its decryption tried again after a fault
of the platform's own."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict
from accounts.models import User
from archive.ledger import record
from config import clock
from tendering import hall_protocol as hp
from tendering.hall import HallRole
from tendering.models import (
    BidOpening,
    BidOpeningState,
    Tender,
)
from tendering.services.after_commit import Work, enqueue_after_commit
from tendering.services.hall_events import publish
from tendering.services.opening.admission import (
    bid_opening_for,
    lock_opening,
    require_hall,
    require_not_closed,
    require_role,
)
from tendering.services.opening.payloads import bid_view

# Bids ended as failed for a cause of the platform's own: a manager may have them tried again
# while the record is not yet published (the store may have recovered after the window).
PLATFORM_FAULT_CODES = ("stored_ciphertext_differs", "decryption_faults", "decryption_interrupted")


def retry_decryption(user: User, tender: Tender, bid_public_id: uuid.UUID | str) -> BidOpening:
    """A manager has a bid's decryption tried again now: one waiting for its next attempt after a fault of
    the platform's, or one ended as failed for such a fault while the record is not yet published."""
    roles = require_hall(user, tender)
    require_role(roles, HallRole.MANAGER, _("只有招标人或代理机构可以重试解密。"))
    with transaction.atomic():
        opening = lock_opening(tender)
        require_not_closed(opening)
        bid_opening = bid_opening_for(opening, bid_public_id, lock=True)
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
        publish(opening, hp.BidState(**bid_view(bid_opening)))
        enqueue_after_commit(Work.DECRYPT_BID, bid_opening.pk)
    return bid_opening
