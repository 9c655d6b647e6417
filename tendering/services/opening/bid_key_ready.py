"""A bid's state change awaiting_key → key_ready: its key is known (released by the bidder or combined
from the custodians' parts), kept sealed, and its decryption is queued."""

from __future__ import annotations

from accounts.models import User
from archive import vault
from archive.ledger import record
from config import clock
from tendering import hall_protocol as hp
from tendering.models import (
    BidOpening,
    BidOpeningState,
    KeySource,
    Opening,
)
from tendering.services.after_commit import Work, enqueue_after_commit
from tendering.services.hall_events import publish
from tendering.services.opening.key_seals import file_key_purpose
from tendering.services.opening.payloads import bid_view


def key_ready(opening: Opening, bid_opening: BidOpening, file_key: bytes, source: str, user: User | None) -> None:
    """Keep the key (sealed under the data key), record it, announce it and queue the decryption."""
    bid_opening.sealed_file_key = vault.seal(file_key_purpose(bid_opening), file_key)
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
    publish(opening, hp.BidState(**bid_view(bid_opening)))
    enqueue_after_commit(Work.DECRYPT_BID, bid_opening.pk)
