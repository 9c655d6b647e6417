"""Uploads made part by part: any order, resumable after an interruption, abortable without trace."""

from __future__ import annotations

import hashlib
import io

import pytest

from archive.storage import (
    MIN_PART_SIZE,
    FilesystemObjectStore,
    InvalidPart,
    MinioObjectStore,
    ObjectNotFound,
    ObjectStore,
    UploadNotFound,
)
from tests.fixtures.s3 import S3Server

from .conftest import GeneratedStream

PART_1 = b"1" * MIN_PART_SIZE
PART_2 = b"2" * MIN_PART_SIZE
PART_3 = b"the last part may be small"


def _reopened(store: ObjectStore, request: pytest.FixtureRequest) -> ObjectStore:
    """A new store object on the same data, as after a restart of the process."""
    if isinstance(store, FilesystemObjectStore):
        return FilesystemObjectStore(store.root)
    assert isinstance(store, MinioObjectStore)
    server: S3Server = request.getfixturevalue("s3_server")
    return server.store(store.bucket)


def test_parts_uploaded_out_of_order_are_assembled_in_part_number_order(object_store: ObjectStore) -> None:
    key = "bids/T-1/bidder-7.sealed"
    upload_id = object_store.start_multipart(key, "application/x-etender-sealed-bid", metadata={"bidder": "7"})
    p3 = object_store.upload_part(key, upload_id, 3, io.BytesIO(PART_3), len(PART_3))
    p1 = object_store.upload_part(key, upload_id, 1, PART_1, len(PART_1))
    p2 = object_store.upload_part(key, upload_id, 2, io.BytesIO(PART_2), len(PART_2))
    assert (p1.size, p2.size, p3.size) == (len(PART_1), len(PART_2), len(PART_3))
    assert p1.etag == hashlib.md5(PART_1, usedforsecurity=False).hexdigest()
    stored = object_store.complete_multipart(key, upload_id, [p3, p1, p2])
    whole = PART_1 + PART_2 + PART_3
    assert stored.size == len(whole)
    assert stored.sha256 in (None, hashlib.sha256(whole).hexdigest())
    digest = hashlib.sha256()
    for chunk in object_store.iter_chunks(key, stored.version_id):
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(whole).hexdigest()
    info = object_store.stat(key)
    assert info.version_id == stored.version_id
    assert info.content_type == "application/x-etender-sealed-bid"
    assert info.metadata == {"bidder": "7"}


def test_an_interrupted_upload_is_resumed_from_the_parts_listed(
    object_store: ObjectStore, request: pytest.FixtureRequest
) -> None:
    key = "bids/T-1/bidder-8.sealed"
    upload_id = object_store.start_multipart(key)
    object_store.upload_part(key, upload_id, 1, PART_1, len(PART_1))
    object_store.upload_part(key, upload_id, 2, PART_2, len(PART_2))

    resumed = _reopened(object_store, request)  # the browser comes back after a crash
    listed = resumed.list_parts(key, upload_id)
    assert [(p.part_number, p.size) for p in listed] == [(1, len(PART_1)), (2, len(PART_2))]
    assert listed[0].etag == hashlib.md5(PART_1, usedforsecurity=False).hexdigest()
    last = resumed.upload_part(key, upload_id, 3, PART_3, len(PART_3))
    stored = resumed.complete_multipart(key, upload_id, [*listed, last])
    assert stored.size == len(PART_1) + len(PART_2) + len(PART_3)
    with pytest.raises(UploadNotFound):
        resumed.list_parts(key, upload_id)


def test_a_part_uploaded_again_replaces_the_earlier_one(object_store: ObjectStore) -> None:
    key = "bids/T-1/bidder-9.sealed"
    upload_id = object_store.start_multipart(key)
    object_store.upload_part(key, upload_id, 1, b"wrong", 5)
    part = object_store.upload_part(key, upload_id, 1, b"right", 5)
    assert object_store.list_parts(key, upload_id) == [part]
    object_store.complete_multipart(key, upload_id, [part])
    with object_store.open(key) as f:
        assert f.read() == b"right"


def test_an_aborted_upload_leaves_nothing_behind(object_store: ObjectStore) -> None:
    key = "bids/T-1/withdrawn.sealed"
    upload_id = object_store.start_multipart(key)
    object_store.upload_part(key, upload_id, 1, PART_1, len(PART_1))
    object_store.abort_multipart(key, upload_id)
    with pytest.raises(UploadNotFound):
        object_store.list_parts(key, upload_id)
    with pytest.raises(UploadNotFound):
        object_store.abort_multipart(key, upload_id)
    with pytest.raises(ObjectNotFound):
        object_store.stat(key)
    assert object_store.list_versions("bids/T-1/withdrawn") == []
    if isinstance(object_store, FilesystemObjectStore):
        assert list((object_store.root / "uploads").iterdir()) == []


