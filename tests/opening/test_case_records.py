"""The bids' records the database holds (signed manifest, signature, receipt) filed into the case once the
opening starts, by the worker, once; a store outage costs nothing (tendering/services/case_records.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from django_tasks_db.models import DBTaskResult

from archive import cases, signing
from archive.dossier import build_dossier
from archive.models import LedgerEntry
from archive.storage import get_object_store
from archive.verify.dossier import verify_dossier
from tendering.services.after_commit import Work
from tendering.services.case_records import file_bid_records
from tests.opening.conftest import OpeningCase

pytestmark = pytest.mark.django_db


def test_the_opening_queues_the_filing_of_every_bids_manifest_signature_and_receipt_once(
    opening_case: OpeningCase, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    case = opening_case
    assert file_bid_records(case.tender.pk) == 0  # no opening yet: nothing to file
    with django_capture_on_commit_callbacks(execute=True):
        case.at_opening()
    assert DBTaskResult.objects.filter(task_path=Work.FILE_BID_RECORDS.value).count() == 1

    with_receipts = sum(1 for e in case.entries if bytes(e.bid.receipt))
    assert file_bid_records(case.tender.pk) == 2 * len(case.entries) + with_receipts
    entries = LedgerEntry.objects.count()
    assert file_bid_records(case.tender.pk) == 0 and LedgerEntry.objects.count() == entries  # once

    filed = {f.name: f for f in cases.objects_of(case.tender.case)}
    for entry in case.entries:
        bid = entry.bid
        bid.refresh_from_db()
        for name, data in (("manifest.json", bid.manifest), ("manifest.sig", bid.signature)):
            row = filed[f"bids/{bid.public_id}/{name}"]
            assert row.sha256 == hashlib.sha256(bytes(data)).hexdigest()
            with get_object_store().open(row.object_key, row.version_id or None) as stream:
                assert stream.read() == bytes(data)
    dossier = build_dossier(case.tender.case, tmp_path / "dossier.tar")
    ca = signing.development_ca()[1].public_bytes(serialization.Encoding.PEM)
    assert verify_dossier(dossier.path, ca).ok


def test_a_store_that_is_down_at_the_opening_costs_no_record_and_the_next_run_files_them(
    opening_case: OpeningCase, monkeypatch: Any
) -> None:
    case = opening_case
    case.at_opening()
    store = get_object_store()
    real = store.put

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the object store is down")

    monkeypatch.setattr(store, "put", down)
    with pytest.raises(ConnectionError):
        file_bid_records(case.tender.pk)
    assert not [f for f in cases.objects_of(case.tender.case) if f.name.endswith("manifest.json")]
    monkeypatch.setattr(store, "put", real)
    assert file_bid_records(case.tender.pk) >= 2 * len(case.entries)
