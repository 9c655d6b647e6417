"""The records period, written once (archive/storage/retention.py), and the object keys, built once
(tendering/object_keys.py): what they give, and that no other module computes either."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from archive.storage import RetentionMode
from archive.storage.retention import add_years, records_retain_until, records_retention

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.UTC


def test_the_records_period_ends_on_the_same_calendar_day_years_later(settings: Any) -> None:
    settings.RECORD_RETENTION_YEARS = 15
    filed = dt.datetime(2026, 12, 3, 16, 30, tzinfo=UTC)
    assert records_retain_until(filed) == dt.datetime(2041, 12, 3, 16, 30, tzinfo=UTC)
    settings.RECORD_RETENTION_YEARS = 3
    assert records_retain_until(filed) == dt.datetime(2029, 12, 3, 16, 30, tzinfo=UTC)
    assert records_retention(now=filed) == records_retention(RetentionMode.GOVERNANCE, filed)
    assert records_retention(RetentionMode.COMPLIANCE, filed).until == dt.datetime(2029, 12, 3, 16, 30, tzinfo=UTC)


def test_a_period_from_the_29th_of_february_is_never_short() -> None:
    assert add_years(dt.datetime(2028, 2, 29, tzinfo=UTC), 15) == dt.datetime(2043, 3, 1, tzinfo=UTC)
    assert add_years(dt.datetime(2028, 2, 29, tzinfo=UTC), 4) == dt.datetime(2032, 2, 29, tzinfo=UTC)


def test_the_records_period_counts_from_the_platforms_clock(settings: Any, frozen_clock: Any) -> None:
    from config import clock

    settings.RECORD_RETENTION_YEARS = 15
    assert records_retain_until() == add_years(clock.now(), 15)


@pytest.mark.django_db
def test_every_key_of_a_tender_sits_under_its_own_prefix(draft_tender: Any) -> None:
    from tendering import object_keys

    prefix = f"tenders/{draft_tender.public_id}/"
    bid = uuid.UUID("6f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f")
    document = uuid.UUID("0b6a9e8e-1f7d-4a44-9d0e-2c8f1e7a3b11")
    assert object_keys.bid_ciphertext(draft_tender, bid) == prefix + "bids/6f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f"
    assert object_keys.tender_document(draft_tender, document) == prefix + f"documents/{document}"
    assert object_keys.opening_record(draft_tender) == prefix + "opening/opening-record.pdf"
    first, second = object_keys.tender_document(draft_tender), object_keys.tender_document(draft_tender)
    assert first != second and first.startswith(prefix + "documents/")
    with pytest.raises(ValueError, match="segment"):
        object_keys.bid_ciphertext(draft_tender, "../other")


def _python_files(*packages: str) -> list[Path]:
    return [p for package in packages for p in sorted((ROOT / package).rglob("*.py")) if "migrations" not in p.parts]


def test_no_other_module_builds_an_object_key_or_computes_the_records_period() -> None:
    key = re.compile(r"""f["']tenders/""")
    period = re.compile(r"RECORD_RETENTION_YEARS")
    building = [
        str(p.relative_to(ROOT)) for p in _python_files("tendering", "archive", "frontend") if key.search(p.read_text())
    ]
    computing = [
        str(p.relative_to(ROOT))
        for p in _python_files("tendering", "archive", "frontend", "evaluation")
        if period.search(p.read_text())
    ]
    assert building == []
    assert computing == ["archive/storage/retention.py"]
