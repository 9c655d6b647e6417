"""The case file (archive/cases.py): records filed as they happen, with the ledger, once, and kept."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from archive import cases
from archive.models import AppendOnlyError, CaseObject, LedgerEntry, LedgerHead
from archive.storage import ObjectLocked, get_object_store
from tendering.services import amendments, documents, tenders
from tests.fixtures.personas import PDF_BYTES

pytestmark = pytest.mark.django_db


def head_seq() -> int:
    head = LedgerHead.objects.filter(pk=1).first()
    return head.seq if head is not None else 0


def test_publication_files_each_current_document_once_with_its_hash_and_a_ledger_entry_and_keeps_it(
    personas: Any, draft_tender: Any, django_capture_on_commit_callbacks: Any
) -> None:
    withdrawn = documents.add_document(personas.tenderer, draft_tender, "旧版.pdf", io.BytesIO(PDF_BYTES), None)
    documents.withdraw_draft_document(personas.tenderer, withdrawn)
    assert not cases.objects_of(draft_tender.case).exists()  # a draft's documents are not records yet

    with django_capture_on_commit_callbacks(execute=True):
        tenders.publish(personas.tenderer, draft_tender)

    document = draft_tender.documents.get(withdrawn_at__isnull=True)
    (filed,) = cases.objects_of(draft_tender.case)
    assert filed.name == f"tender/documents/{document.public_id}/招标文件.pdf"
    with get_object_store().open(filed.object_key, filed.version_id or None) as stream:
        stored = stream.read()
    assert (filed.sha256, filed.size, filed.content_type) == (
        hashlib.sha256(stored).hexdigest(),
        len(PDF_BYTES),
        "application/pdf",
    )
    entry = LedgerEntry.objects.get(seq=filed.ledger_seq)
    assert (entry.case, entry.action, entry.actor) == (draft_tender.case, cases.FILED, personas.tenderer)
    assert json.loads(entry.data) == {
        "name": filed.name,
        "object_key": filed.object_key,
        "version_id": filed.version_id,
        "sha256": filed.sha256,
        "size": filed.size,
        "content_type": "application/pdf",
        "platform_signed": False,
    }
    info = get_object_store().stat(filed.object_key, filed.version_id or None)
    assert info.retain_until is not None and info.retain_until >= cases.retain_until(filed)
    with pytest.raises(ObjectLocked):
        get_object_store().delete(filed.object_key, filed.version_id or None)


def test_an_amendments_document_is_filed_when_the_amendment_is_issued(
    personas: Any, published_tender: Any, django_capture_on_commit_callbacks: Any
) -> None:
    before = {f.name for f in cases.objects_of(published_tender.case)}
    with django_capture_on_commit_callbacks(execute=True):
        amendment = amendments.issue_amendment(
            personas.tenderer, published_tender, "补充图纸。", [("补充: 图纸?.pdf", io.BytesIO(PDF_BYTES), None)]
        )
    document = published_tender.documents.get(amendment=amendment)
    added = {f.name for f in cases.objects_of(published_tender.case)} - before
    # The document keeps its own name; what a file system would refuse becomes "_" in the case's name.
    assert document.name == "补充: 图纸?.pdf"
    assert added == {f"tender/documents/{document.public_id}/补充_ 图纸_.pdf"}


def filing(case: str = "tender:901", name: str = "opening/opening-record.pdf", **changes: Any) -> dict[str, Any]:
    values = {
        "object_key": "tenders/x/opening/opening-record.pdf",
        "version_id": "v1",
        "sha256": hashlib.sha256(b"record").hexdigest(),
        "size": 6,
        "content_type": "application/pdf",
    }
    values.update(changes)
    return {"case": case, "name": name, **values}


def test_a_name_is_filed_once_the_same_filing_again_is_the_same_row_and_another_version_is_refused(
    object_store_dir: Any,
) -> None:
    with transaction.atomic():
        first = cases.file_object(**filing())
    seq = head_seq()
    with transaction.atomic():
        assert cases.file_object(**filing()) == first  # a retried worker
    assert head_seq() == seq

    for changed in ({"sha256": hashlib.sha256(b"other").hexdigest()}, {"version_id": "v2"}, {"size": 7}):
        with pytest.raises(ValueError, match="never replaced"), transaction.atomic():
            cases.file_object(**filing(**changed))
    assert list(CaseObject.objects.all()) == [first]
    assert head_seq() == seq
    # Another case may hold the same name.
    with transaction.atomic():
        assert cases.file_object(**filing(case="tender:902")).case == "tender:902"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "1 to"),
        ({"name": "x" * 401}, "1 to"),
        ({"name": "/opening/record.pdf"}, "empty"),
        ({"name": "opening//record.pdf"}, "empty"),
        ({"name": "opening/../record.pdf"}, "dot"),
        ({"name": "opening/./record.pdf"}, "dot"),
        ({"name": " opening/record.pdf"}, "padded"),
        ({"name": "opening\\record.pdf"}, "refuse"),
        ({"name": "opening/record\x00.pdf"}, "refuse"),
        ({"name": "opening/re:cord.pdf"}, "refuse"),
        ({"name": "o/" + "x" * 201}, "refuse"),
        ({"sha256": "ABC"}, "sha256"),
        ({"sha256": "g" * 64}, "sha256"),
        ({"size": -1}, "size"),
        ({"size": "6"}, "size"),
        ({"object_key": ""}, "object key"),
    ],
)
def test_a_malformed_filing_is_refused_and_nothing_is_written(
    object_store_dir: Any, changes: dict[str, Any], message: str
) -> None:
    seq = head_seq()
    with pytest.raises(ValueError, match=message), transaction.atomic():
        cases.file_object(**{**filing(), **changes})
    assert not CaseObject.objects.exists()
    assert head_seq() == seq


@pytest.mark.django_db(transaction=True)
def test_filing_outside_the_transaction_of_the_change_is_refused(object_store_dir: Any) -> None:
    with pytest.raises(RuntimeError, match="inside the transaction"):
        cases.file_object(**filing())
    assert not CaseObject.objects.exists()


@pytest.mark.parametrize(
    ("text", "segment"),
    [
        ("招标文件.pdf", "招标文件.pdf"),
        ("a/b\\c:d.pdf", "a_b_c_d.pdf"),
        ("..", "file"),
        ("   ", "file"),
        ("长" * 300 + ".pdf", "长" * 196 + ".pdf"),
    ],
)
def test_a_documents_own_name_becomes_one_segment_the_case_accepts(text: str, segment: str) -> None:
    made = cases.safe_segment(text)
    assert made == segment and len(made) <= cases.SEGMENT_MAX_LENGTH
    assert cases.check_name(f"tender/documents/x/{made}")


def test_a_filed_row_is_never_changed_or_deleted(object_store_dir: Any) -> None:
    with transaction.atomic():
        filed = cases.file_object(**filing())
    filed.sha256 = "0" * 64
    with pytest.raises(AppendOnlyError):
        filed.save()
    with pytest.raises(AppendOnlyError):
        filed.delete()
    with pytest.raises(AppendOnlyError):
        CaseObject.objects.filter(pk=filed.pk).update(size=1)
    with pytest.raises(AppendOnlyError):
        CaseObject.objects.all().delete()
    if connection.vendor == "postgresql":  # below the ORM, the database refuses too
        for statement in (
            "UPDATE archive_caseobject SET sha256 = repeat('0', 64)",
            "DELETE FROM archive_caseobject",
        ):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
                c.execute(statement)
    filed.refresh_from_db()
    assert filed.sha256 == hashlib.sha256(b"record").hexdigest() and CaseObject.objects.count() == 1


def test_a_store_that_refuses_retention_at_commit_keeps_the_filing_and_keep_case_applies_it_later(
    personas: Any, draft_tender: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    store = get_object_store()
    real = store.set_retention

    def down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the object store is down")

    monkeypatch.setattr(store, "set_retention", down)
    with django_capture_on_commit_callbacks(execute=True):
        tenders.publish(personas.tenderer, draft_tender)  # the publication does not fail with the store
    (filed,) = cases.objects_of(draft_tender.case)
    assert store.stat(filed.object_key, filed.version_id or None).retain_until is None
    assert cases.keep_case(draft_tender.case) == [filed.name]  # still down: named, nothing lost

    monkeypatch.setattr(store, "set_retention", real)
    assert cases.keep_case(draft_tender.case) == []
    info = store.stat(filed.object_key, filed.version_id or None)
    assert info.retain_until is not None and info.retain_until >= cases.retain_until(filed)
    assert cases.keep(filed) is False  # kept already: nothing to set, and never shortened


def test_bytes_are_put_and_filed_once_and_other_bytes_under_the_same_name_are_refused(object_store_dir: Any) -> None:
    row, now = cases.file_bytes("tender:901", "bids/b1/manifest.json", b"{}", object_key="t/b1/m", content_type="x")
    assert now and row.sha256 == hashlib.sha256(b"{}").hexdigest()
    with get_object_store().open(row.object_key, row.version_id or None) as stream:
        assert stream.read() == b"{}"
    again, now = cases.file_bytes("tender:901", "bids/b1/manifest.json", b"{}", object_key="t/b1/m", content_type="x")
    assert (again, now) == (row, False)
    with pytest.raises(ValueError, match="other bytes"):
        cases.file_bytes("tender:901", "bids/b1/manifest.json", b"[]", object_key="t/b1/m", content_type="x")
    assert CaseObject.objects.count() == 1
    with pytest.raises(ValueError, match="segment"):
        cases.file_bytes("tender:901", "bids/../manifest.json", b"{}", object_key="t/b2/m", content_type="x")
    assert CaseObject.objects.count() == 1
