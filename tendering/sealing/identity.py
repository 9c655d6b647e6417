"""Who and what a sealed bid belongs to: the tender, the bid and the bidder.

The three travel in every key derivation and envelope ``info`` string, so a
segment, an envelope or a key part taken from one bid is useless in another.
Each has exactly one accepted spelling, because the strings are hashed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from accounts import credit_code
from tendering.sealing.errors import IdentityError

# str(uuid.UUID(...)): lowercase, hyphenated, any version.
_UUID = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")

STREAM_INFO_LABEL = "etender-bid-v1"


def check_uuid(value: object, what: str) -> str:
    """``value`` if it is a UUID in its canonical text form (lowercase, hyphenated)."""
    if not isinstance(value, str) or not _UUID.match(value):
        raise IdentityError(f"{what} must be a UUID in lowercase hyphenated form, got {value!r}")
    return value


def check_credit_code(value: object, what: str = "bidder") -> str:
    """``value`` if it is a valid unified social credit code (统一社会信用代码) in capitals."""
    if not isinstance(value, str):
        raise IdentityError(f"{what} must be a credit code string, got {type(value).__name__}")
    try:
        normalized = credit_code.validate(value)
    except credit_code.InvalidCreditCode as exc:
        raise IdentityError(f"{what} {value!r} is not a unified social credit code: {exc}") from None
    if normalized != value:
        raise IdentityError(f"{what} {value!r} must be written in capitals without spaces: {normalized!r}")
    return value


@dataclass(frozen=True)
class BidIdentity:
    """The tender's public id, the bid id the client chose, and the bidder's credit code."""

    tender: str
    bid: str
    bidder: str

    def __post_init__(self) -> None:
        check_uuid(self.tender, "tender")
        check_uuid(self.bid, "bid")
        check_credit_code(self.bidder)

    def stream_info(self) -> bytes:
        """``etender-bid-v1|{tender}|{bid}|{bidder}``: Tink's associated data for the segment key."""
        return f"{STREAM_INFO_LABEL}|{self.tender}|{self.bid}|{self.bidder}".encode("ascii")
