"""Rotating the platform data key: every opened-bid secret sealed again under the newest key.

What the vault seals (archive/vault.py) lives in the opening's rows: a bid's
released file key, its evaluation copy's key, and each custodian's submitted
parts. After a new key goes into PLATFORM_DATA_KEY_FILE and the old one into
PLATFORM_DATA_KEY_RETIRED_FILES, ``reseal_opened_secrets`` opens each value with
the key it names and seals it under the new one, row by row under the row's
lock (an opening in progress keeps working: it opens either), and records one
ledger entry per tender it touched. Run again, it changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction

from archive import vault
from archive.ledger import record
from tendering.models import BidOpening, CustodianSubmission, Tender
from tendering.services.decryption import _evaluation_key_purpose
from tendering.services.opening import _file_key_purpose, _parts_purpose


@dataclass
class ResealReport:
    """How many sealed values were sealed again, per kind; those already under the current key are not counted."""

    key_id: str
    resealed: Counter[str] = field(default_factory=Counter)
    tenders: set[int] = field(default_factory=set)

    @property
    def total(self) -> int:
        return sum(self.resealed.values())


def reseal_opened_secrets() -> ResealReport:
    """Seal every stored secret again under the current data key (UnknownDataKey if one's key is not configured)."""
    report = ResealReport(key_id=vault.data_key().key_id.hex())
    for pk in BidOpening.objects.order_by("pk").values_list("pk", flat=True):
        _reseal_bid_opening(pk, report)
    for pk in CustodianSubmission.objects.order_by("pk").values_list("pk", flat=True):
        _reseal_custodian_submission(pk, report)
    for tender in Tender.objects.filter(pk__in=report.tenders).order_by("pk"):
        record(tender.case, "tendering.data_key.resealed", {"key_id": report.key_id}, None)
    return report


def _reseal_bid_opening(pk: int, report: ResealReport) -> None:
    with transaction.atomic():
        bid_opening = BidOpening.objects.select_for_update().select_related("bid").get(pk=pk)
        changed = []
        if bid_opening.sealed_file_key:
            resealed = vault.reseal(_file_key_purpose(bid_opening), bytes(bid_opening.sealed_file_key))
            if resealed is not None:
                bid_opening.sealed_file_key = resealed
                changed.append("sealed_file_key")
                report.resealed["file_key"] += 1
        if bid_opening.sealed_evaluation_key:
            resealed = vault.reseal(_evaluation_key_purpose(bid_opening), bytes(bid_opening.sealed_evaluation_key))
            if resealed is not None:
                bid_opening.sealed_evaluation_key = resealed
                changed.append("sealed_evaluation_key")
                report.resealed["evaluation_key"] += 1
        if changed:
            bid_opening.save(update_fields=changed)
            report.tenders.add(bid_opening.bid.tender_id)


def _reseal_custodian_submission(pk: int, report: ResealReport) -> None:
    with transaction.atomic():
        submission = CustodianSubmission.objects.select_for_update().select_related("opening__tender", "custodian").get(pk=pk)
        if not submission.sealed_parts:
            return  # dropped once combined
        resealed = vault.reseal(_parts_purpose(submission.opening, submission.custodian), bytes(submission.sealed_parts))
        if resealed is not None:
            submission.sealed_parts = resealed
            submission.save(update_fields=["sealed_parts"])
            report.resealed["custodian_parts"] += 1
            report.tenders.add(submission.opening.tender_id)
