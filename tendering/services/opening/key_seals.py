"""The keys of an opening kept at rest: each bid's file key and each custodian's parts, sealed under the
platform's data key (``archive.vault``) with a purpose that names what they belong to."""

from __future__ import annotations

from archive import vault
from tendering.models import (
    BidOpening,
    Opening,
    TenderCustodian,
)

FILE_KEY_SIZE = 32


def file_key_purpose(bid_opening: BidOpening) -> str:
    return f"file-key:{bid_opening.bid.public_id}"


def open_file_key(bid_opening: BidOpening) -> bytes:
    """The file key of a bid whose key is ready (for the worker)."""
    return vault.open_sealed(file_key_purpose(bid_opening), bytes(bid_opening.sealed_file_key))


def parts_purpose(opening: Opening, slot: TenderCustodian) -> str:
    return f"custodian-parts:{opening.tender.public_id}:{slot.position}"
