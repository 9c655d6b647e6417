"""Streaming encryption of a sealed bid (docs/sealed-bid-format.md §2).

Byte for byte Google Tink's ``AesGcmHkdfStreaming`` with HKDF-SHA256, a 32-byte
derived key and 1 MiB ciphertext segments, the bid's ``info`` string passed as
Tink's associated data::

    header      = 0x28 ‖ salt(32) ‖ nonce_prefix(7)                  (40 bytes)
    segment_key = HKDF-SHA256(ikm=file_key, salt=salt, info=info, L=32)
    nonce(i)    = nonce_prefix ‖ u32be(i) ‖ (0x01 if i is the last segment else 0x00)
    segment i   = AES-256-GCM(segment_key, nonce(i), plaintext_i, aad="")  (ciphertext ‖ 16-byte tag)

Every segment is 1,048,576 bytes of ciphertext except the last (16 bytes at
least); segment 0 shares its 1 MiB with the header. Memory stays flat: one
plaintext and one ciphertext buffer of one segment each, filled with
``readinto`` and encrypted with ``AESGCM.encrypt_into``.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tendering.sealing.errors import (
    CiphertextStructureError,
    HeaderError,
    SegmentAuthenticationError,
    TrailingDataError,
    TruncatedCiphertextError,
)

SEGMENT_SIZE = 1_048_576
TAG_SIZE = 16
KEY_SIZE = 32
SALT_SIZE = 32
NONCE_PREFIX_SIZE = 7
HEADER_SIZE = 1 + SALT_SIZE + NONCE_PREFIX_SIZE
HEADER_BYTE = HEADER_SIZE  # Tink writes the header's length as its first byte: 0x28.
MIN_CIPHERTEXT_SIZE = HEADER_SIZE + TAG_SIZE  # an empty plaintext: the header and one tag
MAX_SEGMENTS = 2**32  # the segment index is a u32 in the nonce


class Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


class Writable(Protocol):
    def write(self, data: memoryview | bytes, /) -> int | None: ...


def derive_segment_key(file_key: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA256(ikm=file_key, salt=salt, info=info), 32 bytes: the key of every segment."""
    _check_length(file_key, KEY_SIZE, "file key")
    _check_length(salt, SALT_SIZE, "salt")
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=info).derive(file_key)


def segment_nonce(nonce_prefix: bytes, index: int, last: bool) -> bytes:
    """The 12-byte AES-GCM nonce of segment ``index``."""
    return nonce_prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _check_length(value: bytes, size: int, what: str) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != size:
        raise ValueError(f"{what} must be {size} bytes")


@dataclass(frozen=True)
class Header:
    """The 40 bytes in front of segment 0."""

    salt: bytes
    nonce_prefix: bytes

    def __post_init__(self) -> None:
        _check_length(self.salt, SALT_SIZE, "salt")
        _check_length(self.nonce_prefix, NONCE_PREFIX_SIZE, "nonce prefix")

    @classmethod
    def random(cls) -> Header:
        return cls(salt=os.urandom(SALT_SIZE), nonce_prefix=os.urandom(NONCE_PREFIX_SIZE))

    @classmethod
    def parse(cls, data: bytes) -> Header:
        if len(data) >= 1 and data[0] != HEADER_BYTE:
            raise HeaderError(
                f"bad header: the first byte is 0x{data[0]:02x}, not 0x{HEADER_BYTE:02x} "
                "(this is not an etender-bid-v1 ciphertext, or not a ciphertext at all)"
            )
        if len(data) < HEADER_SIZE:
            raise TruncatedCiphertextError(
                f"the ciphertext ends inside its {HEADER_SIZE}-byte header (it has {len(data)} bytes)", segment=0
            )
        return cls(salt=bytes(data[1 : 1 + SALT_SIZE]), nonce_prefix=bytes(data[1 + SALT_SIZE : HEADER_SIZE]))

    def to_bytes(self) -> bytes:
        return bytes([HEADER_BYTE]) + self.salt + self.nonce_prefix


@dataclass(frozen=True)
class CiphertextLayout:
    """How a ciphertext of ``size`` bytes divides into segments."""

    size: int
    segments: int
    plaintext_size: int
    final_segment_size: int  # ciphertext bytes of the final segment, tag included, header excluded
    segment_size: int = SEGMENT_SIZE


