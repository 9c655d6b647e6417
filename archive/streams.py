"""Stream wrappers, written once: a reader that hashes, counts and limits what passes through it, and the
reading of a stream to its end with one reused buffer.

Framework-free (like ``archive.canonical``): the object store, the services, the sealed-bid format and
the bidder's client share it. Every byte is hashed once, as it passes; no copy is kept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from collections.abc import Callable
from typing import Any, Protocol

MiB = 1024 * 1024


class Digest(Protocol):
    def update(self, data: Any, /) -> None: ...


class LimitExceeded(ValueError):
    """More bytes came than the reader's limit (raised when no ``on_limit`` is given)."""


class CountingReader(io.RawIOBase):
    """``source`` read through: each byte fed once to every digest of ``digests`` and counted (``count``).

    With ``limit``, a read that takes the count past it raises ``on_limit()`` (``LimitExceeded`` by
    default) instead of returning the bytes. ``on_read(n)`` is told of every ``n`` bytes read.
    """

    def __init__(
        self,
        source: Any,
        *digests: Digest,
        limit: int | None = None,
        on_limit: Callable[[], Exception] | None = None,
        on_read: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__()
        self._source = source
        self._readinto = getattr(source, "readinto", None)
        self.digests = digests
        self.limit = limit
        self._on_limit = on_limit
        self._on_read = on_read
        self.count = 0

    def readable(self) -> bool:
        return True

    def _passed(self, data: Any) -> None:
        got = len(data)
        if not got:
            return
        self.count += got
        if self.limit is not None and self.count > self.limit:
            raise (self._on_limit() if self._on_limit is not None else LimitExceeded(f"more than {self.limit} bytes"))
        for digest in self.digests:
            digest.update(data)
        if self._on_read is not None:
            self._on_read(got)

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        if self._readinto is not None:
            got = self._readinto(target) or 0
        else:
            chunk = self._source.read(len(target))
            got = len(chunk)
            target[:got] = chunk
        self._passed(target[:got])
        return got

    def read(self, size: int | None = -1) -> bytes:
        chunk: bytes = self._source.read(-1 if size is None else size)
        self._passed(chunk)
        return chunk


@dataclasses.dataclass(frozen=True)
class StreamDigest:
    """What reading a stream to its end found: its SHA-256 (hex), its size and its first ``head`` bytes."""

    sha256: str
    size: int
    head: bytes


def drain(source: Any, buffer_size: int = MiB) -> int:
    """Read ``source`` to its end into one reused buffer (for a ``CountingReader``'s digests); the bytes read."""
    buffer = memoryview(bytearray(buffer_size))
    readinto = getattr(source, "readinto", None)
    total = 0
    while True:
        got = (readinto(buffer) or 0) if readinto is not None else len(source.read(buffer_size))
        if not got:
            return total
        total += got


def sha256_of(source: Any, *, head: int = 0, buffer_size: int = MiB) -> StreamDigest:
    """SHA-256, size and first ``head`` bytes of ``source`` read to its end (hashed once, one buffer)."""
    digest = hashlib.sha256()
    kept = bytearray()

    class _Head:
        def update(self, data: Any) -> None:
            if len(kept) < head:
                kept.extend(bytes(data[: head - len(kept)]))

    reader = CountingReader(source, digest, *((_Head(),) if head else ()))
    drain(reader, buffer_size)
    return StreamDigest(digest.hexdigest(), reader.count, bytes(kept))
