"""Keys and metadata are checked before anything is stored."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.storage import ObjectStore, RetentionMode, validate_key
from archive.storage.base import decode_metadata_value, encode_metadata_value

INVALID_KEYS = [
    "",
    "/absolute",
    "a/../b",
    "..",
    "../escape",
    "a/./b",
    "a//b",
    "trailing/",
    "nul\x00byte",
    "new\nline",
    "x" * 1025,
    "中" * 342,  # 1026 bytes of UTF-8
]


@pytest.mark.parametrize("key", INVALID_KEYS, ids=repr)
def test_an_invalid_key_is_refused_with_value_error_by_every_operation(object_store: ObjectStore, key: str) -> None:
    until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    operations = [
        lambda: object_store.put(key, b"x"),
        lambda: object_store.stat(key),
        lambda: object_store.open(key).__enter__(),
        lambda: object_store.delete(key),
        lambda: object_store.set_retention(key, None, RetentionMode.GOVERNANCE, until),
        lambda: object_store.set_legal_hold(key, None, True),
        lambda: object_store.presigned_get_url(key),
        lambda: object_store.start_multipart(key),
    ]
    for operation in operations:
        with pytest.raises(ValueError):
            operation()


def test_the_longest_valid_key_is_accepted(object_store: ObjectStore) -> None:
    key = "k/" + "x" * 1022
    object_store.put(key, b"long")
    assert object_store.stat(key).size == 4


@pytest.mark.parametrize("name", ["Upper", "with space", "under_score", "", "-lead", "点"])
def test_metadata_names_must_be_lowercase_ascii(object_store: ObjectStore, name: str) -> None:
    with pytest.raises(ValueError, match="metadata name"):
        object_store.put("meta/x", b"x", metadata={name: "v"})


def test_oversized_metadata_is_refused(object_store: ObjectStore) -> None:
    with pytest.raises(ValueError, match="metadata is larger"):
        object_store.put("meta/y", b"x", metadata={"big": "中" * 300})


@given(st.text(max_size=200))
def test_any_metadata_value_survives_the_header_encoding(value: str) -> None:
    encoded = encode_metadata_value(value)
    assert encoded.isascii() and encoded == encoded.strip()
    assert decode_metadata_value(encoded) == value


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40))
def test_keys_made_of_valid_segments_are_accepted(segment: str) -> None:
    if segment in (".", "..") or "/" in segment:
        return
    assert validate_key(f"case/{segment}") == f"case/{segment}"