def layout_for_plaintext(plaintext_size: int, segment_size: int = SEGMENT_SIZE) -> CiphertextLayout:
    """The layout of the ciphertext of ``plaintext_size`` bytes."""
    if plaintext_size < 0:
        raise ValueError("a plaintext size is not negative")
    first = segment_size - HEADER_SIZE - TAG_SIZE
    other = segment_size - TAG_SIZE
    if plaintext_size <= first:
        segments, final_plain = 1, plaintext_size
    else:
        # A plaintext that fills its last segment exactly ends there: no empty segment follows (as Tink).
        segments = 1 + -(-(plaintext_size - first) // other)
        final_plain = plaintext_size - first - (segments - 2) * other
    if segments > MAX_SEGMENTS:
        raise ValueError(f"a plaintext of {plaintext_size} bytes needs more than 2**32 segments")
    size = plaintext_size + HEADER_SIZE + segments * TAG_SIZE
    return CiphertextLayout(size, segments, plaintext_size, final_plain + TAG_SIZE, segment_size)


def layout_for_ciphertext(size: int, segment_size: int = SEGMENT_SIZE) -> CiphertextLayout:
    """The layout of a ciphertext of ``size`` bytes, or ``CiphertextStructureError`` if no plaintext has it.

    Without the key this is all that can be checked of the segments: every
    segment but the last is full, and the last holds at least its tag.
    """
    if not isinstance(size, int) or isinstance(size, bool):
        raise CiphertextStructureError(f"the ciphertext size must be an integer, got {type(size).__name__}")
    if size < MIN_CIPHERTEXT_SIZE:
        raise CiphertextStructureError(
            f"a ciphertext has at least {MIN_CIPHERTEXT_SIZE} bytes (header and one tag), this one has {size}"
        )
    if size <= segment_size:
        segments, final = 1, size - HEADER_SIZE
    else:
        segments = -(-size // segment_size)
        final = size - (segments - 1) * segment_size
        if final < TAG_SIZE:
            raise CiphertextStructureError(
                f"the final segment (segment {segments - 1}) would have {final} bytes, "
                f"less than its {TAG_SIZE}-byte tag: the ciphertext was cut or padded"
            )
    if segments > MAX_SEGMENTS:
        raise CiphertextStructureError(f"a ciphertext of {size} bytes has more than 2**32 segments")
    return CiphertextLayout(size, segments, size - HEADER_SIZE - segments * TAG_SIZE, final, segment_size)


def segment_plaintext_start(index: int, segment_size: int = SEGMENT_SIZE) -> int:
    """Where segment ``index``'s plaintext begins in the whole plaintext."""
    if index < 0:
        raise ValueError("a segment index is not negative")
    if index == 0:
        return 0
    return segment_size - HEADER_SIZE - TAG_SIZE + (index - 1) * (segment_size - TAG_SIZE)


def segment_holding(offset: int, segment_size: int = SEGMENT_SIZE) -> int:
    """The segment whose plaintext holds byte ``offset`` of the whole plaintext."""
    if offset < 0:
        raise ValueError("a plaintext offset is not negative")
    first = segment_size - HEADER_SIZE - TAG_SIZE
    return 0 if offset < first else 1 + (offset - first) // (segment_size - TAG_SIZE)


def segment_span(layout: CiphertextLayout, first: int, last: int) -> tuple[int, int]:
    """The ciphertext bytes ``[start, end)`` of segments ``first`` to ``last`` (both included), header excluded."""
    if not 0 <= first <= last < layout.segments:
        raise ValueError(f"segments {first}..{last} are not within the ciphertext's {layout.segments}")
    start = HEADER_SIZE if first == 0 else first * layout.segment_size
    end = layout.size if last == layout.segments - 1 else (last + 1) * layout.segment_size
    return start, end


def check_ciphertext_structure(header: bytes, size: int) -> CiphertextLayout:
    """What the server can check of a ciphertext without any key: its header byte and its size.

    ``header`` is (at least) the first 40 bytes. Random bytes with 0x28 in
    front pass too: only the keys tell a ciphertext from noise, and the bidder
    signs the hash of what it uploads, so it can only hurt itself this way.
    """
    Header.parse(header)
    return layout_for_ciphertext(size)


@dataclass(frozen=True)
class EncryptionResult:
    header: bytes
    plaintext_size: int
    ciphertext_size: int
    segments: int
    ciphertext_sha256: bytes  # of the whole ciphertext, header included
    header_sha256: bytes


@dataclass(frozen=True)
class DecryptionResult:
    header: bytes
    plaintext_size: int
    ciphertext_size: int
    segments: int
    ciphertext_sha256: bytes
    header_sha256: bytes


def _fill(source: Readable, view: memoryview, start: int, end: int) -> int:
    """Read into ``view[start:end]`` until it is full or the source ends; the new fill level."""
    while start < end:
        got = source.readinto(view[start:end])
        if got is None:
            raise OSError("the source is non-blocking and has no data now; give a blocking stream")
        if got == 0:
            break
        start += got
    return start


def _write_all(sink: Writable, view: memoryview) -> None:
    while view:
        written = sink.write(view)
        if written is None:
            raise OSError("the sink is non-blocking and refused data; give a blocking stream")
        if written >= len(view):
            return
        view = view[written:]


class Encryptor:
    """Encrypts one plaintext stream into one ciphertext, once.

    ``salt`` and ``nonce_prefix`` are random unless given (test vectors give
    them). An Encryptor refuses to encrypt a second time: the same segment key
    and nonces on two plaintexts would give both away.
    """

    def __init__(
        self,
        file_key: bytes,
        info: bytes,
        *,
        salt: bytes | None = None,
        nonce_prefix: bytes | None = None,
        segment_size: int = SEGMENT_SIZE,
    ) -> None:
        if segment_size < HEADER_SIZE + TAG_SIZE + 1:
            raise ValueError(f"segment size {segment_size} leaves no room for plaintext in segment 0")
        self._header = Header(
            salt=salt if salt is not None else os.urandom(SALT_SIZE),
            nonce_prefix=nonce_prefix if nonce_prefix is not None else os.urandom(NONCE_PREFIX_SIZE),
        )
        self._aead = AESGCM(derive_segment_key(file_key, self._header.salt, info))
        self._segment_size = segment_size
        self._used = False

    @property
    def header(self) -> bytes:
        return self._header.to_bytes()

    def encrypt(
        self, source: Readable, sink: Writable, *, progress: Callable[[int], None] | None = None
    ) -> EncryptionResult:
        """Read ``source`` to its end and write the ciphertext to ``sink``.

        ``progress`` is called after each segment with the ciphertext bytes written so far.
        """
        if self._used:
            raise RuntimeError("an Encryptor encrypts one stream only; make a new one (new salt and nonce prefix)")
        self._used = True
        header = self._header.to_bytes()
        prefix = self._header.nonce_prefix
        encrypt_into = self._aead.encrypt_into
        plain_capacity = self._segment_size - TAG_SIZE
        # One byte more than a segment holds: if it fills, more plaintext follows and the segment is not the last.
        plaintext = memoryview(bytearray(plain_capacity + 1))
        ciphertext = memoryview(bytearray(self._segment_size))
        ciphertext[:HEADER_SIZE] = header
        digest = hashlib.sha256()
        offset = HEADER_SIZE  # segment 0 follows the header in the same 1 MiB
        capacity = plain_capacity - HEADER_SIZE
        filled = 0
        index = 0
        plaintext_size = 0
        written = 0
        while True:
            filled = _fill(source, plaintext, filled, capacity + 1)
            last = filled <= capacity
            size = filled if last else capacity
            end = offset + size + TAG_SIZE
            encrypt_into(segment_nonce(prefix, index, last), plaintext[:size], None, ciphertext[offset:end])
            out = ciphertext[:end]
            digest.update(out)
            _write_all(sink, out)
            plaintext_size += size
            written += end
            if progress is not None:
                progress(written)
            if last:
                break
            index += 1
            if index >= MAX_SEGMENTS:
                raise ValueError("the plaintext needs more than 2**32 segments")
            plaintext[0] = plaintext[capacity]
            filled = 1
            offset = 0
            capacity = plain_capacity
        return EncryptionResult(
            header=header,
            plaintext_size=plaintext_size,
            ciphertext_size=written,
            segments=index + 1,
            ciphertext_sha256=digest.digest(),
            header_sha256=hashlib.sha256(header).digest(),
        )


class Decryptor:
    """Decrypts one ciphertext stream, refusing any that is not exactly what was encrypted.

    ``segments(source)`` yields the plaintext of each segment as it
    authenticates. A segment's plaintext is genuine when it is yielded, but
    the stream as a whole is only known complete when the generator finishes
    (the final segment authenticated, nothing after it): until then treat what
    came out as provisional, and discard it if an error follows.
    """

    def __init__(self, file_key: bytes, info: bytes, *, segment_size: int = SEGMENT_SIZE) -> None:
        if segment_size < HEADER_SIZE + TAG_SIZE + 1:
            raise ValueError(f"segment size {segment_size} leaves no room for plaintext in segment 0")
        _check_length(file_key, KEY_SIZE, "file key")
        self._file_key = bytes(file_key)
        self._info = bytes(info)
        self._segment_size = segment_size
        self.result: DecryptionResult | None = None

    def decrypt(self, source: Readable, sink: Writable) -> DecryptionResult:
        """Decrypt ``source`` into ``sink``; the plaintext written is provisional until this returns."""
        for chunk in self.segments(source):
            _write_all(sink, chunk)
        assert self.result is not None
        return self.result

    def segments(self, source: Readable, *, buffers: int = 1) -> Iterator[memoryview]:
        """The plaintext of each segment, in ``buffers`` buffers used in turn (copy what you keep).

        With one buffer a segment's plaintext is overwritten by the next one; with
        ``buffers`` = n it stays valid while the next n − 1 segments are decrypted,
        so that another thread may still hash it (``container.index_container``).
        """
        if buffers < 1:
            raise ValueError("at least one plaintext buffer")
        self.result = None
        header_buffer = memoryview(bytearray(HEADER_SIZE))
        header = Header.parse(bytes(header_buffer[: _fill(source, header_buffer, 0, HEADER_SIZE)]))
        header_bytes = header.to_bytes()
        aead = AESGCM(derive_segment_key(self._file_key, header.salt, self._info))
        prefix = header.nonce_prefix
        ciphertext = memoryview(bytearray(self._segment_size + 1))
        plaintexts = [memoryview(bytearray(self._segment_size - TAG_SIZE)) for _ in range(buffers)]
        digest = hashlib.sha256(header_bytes)
        capacity = self._segment_size - HEADER_SIZE
        filled = 0
        index = 0
        plaintext_size = 0
        ciphertext_size = HEADER_SIZE
        while True:
            filled = _fill(source, ciphertext, filled, capacity + 1)
            last = filled <= capacity
            size = filled if last else capacity
            if size < TAG_SIZE:
                if index == 0 and size == 0:
                    raise TruncatedCiphertextError(
                        "the ciphertext ends right after its header: segment 0 is missing", segment=0
                    )
                raise TruncatedCiphertextError(
                    f"the ciphertext ends {size} bytes into segment {index}, before its {TAG_SIZE}-byte tag",
                    segment=index,
                )
            segment = ciphertext[:size]
            digest.update(segment)
            plaintext = plaintexts[index % buffers]
            try:
                aead.decrypt_into(segment_nonce(prefix, index, last), segment, None, plaintext[: size - TAG_SIZE])
            except InvalidTag:
                raise _diagnose(aead, prefix, index, last, bytes(segment)) from None
            plaintext_size += size - TAG_SIZE
            ciphertext_size += size
            yield plaintext[: size - TAG_SIZE]
            if last:
                break
            index += 1
            if index >= MAX_SEGMENTS:
                raise TrailingDataError("the ciphertext has more than 2**32 segments", segment=index)
            ciphertext[0] = ciphertext[capacity]
            filled = 1
            capacity = self._segment_size
        self.result = DecryptionResult(
            header=header_bytes,
            plaintext_size=plaintext_size,
            ciphertext_size=ciphertext_size,
            segments=index + 1,
            ciphertext_sha256=digest.digest(),
            header_sha256=hashlib.sha256(header_bytes).digest(),
        )

    def segment_range(
        self, header: bytes, layout: CiphertextLayout, first: int, last: int, source: Readable
    ) -> Iterator[memoryview]:
        """The plaintext of segments ``first`` to ``last`` of a ciphertext, read by range (no byte before them).

        ``header`` is the ciphertext's 40-byte header, ``layout`` its layout (from
        its accepted size) and ``source`` gives exactly the bytes of
        ``segment_span(layout, first, last)``. Each segment authenticates at its
        own position (the nonce holds its index and whether it is the last), so a
        segment moved, cut or taken from another ciphertext is refused. One
        reused buffer, as ``segments``.
        """
        if layout.segment_size != self._segment_size:
            raise ValueError("the layout's segment size is not this decryptor's")
        segment_span(layout, first, last)  # refuses segments the ciphertext does not have
        parsed = Header.parse(header)
        aead = AESGCM(derive_segment_key(self._file_key, parsed.salt, self._info))
        ciphertext = memoryview(bytearray(self._segment_size))
        plaintext = memoryview(bytearray(self._segment_size - TAG_SIZE))
        for index in range(first, last + 1):
            final = index == layout.segments - 1
            begin = HEADER_SIZE if index == 0 else index * self._segment_size
            size = (layout.size if final else (index + 1) * self._segment_size) - begin
            got = _fill(source, ciphertext, 0, size)
            if got < size:
                raise TruncatedCiphertextError(
                    f"the range read ends {got} bytes into segment {index}, which has {size}", segment=index
                )
            segment = ciphertext[:size]
            try:
                aead.decrypt_into(
                    segment_nonce(parsed.nonce_prefix, index, final), segment, None, plaintext[: size - TAG_SIZE]
                )
            except InvalidTag:
                raise _diagnose(aead, parsed.nonce_prefix, index, final, bytes(segment)) from None
            yield plaintext[: size - TAG_SIZE]


def _diagnose(aead: AESGCM, prefix: bytes, index: int, last: bool, segment: bytes) -> Exception:
    """Why segment ``index`` failed: try it with the other final flag, which tells truncation and extension apart."""
    try:
        aead.decrypt(segment_nonce(prefix, index, not last), segment, None)
    except InvalidTag:
        pass
    else:
        if last:
            return TruncatedCiphertextError(
                f"segment {index} authenticates only as a non-final segment: "
                "the ciphertext was truncated after it (its final segment is missing)",
                segment=index,
            )
        return TrailingDataError(
            f"segment {index} is the final segment, but data follows it: extra bytes after the end of the ciphertext",
            segment=index,
        )
    if index == 0:
        return SegmentAuthenticationError(
            "segment 0 does not authenticate: wrong file key, a different bid's identity "
            "(tender, bid, bidder), or a modified header or segment",
            segment=0,
        )
    if last:
        return SegmentAuthenticationError(
            f"final segment {index} does not authenticate: the ciphertext was cut or extended, "
            "or the segment was modified, moved from another position, or spliced in from another ciphertext",
            segment=index,
        )
    return SegmentAuthenticationError(
        f"segment {index} does not authenticate: it was modified, moved from another position, "
        "or spliced in from another ciphertext",
        segment=index,
    )


class DecryptingReader(io.RawIOBase):
    """A readable stream of the plaintext, for readers that pull (the bid container).

    The same caution as ``Decryptor.segments``: the plaintext is complete and
    genuine only once a read has returned b"" (end of stream) without error.
    """

    def __init__(
        self,
        decryptor: Decryptor,
        source: Readable,
        *,
        buffers: int = 1,
        before_segment: Callable[[], None] | None = None,
    ) -> None:
        """``buffers`` as ``Decryptor.segments``; ``before_segment`` is called before each segment is decrypted."""
        super().__init__()
        self._decryptor = decryptor
        self._segments = decryptor.segments(source, buffers=buffers)
        self._before_segment = before_segment
        self._chunk = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bool:
        """Decrypt the next segment into ``_chunk``; False at the authenticated end."""
        if self._done:
            return False
        if self._before_segment is not None:
            self._before_segment()
        try:
            self._chunk = next(self._segments)
        except StopIteration:
            self._done = True
            return False
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        written = 0
        while written < len(view):
            if not self._chunk:
                if not self._next_chunk():
                    break
                continue
            take = min(len(self._chunk), len(view) - written)
            view[written : written + take] = self._chunk[:take]
            self._chunk = self._chunk[take:]
            written += take
        return written

    def read_view(self, limit: int) -> memoryview:
        """Up to ``limit`` bytes of the plaintext without copying: a view into the decryptor's buffer, valid
        until the buffer is used again (see ``buffers``); empty at the end."""
        while not self._chunk:
            if not self._next_chunk():
                return memoryview(b"")
        view = self._chunk[:limit]
        self._chunk = self._chunk[len(view) :]
        return view

    @property
    def result(self) -> DecryptionResult | None:
        """Set once the ciphertext has been read to its authenticated end."""
        return self._decryptor.result
