"""A range of a version is read without the bytes before it: how the evaluation reads a file out of a bid."""

from __future__ import annotations

import os

import pytest

from archive.storage import ObjectNotFound, ObjectStore
from archive.storage.base import ObjectStore as BaseStore


def test_a_range_of_a_version_comes_back_byte_for_byte_and_ends_where_the_object_ends(
    object_store: ObjectStore,
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 77)
    first = object_store.put("bids/b1/sealed-bid.bin", data)
    object_store.put("bids/b1/sealed-bid.bin", b"a later version")
    for offset, length in [(0, 1), (0, len(data)), (1_048_576, 1_048_576), (len(data) - 5, 5), (12_345, 3), (7, 0)]:
        with object_store.open_range("bids/b1/sealed-bid.bin", first.version_id, offset, length) as stream:
            assert stream.read() == data[offset : offset + length], (offset, length)
    # Past the end: what is there, and nothing from at or beyond the end.
    with object_store.open_range("bids/b1/sealed-bid.bin", first.version_id, len(data) - 3, 100) as stream:
        assert stream.read() == data[-3:]
    with object_store.open_range("bids/b1/sealed-bid.bin", first.version_id, len(data), 10) as stream:
        assert stream.read() == b""
    with object_store.open_range("bids/b1/sealed-bid.bin", None, 2, 5) as stream:
        assert stream.read() == b"later"


def test_a_range_of_a_missing_version_or_a_negative_range_is_refused(object_store: ObjectStore) -> None:
    object_store.put("bids/b2/sealed-bid.bin", b"0123456789")
    with pytest.raises(ObjectNotFound), object_store.open_range("bids/none", None, 0, 5) as stream:
        stream.read()
    with pytest.raises(ObjectNotFound), object_store.open_range("bids/none", None, 0, 0) as stream:
        stream.read()
    for offset, length in [(-1, 5), (0, -1), (True, 1)]:
        with pytest.raises(ValueError), object_store.open_range("bids/b2/sealed-bid.bin", None, offset, length):
            pass


def test_the_interfaces_default_range_read_skips_to_the_range(object_store: ObjectStore) -> None:
    data = os.urandom(2 * 1024 * 1024 + 3)
    stored = object_store.put("bids/b3/sealed-bid.bin", data)
    with BaseStore.open_range(object_store, stored.key, stored.version_id, 1_500_000, 600_000) as stream:
        assert stream.read() == data[1_500_000:2_100_000]
