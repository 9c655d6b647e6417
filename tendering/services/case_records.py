"""The bids' records the database holds, filed into the case once the opening starts (the worker:
``Work.FILE_BID_RECORDS``; closing the case runs it again first, so that a store outage costs nothing).

For each bid of the opening: its signed manifest (``bids/<id>/manifest.json``, the bytes its bidder signed),
the signature (``manifest.sig``, DER) and its receipt (``receipt.json``, once the time-stamp authority
answered). Each is put into the store and filed with its ledger entry (``archive.cases.file_bytes``);
filing again files nothing twice.
"""

from __future__ import annotations

from archive import cases
from tendering import object_keys
from tendering.models import BidOpening, Opening, Tender


def file_bid_records(tender_id: int) -> int:
    """File every bid record of the tender's opening not filed yet; how many were filed now."""
    tender = Tender.objects.get(pk=tender_id)
    opening = Opening.objects.filter(tender=tender).first()
    if opening is None:
        return 0
    filed = 0
    for bid_opening in BidOpening.objects.filter(opening=opening).select_related("bid").order_by("position"):
        bid = bid_opening.bid
        records = (
            ("manifest.json", bytes(bid.manifest), "application/json"),
            ("manifest.sig", bytes(bid.signature), "application/octet-stream"),
            ("receipt.json", bytes(bid.receipt), "application/json"),
        )
        for name, data, content_type in records:
            if not data:
                continue  # a receipt the time-stamp authority has not given yet: the next run files it
            _row, now = cases.file_bytes(
                tender.case,
                f"bids/{bid.public_id}/{name}",
                data,
                object_key=object_keys.bid_record(tender, bid.public_id, name),
                content_type=content_type,
            )
            filed += now
    return filed
