"""Every put is a new version; delete without a version id adds a delete marker, as on S3."""

from __future__ import annotations

import pytest

from archive.storage import ObjectNotFound, ObjectStore


def test_two_puts_make_two_versions_both_readable_by_version_id(object_store: ObjectStore) -> None:
    first = object_store.put("doc/notice.pdf", b"version one")
    second = object_store.put("doc/notice.pdf", b"version two")
    assert first.version_id != second.version_id
    with object_store.open("doc/notice.pdf") as f:
        assert f.read() == b"version two"
    with object_store.open("doc/notice.pdf", first.version_id) as f:
        assert f.read() == b"version one"
    with object_store.open("doc/notice.pdf", second.version_id) as f:
        assert f.read() == b"version two"
    assert object_store.stat("doc/notice.pdf", first.version_id).size == len(b"version one")
    versions = object_store.list_versions("doc/")
    assert [(v.version_id, v.is_latest, v.is_delete_marker) for v in versions] == [
        (second.version_id, True, False),
        (first.version_id, False, False),
    ]


def test_deleting_without_a_version_adds_a_delete_marker_and_keeps_the_versions(object_store: ObjectStore) -> None:
    stored = object_store.put("doc/amendment.pdf", b"amendment")
    marker = object_store.delete("doc/amendment.pdf")
    assert marker and marker != stored.version_id
    with pytest.raises(ObjectNotFound):
        object_store.stat("doc/amendment.pdf")
    with pytest.raises(ObjectNotFound), object_store.open("doc/amendment.pdf"):
        pass
    with object_store.open("doc/amendment.pdf", stored.version_id) as f:
        assert f.read() == b"amendment"
    versions = object_store.list_versions("doc/amendment.pdf")
    assert [(v.version_id, v.is_latest, v.is_delete_marker) for v in versions] == [
        (marker, True, True),
        (stored.version_id, False, False),
    ]


def test_removing_the_delete_marker_brings_the_object_back(object_store: ObjectStore) -> None:
    stored = object_store.put("doc/q.txt", b"question")
    marker = object_store.delete("doc/q.txt")
    object_store.delete("doc/q.txt", marker)
    assert object_store.stat("doc/q.txt").version_id == stored.version_id


def test_deleting_a_specific_unlocked_version_removes_only_that_version(object_store: ObjectStore) -> None:
    first = object_store.put("doc/draft.txt", b"one")
    second = object_store.put("doc/draft.txt", b"two")
    object_store.delete("doc/draft.txt", second.version_id)
    with pytest.raises(ObjectNotFound):
        object_store.stat("doc/draft.txt", second.version_id)
    with object_store.open("doc/draft.txt") as f:
        assert f.read() == b"one"
    assert [v.version_id for v in object_store.list_versions("doc/draft.txt")] == [first.version_id]


def test_deleting_a_version_that_does_not_exist_does_nothing_as_on_s3(object_store: ObjectStore) -> None:
    stored = object_store.put("doc/kept.txt", b"kept")
    object_store.delete("doc/kept.txt", "0" * 32)
    assert object_store.stat("doc/kept.txt").version_id == stored.version_id


def test_listing_versions_is_by_key_and_only_under_the_prefix(object_store: ObjectStore) -> None:
    object_store.put("case-2/b", b"x")
    object_store.put("case-1/b", b"x")
    object_store.put("case-1/a", b"x")
    object_store.put("case-10/a", b"x")
    assert [v.key for v in object_store.list_versions("case-1/")] == ["case-1/a", "case-1/b"]
    assert object_store.list_versions("nothing/") == []


def test_concurrent_puts_of_one_key_each_make_their_own_version(object_store: ObjectStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        stored = list(pool.map(lambda i: object_store.put("doc/busy.txt", f"writer {i}".encode()), range(16)))
    versions = object_store.list_versions("doc/busy.txt")
    assert sorted(v.version_id or "" for v in versions) == sorted(s.version_id for s in stored)
    for s in stored:
        with object_store.open(s.key, s.version_id) as f:
            assert f.read() == f"writer {stored.index(s)}".encode()
