import io

import pytest
from django.test import override_settings

from accounts.errors import InvalidInput, PermissionDenied, WrongPhase
from archive.storage import get_object_store
from tendering.models import DocumentDownload, TenderDocument
from tendering.services import documents
from tests.fixtures.personas import PDF_BYTES


def upload(user, tender, name, data):
    return documents.add_document(user, tender, name, io.BytesIO(data), len(data))


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.pdf", b"", "空"),
        ("script.exe", b"MZ\x90\x00", "不允许"),
        ("fake.pdf", b"PK\x03\x04not a pdf", "不符"),
        ("../../etc/passwd.pdf", b"", "空"),
    ],
)
def test_it_refuses_empty_unpermitted_or_disguised_documents(personas, draft_tender, name, data, message):
    before = TenderDocument.objects.count()
    with pytest.raises(InvalidInput, match=message):
        upload(personas.tenderer, draft_tender, name, data)
    assert TenderDocument.objects.count() == before


@override_settings(TENDER_DOCUMENT_MAX_BYTES=1024)
def test_it_refuses_an_oversized_document_even_when_the_size_is_not_declared(personas, draft_tender):
    big = PDF_BYTES + b"0" * 2048
    with pytest.raises(InvalidInput, match="过大"):
        upload(personas.tenderer, draft_tender, "big.pdf", big)
    with pytest.raises(InvalidInput, match="过大"):
        documents.add_document(personas.tenderer, draft_tender, "big.pdf", io.BytesIO(big), None)
    assert TenderDocument.objects.filter(name="big.pdf").count() == 0


def test_a_bidder_cannot_upload_to_someone_elses_tender(personas, draft_tender):
    with pytest.raises(PermissionDenied):
        upload(personas.bidder_a, draft_tender, "x.pdf", PDF_BYTES)
    assert draft_tender.documents.count() == 1


def test_a_document_is_stored_with_its_sha256_and_path_stripped_name(personas, draft_tender):
    import hashlib

    doc = upload(personas.tenderer, draft_tender, "C:\\docs\\工程量清单.pdf", PDF_BYTES)
    assert doc.name == "工程量清单.pdf"
    assert doc.sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    with documents.open_document(doc) as stream:
        assert stream.read() == PDF_BYTES
    assert get_object_store().stat(doc.object_key, doc.version_id or None).size == len(PDF_BYTES)


def test_a_draft_document_can_be_withdrawn_but_a_published_one_cannot(personas, draft_tender):
    extra = upload(personas.tenderer, draft_tender, "extra.pdf", PDF_BYTES)
    documents.withdraw_draft_document(personas.tenderer, extra)
    assert list(documents.visible_documents(personas.tenderer, draft_tender)) == [
        draft_tender.documents.get(name="招标文件.pdf")
    ]
    from tendering.services import tenders

    tenders.publish(personas.tenderer, draft_tender)
    with pytest.raises(WrongPhase):
        documents.withdraw_draft_document(personas.tenderer, draft_tender.documents.get(name="招标文件.pdf"))
    assert list(
        TenderDocument.objects.filter(tender=draft_tender, withdrawn_at__isnull=True).values_list("name", flat=True)
    ) == ["招标文件.pdf"]


def test_downloads_by_logged_in_users_are_recorded_and_anonymous_ones_are_not(personas, published_tender):
    from django.contrib.auth.models import AnonymousUser

    doc = published_tender.documents.get()
    assert documents.record_download(AnonymousUser(), doc) is None
    documents.record_download(personas.bidder_a, doc)
    download = DocumentDownload.objects.get()
    assert (download.user, download.organization) == (personas.bidder_a, personas.bidder_org_a)


def test_published_documents_are_kept_under_governance_retention(
    personas, draft_tender, django_capture_on_commit_callbacks
):
    from archive.storage import ObjectLocked
    from tendering.services import tenders

    with django_capture_on_commit_callbacks(execute=True):
        tenders.publish(personas.tenderer, draft_tender)
    doc = draft_tender.documents.get()
    info = get_object_store().stat(doc.object_key, doc.version_id or None)
    assert str(info.retention_mode).upper().endswith("GOVERNANCE")
    with pytest.raises(ObjectLocked):
        get_object_store().delete(doc.object_key, doc.version_id or None)
