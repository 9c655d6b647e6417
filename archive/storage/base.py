"""The object store's interface, its value types and errors, shared by both backends.

An ``ObjectStore`` is one bucket of an S3 server with object lock (MinIO, Ceph
RGW, AWS), or its filesystem emulation for the embedded default. Both behave the
same way, proved by the contract suite in ``tests/storage``:

* every ``put`` makes a new version; ``delete`` without a version id adds a
  delete marker (the key then reads as missing, its versions stay);
* a version can carry a retention (GOVERNANCE or COMPLIANCE, until a date) and a
  legal hold; while either is in force the version cannot be deleted, and a
  COMPLIANCE retention cannot be shortened or downgraded by anyone;
* streams are read and written in bounded memory, whatever the object's size.

This module imports nothing from Django: settings reach the backends through
their constructors (see ``archive.storage.get_object_store``).
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import enum
import hashlib
import io
import re
import string
import urllib.parse
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol, cast, runtime_checkable

MiB = 1024 * 1024
#: Multipart part size used when a backend is built without one (settings.OBJECT_STORE_PART_SIZE).
DEFAULT_PART_SIZE = 8 * MiB
#: S3's smallest part (every part of a completed multipart upload but the last).
MIN_PART_SIZE = 5 * MiB
#: Largest part ``upload_part`` accepts: the S3 backend holds one part in memory.
MAX_PART_LENGTH = 64 * MiB
MAX_PART_NUMBER = 10_000
MAX_KEY_BYTES = 1024
#: S3 limits user metadata to 2 KB (names and values, as sent).
MAX_METADATA_BYTES = 2048
#: Presigned URLs live between one second and seven days (S3 SigV4's limits).
MIN_URL_EXPIRY = dt.timedelta(seconds=1)
MAX_URL_EXPIRY = dt.timedelta(days=7)
DEFAULT_CONTENT_TYPE = "application/octet-stream"

_METADATA_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# Metadata values travel as HTTP header values: printable ASCII except "%" and
# space stay as they are (hex digests, ids), everything else is percent-encoded.
_METADATA_SAFE = "".join(c for c in string.printable if c not in "% \t\n\r\x0b\x0c")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# --- errors -------------------------------------------------------------------


class StorageError(Exception):
    """The object store failed or refused an operation."""


class ObjectNotFound(StorageError):
    """No such key, no such version, or the key's latest version is a delete marker."""


class ObjectLocked(StorageError):
    """Refused because of a retention or legal hold (delete, shortening, downgrade)."""


class UploadNotFound(StorageError):
    """No such multipart upload (never started, completed or aborted)."""


class InvalidPart(StorageError):
    """A multipart upload cannot be completed with the parts given (missing, wrong ETag, too small)."""


class StoreUnavailable(StorageError):
    """The store could not be reached or answered with a fault of its own (busy, down, full):
    a later try may succeed.
    """


# --- values -------------------------------------------------------------------


class RetentionMode(enum.StrEnum):
    """S3 object-lock modes.

    GOVERNANCE: nobody deletes or shortens the version before ``until`` unless
    they pass ``bypass_governance=True``. COMPLIANCE: nobody at all, not even
    with bypass; the retention can only be extended.
    """

    GOVERNANCE = "GOVERNANCE"
    COMPLIANCE = "COMPLIANCE"


@dataclass(frozen=True)
class Retention:
    """A retention to apply to a new version (``put`` / ``complete_multipart``)."""

    mode: RetentionMode
    until: dt.datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", RetentionMode(self.mode))
        object.__setattr__(self, "until", normalize_until(self.until))


@dataclass(frozen=True)
class StoredObject:
    """What a write produced. ``sha256`` is None after ``complete_multipart`` on S3 (the caller hashes)."""

    key: str
    version_id: str
    size: int
    sha256: str | None
    etag: str | None


@dataclass(frozen=True)
class ObjectInfo:
    """One version of a key.

    From ``stat`` every field is filled. ``list_versions`` fills only what an S3
    listing carries (key, version_id, size, last_modified, etag, is_latest,
    is_delete_marker): ``content_type`` is None, ``metadata`` empty and the lock
    fields unset there; call ``stat`` for them.
    """

    key: str
    version_id: str | None
    size: int
    content_type: str | None
    last_modified: dt.datetime | None
    metadata: Mapping[str, str] = field(default_factory=dict)
    retention_mode: RetentionMode | None = None
    retain_until: dt.datetime | None = None
    legal_hold: bool = False
    etag: str | None = None
    is_latest: bool = True
    is_delete_marker: bool = False


