"""What is put comes back byte for byte, with its SHA-256, type and metadata."""

from __future__ import annotations

import hashlib
import io

import pytest

from archive.storage import ObjectStore


def test_an_object_put_is_read_back_with_its_sha256_size_type_and_metadata(object_store: ObjectStore) -> None:
    data = b"sealed bid \x00\x01\x02" * 1000
    stored = object_store.put(
        "cases/T-2026-001/bids/b1.bin",
        io.BytesIO(data),
        length=len(data),
        content_type="application/x-etender-sealed-bid",
        metadata={"case": "T-2026-001", "title": "县道改造工程 第1标段"},
    )
    assert stored.key == "cases/T-2026-001/bids/b1.bin"
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert stored.version_id
    with object_store.open(stored.key) as f:
        assert f.read() == data
    info = object_store.stat(stored.key)
    assert info.version_id == stored.version_id
    assert info.size == len(data)
    assert info.content_type == "application/x-etender-sealed-bid"
    assert info.metadata == {"case": "T-2026-001", "title": "县道改造工程 第1标段"}
    assert info.retention_mode is None and info.retain_until is None and info.legal_hold is False
    assert info.etag == stored.etag == hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_bytes_and_streams_of_unknown_length_are_accepted(object_store: ObjectStore) -> None:
    from_bytes = object_store.put("a/bytes", b"hello")
    from_stream = object_store.put("a/stream", io.BytesIO(b"world"))
    assert (from_bytes.size, from_stream.size) == (5, 5)
    with object_store.open("a/bytes") as f1, object_store.open("a/stream") as f2:
        assert (f1.read(), f2.read()) == (b"hello", b"world")


def test_an_empty_object_round_trips(object_store: ObjectStore) -> None:
    stored = object_store.put("a/empty", b"")
    assert stored.size == 0
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    with object_store.open("a/empty") as f:
        assert f.read() == b""
    assert object_store.stat("a/empty").size == 0


def test_only_the_announced_length_is_read_from_a_longer_stream(object_store: ObjectStore) -> None:
    stored = object_store.put("a/prefix", io.BytesIO(b"0123456789"), length=4)
    assert stored.size == 4
    with object_store.open("a/prefix") as f:
        assert f.read() == b"0123"


def test_a_stream_shorter_than_its_announced_length_is_refused_and_stores_nothing(object_store: ObjectStore) -> None:
    with pytest.raises(ValueError, match="before the announced length"):
        object_store.put("a/short", io.BytesIO(b"abc"), length=10)
    assert object_store.list_versions("a/short") == []


def test_chunks_are_no_larger_than_asked_and_join_to_the_object(object_store: ObjectStore) -> None:
    data = bytes(range(256)) * 40
    object_store.put("a/chunks", data)
    chunks = list(object_store.iter_chunks("a/chunks", chunk_size=1000))
    assert b"".join(chunks) == data
    assert all(0 < len(c) <= 1000 for c in chunks)


def test_chinese_keys_and_filenames_are_stored_as_given(object_store: ObjectStore) -> None:
    key = "案卷/赣州市某县/投标文件 (第1标段).pdf"
    object_store.put(key, "内容".encode())
    assert [v.key for v in object_store.list_versions("案卷/")] == [key]
    with object_store.open(key) as f:
        assert f.read().decode() == "内容"
