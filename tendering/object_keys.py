"""Every object-store key of tendering, built here and nowhere else (docs/architecture.md, "Storage of documents").

One tender's objects live under ``tenders/<tender public id>/``; each key is checked against the
store's rules (``archive.storage.validate_key``) as it is made.
"""

from __future__ import annotations

import uuid

from archive.storage import validate_key
from tendering.models import Tender


def _key(tender: Tender, *parts: str) -> str:
    key = "/".join(("tenders", str(tender.public_id), *parts))
    validate_key(key)
    return key


def tender_document(tender: Tender, document_id: uuid.UUID | None = None) -> str:
    """A document of the tender (a new random name unless ``document_id`` is given): one object per upload."""
    return _key(tender, "documents", str(document_id or uuid.uuid4()))


def bid_ciphertext(tender: Tender, bid_id: uuid.UUID | str) -> str:
    """The sealed bid's ciphertext, by the bid id its bidder chose."""
    return _key(tender, "bids", str(bid_id))


def bid_record(tender: Tender, bid_id: uuid.UUID | str, name: str) -> str:
    """A record of the bid the platform holds as bytes (its signed manifest, the signature, its receipt)."""
    return _key(tender, "bids", str(bid_id), name)


def opening_record(tender: Tender) -> str:
    """The signed opening record (开标记录表, PDF) of the tender's opening."""
    return _key(tender, "opening", "opening-record.pdf")


def evaluation_report(tender: Tender) -> str:
    """The committee's evaluation report (评标报告, PDF) signed by the platform, with its members' signatures."""
    return _key(tender, "evaluation", "evaluation-report.pdf")
