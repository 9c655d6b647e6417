"""The opening record (开标记录表) is published once the decryption is concluded and every bid has ended."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from archive.ledger import record
from config import clock
from tendering import hall_protocol as hp
from tendering.models import (
    BidOpeningState,
    Opening,
)
from tendering.services.hall_events import publish
from tendering.services.opening.payloads import bid_view, ledger_files, moments, record_row


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
                {"bid_id": str(b.bid.public_id), "price_summary": b.price_summary, "files": ledger_files(b)}
                for b in opening.bids.select_related("bid").filter(state=BidOpeningState.OPENED)
            ],
        },
        None,
    )
    publish(opening, hp.OpeningMoments(**moments(opening)))
    # Only now, with every bid final, are prices and file lists shown (no free option: docs/opening.md §3).
    views = [bid_view(b, revealed=True) for b in opening.bids.select_related("bid", "bid__bidder")]
    publish(opening, hp.OpeningRevealed(bids=[hp.BidView(**view) for view in views]))