def test_a_part_cannot_be_added_to_an_aborted_upload(object_store: ObjectStore, request: pytest.FixtureRequest) -> None:
    if isinstance(object_store, MinioObjectStore) and request.getfixturevalue("s3_server").kind == "moto":
        pytest.skip("moto answers HTTP 500 (KeyError) to a part for an unknown upload id, retried by the client")
    key = "bids/T-1/late.sealed"
    upload_id = object_store.start_multipart(key)
    object_store.abort_multipart(key, upload_id)
    with pytest.raises(UploadNotFound):
        object_store.upload_part(key, upload_id, 1, b"late", 4)


def test_completing_with_a_small_part_before_the_last_is_refused(object_store: ObjectStore) -> None:
    key = "bids/T-1/small.sealed"
    upload_id = object_store.start_multipart(key)
    p1 = object_store.upload_part(key, upload_id, 1, b"tiny", 4)
    p2 = object_store.upload_part(key, upload_id, 2, b"tiny", 4)
    with pytest.raises(InvalidPart):
        object_store.complete_multipart(key, upload_id, [p1, p2])
    assert [p.part_number for p in object_store.list_parts(key, upload_id)] == [1, 2]
    object_store.abort_multipart(key, upload_id)


def test_completing_with_a_wrong_etag_is_refused(object_store: ObjectStore) -> None:
    key = "bids/T-1/tampered.sealed"
    upload_id = object_store.start_multipart(key)
    part = object_store.upload_part(key, upload_id, 1, b"data", 4)
    with pytest.raises(InvalidPart):
        object_store.complete_multipart(key, upload_id, [type(part)(1, "0" * 32, 4)])
    object_store.abort_multipart(key, upload_id)


def test_part_numbers_and_lengths_are_checked(object_store: ObjectStore) -> None:
    key = "bids/T-1/checked.sealed"
    upload_id = object_store.start_multipart(key)
    for number in (0, 10_001):
        with pytest.raises(ValueError, match="part number"):
            object_store.upload_part(key, upload_id, number, b"x", 1)
    with pytest.raises(ValueError):
        object_store.upload_part(key, upload_id, 1, b"short", 10)
    object_store.abort_multipart(key, upload_id)


def test_a_part_comes_back_with_the_sha256_of_its_bytes(object_store: ObjectStore) -> None:
    key = "bids/T-1/hashed.sealed"
    upload_id = object_store.start_multipart(key)
    data = bytes(range(256)) * 4096 + b"tail"
    stream = GeneratedStream(len(data))
    # A stream offering only read(): the store hashes it block by block, never asking for it whole.
    part = object_store.upload_part(key, upload_id, 1, stream, stream.size)
    assert part.sha256 == stream.sha256()
    assert 0 < stream.largest_read <= 1024 * 1024
    again = object_store.upload_part(key, upload_id, 2, io.BytesIO(data), len(data))
    assert again.sha256 == hashlib.sha256(data).hexdigest()
    object_store.abort_multipart(key, upload_id)


def test_the_s3_client_does_not_hash_a_part_a_second_time(s3_store: MinioObjectStore, monkeypatch) -> None:
    import minio.api

    calls: list[int] = []
    real = minio.api.sha256_hash
    monkeypatch.setattr(minio.api, "sha256_hash", lambda body: calls.append(len(body or b"")) or real(body))
    key = "bids/T-1/once.sealed"
    upload_id = s3_store.start_multipart(key)
    part = s3_store.upload_part(key, upload_id, 1, io.BytesIO(PART_1), len(PART_1))
    assert part.sha256 == hashlib.sha256(PART_1).hexdigest()
    assert len(PART_1) not in calls  # the part's bytes went through SHA-256 once, in the store's own reader
    stored = s3_store.complete_multipart(key, upload_id, [part])
    with s3_store.open(key, stored.version_id) as f:
        assert hashlib.sha256(f.read()).hexdigest() == part.sha256


def test_the_s3_server_refuses_a_part_whose_bytes_are_not_the_signed_sha256(s3_store: MinioObjectStore) -> None:
    """The digest the store signs is checked by the server: bytes changed on the way are not stored."""
    from minio.error import S3Error

    key = "bids/T-1/mismatch.sealed"
    upload_id = s3_store.start_multipart(key)
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    with pytest.raises(S3Error) as exc:
        s3_store.client._upload_part(s3_store.bucket, key, PART_3, {"x-amz-content-sha256": wrong}, upload_id, 1)
    assert "SHA256" in (exc.value.code or "").upper() or exc.value.code == "BadDigest"
    assert s3_store.list_parts(key, upload_id) == []
    s3_store.abort_multipart(key, upload_id)
