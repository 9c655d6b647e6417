"""Missing keys and versions raise ObjectNotFound everywhere."""

from __future__ import annotations

import datetime as dt

import pytest

from archive.storage import MinioObjectStore, ObjectNotFound, ObjectStore, RetentionMode

UNKNOWN_VERSION = "0" * 32


def test_a_missing_key_cannot_be_stat_or_opened(object_store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        object_store.stat("nowhere/x")
    with pytest.raises(ObjectNotFound), object_store.open("nowhere/x"):
        pass
    with pytest.raises(ObjectNotFound):
        list(object_store.iter_chunks("nowhere/x"))


def test_a_missing_key_cannot_be_locked(object_store: ObjectStore, request: pytest.FixtureRequest) -> None:
    if isinstance(object_store, MinioObjectStore) and request.getfixturevalue("s3_server").kind == "moto":
        pytest.skip("moto answers HTTP 500 (AttributeError) to a legal hold on a missing key")
    with pytest.raises(ObjectNotFound):
        object_store.set_legal_hold("nowhere/x", None, True)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    with pytest.raises(ObjectNotFound):
        object_store.set_retention("nowhere/x", None, RetentionMode.GOVERNANCE, until)


def test_a_missing_version_of_an_existing_key_is_not_found(object_store: ObjectStore) -> None:
    object_store.put("here/x", b"x")
    with pytest.raises(ObjectNotFound):
        object_store.stat("here/x", UNKNOWN_VERSION)
    with pytest.raises(ObjectNotFound), object_store.open("here/x", UNKNOWN_VERSION):
        pass


def test_a_delete_marker_read_by_its_version_id_is_not_found(object_store: ObjectStore) -> None:
    object_store.put("here/y", b"y")
    marker = object_store.delete("here/y")
    with pytest.raises(ObjectNotFound):
        object_store.stat("here/y", marker)
    with pytest.raises(ObjectNotFound), object_store.open("here/y", marker):
        pass
