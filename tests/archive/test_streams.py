"""The stream wrappers, written once (archive/streams.py): hashing, counting and limiting a stream as it
passes, and reading one to its end with one buffer; the services and the format read through them."""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import pytest

from archive.streams import CountingReader, LimitExceeded, drain, sha256_of

DATA = os.urandom(3 * 1024 * 1024 + 17)


class _ReadOnly:
    """A source with read() and no readinto() (as some request bodies are)."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)


@pytest.mark.parametrize("source", [lambda: io.BytesIO(DATA), lambda: _ReadOnly(DATA)])
def test_every_byte_is_hashed_once_and_counted_whether_read_or_read_into(source: Any) -> None:
    sha, md5, told = hashlib.sha256(), hashlib.md5(usedforsecurity=False), []
    reader = CountingReader(source(), sha, md5, on_read=told.append)
    first = reader.read(1000)
    buffer = bytearray(65536)
    got = reader.readinto(buffer)
    rest = reader.read()
    assert first + bytes(buffer[:got]) + rest == DATA
    assert reader.count == len(DATA) == sum(told)
    assert sha.hexdigest() == hashlib.sha256(DATA).hexdigest()
    assert md5.hexdigest() == hashlib.md5(DATA, usedforsecurity=False).hexdigest()


def test_a_reader_past_its_limit_refuses_with_the_callers_error_and_hashes_nothing_more() -> None:
    sha = hashlib.sha256()
    reader = CountingReader(io.BytesIO(b"x" * 10), sha, limit=8, on_limit=lambda: OverflowError("too big"))
    assert reader.read(8) == b"x" * 8
    with pytest.raises(OverflowError, match="too big"):
        reader.read(8)
    assert sha.hexdigest() == hashlib.sha256(b"x" * 8).hexdigest()
    with pytest.raises(LimitExceeded, match="more than 3 bytes"):
        drain(CountingReader(io.BytesIO(b"abcd"), limit=3))


def test_a_stream_read_to_its_end_gives_its_hash_size_and_head() -> None:
    found = sha256_of(io.BytesIO(DATA), head=40, buffer_size=4096)
    assert (found.sha256, found.size, found.head) == (hashlib.sha256(DATA).hexdigest(), len(DATA), DATA[:40])
    assert sha256_of(_ReadOnly(b"")).size == 0
    assert drain(_ReadOnly(DATA), 1000) == len(DATA)


def test_the_format_and_the_services_hash_through_the_one_wrapper() -> None:
    from pathlib import Path

    from tendering.sealing.bid import ciphertext_sha256

    assert ciphertext_sha256(io.BytesIO(DATA)) == (hashlib.sha256(DATA).hexdigest(), len(DATA))
    root = Path(__file__).resolve().parents[2]
    for module in (
        "tendering/services/sealed_format.py",
        "tendering/services/documents.py",
        "tendering/sealing/bid.py",
    ):
        text = (root / module).read_text()
        assert "from archive.streams import" in text
        assert "class _LimitedReader" not in text and ".readinto(buffer)" not in text
