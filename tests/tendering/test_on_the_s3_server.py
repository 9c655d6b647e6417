"""The tendering flow with the platform's object store on the session's real S3 server
(Ceph RGW here, MinIO when S3_ENDPOINT is set), not only on the filesystem store."""

import io
import secrets

import pytest

from archive.storage import ObjectLocked, get_object_store, reset_object_store_cache
from tendering.services import documents, tenders
from tests.fixtures.personas import PDF_BYTES, tender_input
from tests.fixtures.s3 import worm_enforced

pytestmark = pytest.mark.s3


@pytest.fixture
def s3_settings(s3_server, settings):
    settings.S3_ENDPOINT = s3_server.endpoint
    settings.S3_ACCESS_KEY = s3_server.access_key
    settings.S3_SECRET_KEY = s3_server.secret_key
    settings.S3_SECURE = s3_server.secure
    settings.S3_REGION = s3_server.region
    settings.S3_BUCKET = f"etender-flow-{secrets.token_hex(6)}"
    reset_object_store_cache()
    yield s3_server
    reset_object_store_cache()


def test_a_published_document_lives_on_the_s3_server_and_is_locked_there(
    personas, frozen_clock, s3_settings, django_capture_on_commit_callbacks
):
    from archive.storage import MinioObjectStore

    assert isinstance(get_object_store(), MinioObjectStore)
    tender = tenders.create_draft(personas.tenderer, tender_input(frozen_clock(), personas.custodians))
    document = documents.add_document(personas.tenderer, tender, "招标文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
    assert document.version_id
    with django_capture_on_commit_callbacks(execute=True):
        tenders.publish(personas.tenderer, tender)
    with documents.open_document(document) as stream:
        assert stream.read() == PDF_BYTES
    if not worm_enforced(s3_settings):
        pytest.skip("moto does not enforce object lock; WORM proved on Ceph RGW/MinIO only")
    info = get_object_store().stat(document.object_key, document.version_id)
    assert str(info.retention_mode).upper().endswith("GOVERNANCE")
    with pytest.raises(ObjectLocked):
        get_object_store().delete(document.object_key, document.version_id)


def test_a_dossier_filed_on_the_s3_server_is_locked_there_and_verifies_once_downloaded(
    personas, frozen_clock, s3_settings, django_capture_on_commit_callbacks, tmp_path
):
    import datetime as dt

    from cryptography.hazmat.primitives import serialization

    from archive import signing
    from archive.dossier import file_dossier
    from archive.storage import Retention, RetentionMode
    from archive.verify.dossier import verify_dossier

    tender = tenders.create_draft(personas.tenderer, tender_input(frozen_clock(), personas.custodians))
    documents.add_document(personas.tenderer, tender, "招标文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
    with django_capture_on_commit_callbacks(execute=True):
        tenders.publish(personas.tenderer, tender)
    # The server judges the date by its own clock (the frozen one is in the past).
    retention = Retention(RetentionMode.GOVERNANCE, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    dossier, stored = file_dossier(tender.case, retention)  # one part: the store applies the lock after the put
    store = get_object_store()
    with store.open(stored.key, stored.version_id) as stream:
        (tmp_path / "dossier.tar").write_bytes(stream.read())
    ca = signing.development_ca()[1].public_bytes(serialization.Encoding.PEM)
    assert (tmp_path / "dossier.tar").stat().st_size == dossier.size
    assert verify_dossier(tmp_path / "dossier.tar", ca).ok
    if not worm_enforced(s3_settings):
        pytest.skip("moto does not enforce object lock; WORM proved on Ceph RGW/MinIO only")
    assert str(store.stat(stored.key, stored.version_id).retention_mode).upper().endswith("GOVERNANCE")
    with pytest.raises(ObjectLocked):
        store.delete(stored.key, stored.version_id)
    # Writing the key again makes a new version; the locked one is still there, byte for byte.
    store.put(stored.key, io.BytesIO(b"overwritten"), length=11)
    with store.open(stored.key, stored.version_id) as stream:
        assert stream.read() == (tmp_path / "dossier.tar").read_bytes()
