"""A bid's state change to revoked or failed (it is not opened), and forgetting what a decryption of a
bid later revoked had found."""

from __future__ import annotations

from archive.ledger import record
from config import clock
from tendering import hall_protocol as hp
from tendering.models import (
    BidOpening,
    Opening,
)
from tendering.services.hall_events import publish
from tendering.services.opening.payloads import bid_view, key_refusals_note


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
    publish(opening, hp.BidState(**bid_view(bid_opening)))


def clear_opened(bid_opening: BidOpening) -> None:
    """Forget what a decryption found (a bid revoked after the worker opened it: nothing of it is ever shown)."""
    bid_opening.price_summary = None
    bid_opening.files = []
    bid_opening.ciphertext_header = b""
    bid_opening.plaintext_size = None
    bid_opening.save(update_fields=["price_summary", "files", "ciphertext_header", "plaintext_size"])
