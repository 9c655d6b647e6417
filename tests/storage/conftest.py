"""Helpers of the object-store contract suite (fixtures come from tests/fixtures/s3.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

import pytest

from archive.storage import FilesystemObjectStore, ObjectStore
from config import clock

#: Retentions in WORM tests: long enough for any test, short enough for an external server's leftovers.
LOCK_SECONDS = 120


class GeneratedStream:
    """``size`` deterministic pseudo-random bytes, produced as they are read (never held whole).

    Only ``read`` is offered, like a network body. ``largest_read`` records the
    biggest request made, ``size=None`` hides the length from the reader.
    """

    BLOCK = 64 * 1024

    def __init__(self, size: int, seed: str = "etender") -> None:
        self.size = size
        self.seed = seed
        self.position = 0
        self.largest_read = 0

    def _block(self, index: int) -> bytes:
        return hashlib.shake_256(f"{self.seed}:{index}".encode()).digest(self.BLOCK)

    def read(self, n: int = -1, /) -> bytes:
        if n is None or n < 0:
            raise AssertionError("the store tried to read the whole stream at once")
        self.largest_read = max(self.largest_read, n)
        n = min(n, self.size - self.position)
        out = bytearray()
        while len(out) < n:
            index, offset = divmod(self.position, self.BLOCK)
            take = min(n - len(out), self.BLOCK - offset)
            out += self._block(index)[offset : offset + take]
            self.position += take
        return bytes(out)

    def sha256(self) -> str:
        """The SHA-256 of the whole content, computed independently of any reader."""
        digest = hashlib.sha256()
        full, rest = divmod(self.size, self.BLOCK)
        for index in range(full):
            digest.update(self._block(index))
        if rest:
            digest.update(self._block(full)[:rest])
        return digest.hexdigest()


def store_now(store: ObjectStore) -> dt.datetime:
    """The time the store's retention decisions use: the platform clock, or the S3 server's (real) time."""
    if isinstance(store, FilesystemObjectStore):
        return clock.now()
    return dt.datetime.now(dt.UTC)


@pytest.fixture
def later(object_store: ObjectStore) -> Callable[..., dt.datetime]:
    """``later(seconds=…)``: a moment that far after the store's now (default LOCK_SECONDS)."""

    def at(**delta: float) -> dt.datetime:
        return store_now(object_store) + (dt.timedelta(**delta) if delta else dt.timedelta(seconds=LOCK_SECONDS))

    return at
