"""Closing a case (tenders.file_case): the worker files its dossier, once, under the procedure type's retention."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from django.db import DatabaseError, connection, transaction
from django_tasks_db.models import DBTaskResult

from archive import signing
from archive.dossier import DOSSIER_FILED, dossiers_of
from archive.models import AppendOnlyError, LedgerEntry
from archive.storage import ObjectLocked, RetentionMode, get_object_store
from archive.storage.retention import add_years
from archive.verify.dossier import verify_dossier
from tendering.services import outcome, tenders
from tendering.services.after_commit import Work
from tendering.services.case_file import close_case

pytestmark = pytest.mark.django_db


def to_the_award(personas: Any, frozen_clock: Any, tender: Any) -> None:
    frozen_clock.set(tender.bid_deadline)
    tenders.close_opening(personas.tenderer, tender)
    with transaction.atomic():
        outcome.evaluation_reported(tender, None, {})
    tenders.publish_candidates(personas.tenderer, tender)
    tenders.award(personas.tenderer, tender)


def test_filing_the_case_queues_its_dossier_which_the_worker_files_once_under_retention(
    personas: Any,
    frozen_clock: Any,
    published_tender: Any,
    tmp_path: Path,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.DOSSIER_RETENTION_YEARS = {**settings.DOSSIER_RETENTION_YEARS, "open": 3}
    tender = published_tender
    to_the_award(personas, frozen_clock, tender)
    assert close_case(tender.pk) == "not filed yet"
    with django_capture_on_commit_callbacks(execute=True):
        tenders.file_case(personas.tenderer, tender)
    assert DBTaskResult.objects.filter(task_path=Work.FILE_DOSSIER.value).count() == 1

    assert close_case(tender.pk) == "filed"
    assert close_case(tender.pk) == "already filed"  # a retried task files nothing more
    (filed,) = dossiers_of(tender.case)
    tender.refresh_from_db()
    assert (filed.retention_mode, filed.retain_until) == (RetentionMode.GOVERNANCE, add_years(tender.filed_at, 3))
    entry = LedgerEntry.objects.get(seq=filed.ledger_seq)
    assert entry.action == DOSSIER_FILED and json.loads(entry.data)["sha256"] == filed.sha256

    store = get_object_store()
    info = store.stat(filed.object_key, filed.version_id or None)
    assert info.retention_mode == RetentionMode.GOVERNANCE and info.retain_until is not None
    with pytest.raises(ObjectLocked):
        store.delete(filed.object_key, filed.version_id or None)
    with store.open(filed.object_key, filed.version_id or None) as stream:
        (tmp_path / "dossier.tar").write_bytes(stream.read())
    ca = signing.development_ca()[1].public_bytes(serialization.Encoding.PEM)
    result = verify_dossier(tmp_path / "dossier.tar", ca)
    assert result.ok and result.objects == filed.objects_count == 1, result.reason

    filed.sha256 = "0" * 64
    with pytest.raises(AppendOnlyError):
        filed.save()
    if connection.vendor == "postgresql":  # below the ORM, the database refuses too (migration 0006)
        for statement in ("UPDATE archive_casedossier SET size = 1", "DELETE FROM archive_casedossier"):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
                c.execute(statement)
    assert dossiers_of(tender.case).get().sha256 == json.loads(entry.data)["sha256"]


def test_a_store_that_cannot_keep_a_filed_object_stops_the_dossier_until_it_can(
    personas: Any, frozen_clock: Any, published_tender: Any, monkeypatch: Any
) -> None:
    from archive import cases

    tender = published_tender
    to_the_award(personas, frozen_clock, tender)
    tenders.file_case(personas.tenderer, tender)
    store = get_object_store()
    real = store.stat

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the object store is down")

    monkeypatch.setattr(store, "stat", down)
    from archive.dossier import DossierError

    with pytest.raises(DossierError, match="could not keep"):
        close_case(tender.pk)
    assert not dossiers_of(tender.case).exists()
    monkeypatch.setattr(store, "stat", real)
    assert cases.keep_case(tender.case) == []
    assert close_case(tender.pk) == "filed"
