"""What the hall and the ledger say of each row of an opening: the shapes of events, snapshots and
ledger entries (no change, no permission check: the callers do both)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings

from archive.canonical import canonical_json
from tendering.models import (
    BidOpening,
    BidOpeningState,
    Opening,
    OpeningAttendance,
    RecordObjection,
)


def moments(opening: Opening) -> dict[str, Any]:
    return {
        "started_at": opening.started_at,
        "decryption_ends_at": opening.decryption_ends_at,
        "decryption_concluded_at": opening.decryption_concluded_at,
        "record_published_at": opening.record_published_at,
        "confirmation_ends_at": opening.confirmation_ends_at,
        "closed_at": opening.closed_at,
    }


def attendance_view(attendance: OpeningAttendance) -> dict[str, Any]:
    user = attendance.user
    return {
        "user": user.pk,
        "name": user.display_name or user.get_username(),
        "organization": attendance.organization.name if attendance.organization else "",
        "roles": attendance.roles,
        "signed_in_at": attendance.signed_in_at,
    }


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


def ledger_files(bid_opening: BidOpening) -> list[dict[str, Any]]:
    return [{"path": f["path"], "size": f["size"], "sha256": f["sha256"]} for f in bid_opening.files or []]


def opened_content_commitment(bid_opening: BidOpening) -> dict[str, Any]:
    """What the ledger's ``bid_opened`` entry says of an opened bid's content before the reveal: SHA-256 of the
    canonical price summary and of the file list, which ``record_published`` then carries in full."""
    return {
        "price_summary_sha256": hashlib.sha256(canonical_json(bid_opening.price_summary or {})).hexdigest(),
        "files_sha256": hashlib.sha256(canonical_json(ledger_files(bid_opening))).hexdigest(),
        "file_count": len(bid_opening.files or []),
        # Only for a bid with a response index (评审因素定位): entries of bids without one are as they were.
        **(
            {"response_index_sha256": hashlib.sha256(canonical_json(bid_opening.response_index)).hexdigest()}
            if bid_opening.response_index is not None
            else {}
        ),
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


def key_refusals_note(bid_opening: BidOpening) -> dict[str, Any]:
    """What a bid's end adds to the ledger about refused keys not recorded one by one."""
    if bid_opening.key_refusals > settings.OPENING_KEY_REFUSALS_RECORDED:
        return {"key_refusals": bid_opening.key_refusals}
    return {}


def display_name(user: Any) -> str:
    return str(user.display_name or user.get_username())