@dataclass(frozen=True)
class PartInfo:
    """One uploaded part of a multipart upload."""

    part_number: int
    etag: str
    size: int
    #: SHA-256 (hex) of the part's bytes, computed once as ``upload_part`` read them; empty when listed
    #: (S3 does not list it). Not part of a part's identity, which is number, ETag and size.
    sha256: str = field(default="", compare=False)


@runtime_checkable
class Readable(Protocol):
    """Anything with ``read(n) -> bytes``: files, ``io.BytesIO``, upload handles, HTTP bodies."""

    def read(self, size: int = -1, /) -> bytes: ...


Source = bytes | bytearray | memoryview | Readable


# --- validation and helpers shared by the backends -------------------------------


def validate_key(key: str) -> str:
    """Returns ``key`` if it is a valid object key, else raises ValueError.

    A key is 1 to 1024 bytes of UTF-8, made of "/"-separated segments that are
    neither empty (no leading, trailing or double "/") nor "." or "..", without
    control characters.
    """
    if not isinstance(key, str):
        raise ValueError(f"object key must be a string, not {type(key).__name__}")
    if not key:
        raise ValueError("object key must not be empty")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise ValueError(f"object key is longer than {MAX_KEY_BYTES} bytes")
    if _CONTROL.search(key):
        raise ValueError(f"object key contains a control character: {key!r}")
    if key.startswith("/"):
        raise ValueError(f"object key must not start with '/': {key!r}")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise ValueError(f"object key has an empty, '.' or '..' segment: {key!r}")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"object key is not valid Unicode: {key!r}") from exc
    return key


