"""Rotating the platform data key: every opened-bid secret sealed again under the newest key.

What the vault seals (archive/vault.py) lives in the opening's rows: a bid's
released file key (which also reads its files for the evaluation: there is no
second copy under a key of its own) and each custodian's submitted parts.
After a new key goes into PLATFORM_DATA_KEY_FILE and the old one into
PLATFORM_DATA_KEY_RETIRED_FILES, ``reseal_opened_secrets`` opens each value with
the key it names and seals it under the new one, one tender at a time: its
opening locked first (as every opening service locks it), then its rows, and the
tender's ledger entry written in the same transaction, so a run stopped half way
leaves every tender either done and recorded or untouched. An opening in progress
keeps working meanwhile: it opens under either key. Run again, it changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction

from archive import vault
from archive.ledger import record
from tendering.models import Opening
from tendering.services.locks import lock, lock_one
from tendering.services.opening.key_seals import file_key_purpose, parts_purpose


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
    for opening_id in Opening.objects.order_by("pk").values_list("pk", flat=True):
        _reseal_opening(opening_id, report)
    return report


def _reseal_opening(opening_id: int, report: ResealReport) -> None:
    with transaction.atomic():
        opening = lock_one(Opening.objects.select_related("tender").filter(pk=opening_id))
        counts: Counter[str] = Counter()
        for bid_opening in lock(opening.bids.select_related("bid")):
            changed = []
            if bid_opening.sealed_file_key:
                resealed = vault.reseal(file_key_purpose(bid_opening), bytes(bid_opening.sealed_file_key))
                if resealed is not None:
                    bid_opening.sealed_file_key = resealed
                    changed.append("sealed_file_key")
                    counts["file_key"] += 1
            if changed:
                bid_opening.save(update_fields=changed)
        for submission in lock(opening.custodian_submissions.select_related("custodian")):
            if not submission.sealed_parts:
                continue  # dropped once combined
            resealed = vault.reseal(parts_purpose(opening, submission.custodian), bytes(submission.sealed_parts))
            if resealed is not None:
                submission.sealed_parts = resealed
                submission.save(update_fields=["sealed_parts"])
                counts["custodian_parts"] += 1
        if counts:
            record(opening.tender.case, "tendering.data_key.resealed", {"key_id": report.key_id, **counts}, None)
            report.resealed.update(counts)
            report.tenders.add(opening.tender_id)