def validate_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata: lowercase names ``[a-z0-9-]`` (S3 lowercases them), string values, 2 KB in all."""
    if not metadata:
        return {}
    result: dict[str, str] = {}
    total = 0
    for name, value in metadata.items():
        if not isinstance(name, str) or not _METADATA_NAME.match(name):
            raise ValueError(f"metadata name must match [a-z0-9][a-z0-9-]*: {name!r}")
        if not isinstance(value, str):
            raise ValueError(f"metadata value of {name!r} must be a string")
        total += len(name) + len(encode_metadata_value(value))
        result[name] = value
    if total > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is larger than {MAX_METADATA_BYTES} bytes once encoded")
    return result


def encode_metadata_value(value: str) -> str:
    """The header-safe form of a metadata value (reversible with ``decode_metadata_value``)."""
    return urllib.parse.quote(value, safe=_METADATA_SAFE)


def decode_metadata_value(value: str) -> str:
    return urllib.parse.unquote(value)


def validate_part_number(part_number: int) -> int:
    if not isinstance(part_number, int) or isinstance(part_number, bool) or not 1 <= part_number <= MAX_PART_NUMBER:
        raise ValueError(f"part number must be an integer from 1 to {MAX_PART_NUMBER}: {part_number!r}")
    return part_number


def validate_expires(expires: dt.timedelta) -> dt.timedelta:
    if not MIN_URL_EXPIRY <= expires <= MAX_URL_EXPIRY:
        raise ValueError("a presigned URL must expire between 1 second and 7 days from now")
    return expires


def normalize_until(until: dt.datetime) -> dt.datetime:
    """A retain-until date as S3 keeps it: timezone-aware UTC, to the millisecond."""
    if not isinstance(until, dt.datetime) or until.tzinfo is None or until.utcoffset() is None:
        raise ValueError("a retain-until date must be a timezone-aware datetime")
    until = until.astimezone(dt.UTC)
    return until.replace(microsecond=until.microsecond // 1000 * 1000)


def content_disposition(filename: str | None, *, attachment: bool = True) -> str:
    """A Content-Disposition value per RFC 6266: an ASCII ``filename`` fallback and ``filename*`` in UTF-8.

    ``content_disposition("投标文件.pdf")`` gives
    ``attachment; filename="____.pdf"; filename*=UTF-8''%E6%8A%95%E6%A0%87%E6%96%87%E4%BB%B6.pdf``.
    """
    kind = "attachment" if attachment else "inline"
    if not filename:
        return kind
    name = _CONTROL.sub("", filename.replace("/", "_").replace("\\", "_")).strip() or "download"
    fallback = "".join(c if " " <= c < "\x7f" and c not in '"%' else "_" for c in name)
    value = f'{kind}; filename="{fallback}"'
    if fallback != name:
        value += "; filename*=UTF-8''" + urllib.parse.quote(name, safe="!#$&+-.^_`|~")
    return value


def as_readable(source: Source) -> Readable:
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source))
    if not callable(getattr(source, "read", None)):
        raise TypeError("expected bytes or an object with read()")
    return source


def read_exactly(stream: Readable, size: int, prefix: bytes = b"") -> bytes:
    """Reads up to ``size`` bytes (fewer only at end of stream), starting with ``prefix``.

    Holds at most ``size`` bytes plus one copy: the buffer is allocated once and
    read into chunk by chunk.
    """
    buffer = bytearray(size)
    view = memoryview(buffer)
    filled = len(prefix)
    view[:filled] = prefix
    readinto = getattr(stream, "readinto", None)
    while filled < size:
        if readinto is not None:
            got = readinto(view[filled : min(size, filled + MiB)])
            if not got:
                break
            filled += got
        else:
            chunk = stream.read(min(size - filled, MiB))
            if not chunk:
                break
            view[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
    data = bytes(view[:filled])
    view.release()
    return data


def read_part(stream: Readable, length: int) -> tuple[bytearray, str]:
    """Exactly ``length`` bytes of ``stream`` in one buffer, and their SHA-256, hashed once as each block lands.

    The buffer is allocated once and filled in place (``readinto`` where the
    stream has it): no further copy of the part is made. ValueError if the
    stream ends early.
    """
    buffer = bytearray(length)
    view = memoryview(buffer)
    digest = hashlib.sha256()
    filled = 0
    readinto = getattr(stream, "readinto", None)
    while filled < length:
        block = view[filled : min(length, filled + MiB)]
        if readinto is not None:
            got = readinto(block) or 0
        else:
            chunk = stream.read(len(block))
            got = min(len(chunk), len(block))
            block[:got] = chunk[:got]
        if not got:
            raise ValueError(f"the part ended {length - filled} bytes before its length {length}")
        digest.update(block[:got])
        filled += got
    return buffer, digest.hexdigest()


def iter_stream(stream: Readable, length: int | None, chunk_size: int = MiB) -> Iterator[bytes]:
    """Chunks of ``stream``: ``length`` bytes exactly (ValueError if it ends early) or up to its end."""
    remaining = length
    while remaining is None or remaining > 0:
        chunk = stream.read(chunk_size if remaining is None else min(chunk_size, remaining))
        if not chunk:
            break
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk
    if remaining:
        raise ValueError(f"stream ended {remaining} bytes before the announced length {length}")


def validate_range(offset: int, length: int) -> None:
    for name, value in (("offset", offset), ("length", length)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"a range's {name} is an integer of at least 0: {value!r}")


class RangeReader(io.RawIOBase):
    """At most ``length`` bytes of ``stream``, from where it stands."""

    def __init__(self, stream: BinaryIO, length: int) -> None:
        super().__init__()
        self._stream: Any = stream
        self.remaining = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")[: self.remaining]
        if not view:
            return 0
        got = self._stream.readinto(view) or 0
        self.remaining -= got
        return got


@contextlib.contextmanager
def _skipped_range(opened: contextlib.AbstractContextManager[BinaryIO], offset: int, length: int) -> Iterator[BinaryIO]:
    with opened as stream:
        skip = offset
        while skip:
            chunk = stream.read(min(skip, MiB))
            if not chunk:
                break
            skip -= len(chunk)
        yield cast(BinaryIO, RangeReader(stream, length))


def new_md5() -> hashlib._Hash:
    """MD5 only for ETags (what S3 computes), never for security."""
    return hashlib.md5(usedforsecurity=False)


def multipart_etag(part_etags: Sequence[str]) -> str:
    """S3's ETag of a completed multipart upload: MD5 of the parts' binary MD5s, dash, count."""
    digest = new_md5()
    for etag in part_etags:
        digest.update(bytes.fromhex(etag))
    return f"{digest.hexdigest()}-{len(part_etags)}"


# --- the interface ------------------------------------------------------------


class ObjectStore(abc.ABC):
    """One versioned, object-locked bucket. Keys are validated (ValueError) by every method."""

    #: Objects larger than this (or of unknown length) are written as multipart uploads.
    part_size: int = DEFAULT_PART_SIZE

    @abc.abstractmethod
    def ensure_bucket(self) -> None:
        """Creates the bucket with object lock (hence versioning) if missing; refuses one without lock."""

    @abc.abstractmethod
    def put(
        self,
        key: str,
        stream: Source,
        *,
        length: int | None = None,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: Mapping[str, str] | None = None,
        retention: Retention | None = None,
        legal_hold: bool = False,
    ) -> StoredObject:
        """Writes a new version of ``key`` from ``stream`` in bounded memory and returns its SHA-256.

        With ``length`` exactly that many bytes are read (ValueError if the stream
        ends early); without it the stream is read to its end. ``retention`` and
        ``legal_hold`` are applied to the new version once it is written.
        """

    @abc.abstractmethod
    def open(self, key: str, version_id: str | None = None) -> contextlib.AbstractContextManager[BinaryIO]:
        """A readable binary stream of the version (default: latest), closed on exit."""

    def open_range(
        self, key: str, version_id: str | None, offset: int, length: int
    ) -> contextlib.AbstractContextManager[BinaryIO]:
        """A readable binary stream of ``length`` bytes of the version from byte ``offset`` (fewer only where the
        object ends), closed on exit: a file read straight out of an opened bid's ciphertext. Backends read
        only that range; this default skips to it."""
        validate_range(offset, length)
        return _skipped_range(self.open(key, version_id), offset, length)

    def iter_chunks(
        self, key: str, version_id: str | None = None, chunk_size: int = MiB
    ) -> Generator[bytes, None, None]:
        """The version's bytes in chunks of at most ``chunk_size``."""
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        with self.open(key, version_id) as stream:
            while chunk := stream.read(chunk_size):
                yield chunk

    @abc.abstractmethod
    def stat(self, key: str, version_id: str | None = None) -> ObjectInfo:
        """Size, type, metadata and lock state of the version (default: latest)."""

    @abc.abstractmethod
    def list_versions(self, prefix: str = "") -> list[ObjectInfo]:
        """Every version and delete marker of the keys starting with ``prefix``: by key, newest first."""

    @abc.abstractmethod
    def delete(self, key: str, version_id: str | None = None, *, bypass_governance: bool = False) -> str | None:
        """Without ``version_id``: adds a delete marker (always allowed) and returns its version id.

        With ``version_id``: removes that version for good, unless a legal hold or
        an unexpired retention protects it (ObjectLocked; GOVERNANCE gives way to
        ``bypass_governance``, COMPLIANCE never). Deleting a version that does not
        exist does nothing, as on S3. Returns None then.
        """

    @abc.abstractmethod
    def set_retention(
        self,
        key: str,
        version_id: str | None,
        mode: RetentionMode,
        until: dt.datetime,
        *,
        bypass_governance: bool = False,
    ) -> None:
        """Sets or changes the version's retention.

        ``until`` must lie in the future (ValueError). While a retention is in
        force: extending it in the same mode is allowed; shortening it or changing
        its mode needs ``bypass_governance`` under GOVERNANCE and is refused under
        COMPLIANCE (ObjectLocked).
        """

    @abc.abstractmethod
    def set_legal_hold(self, key: str, version_id: str | None, on: bool) -> None:
        """Places or releases a legal hold on the version (no expiry; blocks deletion while on)."""

    @abc.abstractmethod
    def presigned_get_url(
        self,
        key: str,
        version_id: str | None = None,
        *,
        expires: dt.timedelta = dt.timedelta(minutes=10),
        filename: str | None = None,
    ) -> str:
        """A URL that downloads the version without credentials until it expires.

        With ``filename`` the download is offered under that name (RFC 6266,
        ``filename*`` for non-ASCII names). S3 gives an absolute URL to the S3
        server; the filesystem a site-relative URL served by ``archive:object-download``.
        """

    # --- multipart, for uploads made part by part by a client -------------------

    @abc.abstractmethod
    def start_multipart(
        self, key: str, content_type: str = DEFAULT_CONTENT_TYPE, *, metadata: Mapping[str, str] | None = None
    ) -> str:
        """Starts a multipart upload of a new version of ``key`` and returns its upload id."""

    @abc.abstractmethod
    def upload_part(self, key: str, upload_id: str, part_number: int, data: Source, length: int) -> PartInfo:
        """Stores part ``part_number`` (1..10000, any order, re-uploading replaces) of ``length`` bytes.

        The returned ``PartInfo`` carries the part's SHA-256, computed once while the bytes were read
        (ValueError if ``data`` ends before ``length`` bytes).
        """

    @abc.abstractmethod
    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        """The parts uploaded so far, by part number (to resume after an interruption)."""

    @abc.abstractmethod
    def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[PartInfo],
        *,
        retention: Retention | None = None,
        legal_hold: bool = False,
    ) -> StoredObject:
        """Assembles the parts (in part-number order) into a new version.

        Every part but the last must be at least 5 MiB and each ETag must match
        (InvalidPart). ``sha256`` of the result may be None: the caller hashes.
        """

    @abc.abstractmethod
    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Abandons the upload and frees its parts."""


def sorted_parts(parts: Sequence[PartInfo]) -> list[PartInfo]:
    """The parts by number; ValueError if empty or a number repeats."""
    if not parts:
        raise ValueError("a multipart upload needs at least one part")
    ordered = sorted(parts, key=lambda p: p.part_number)
    for part in ordered:
        validate_part_number(part.part_number)
    numbers = [p.part_number for p in ordered]
    if len(set(numbers)) != len(numbers):
        raise ValueError("a part number appears twice")
    return ordered
