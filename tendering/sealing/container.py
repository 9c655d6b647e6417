"""The plaintext of a sealed bid: a deterministic POSIX tar (pax) stream (docs/sealed-bid-format.md §3).

Its first member is ``etender/price-summary.json`` (the 开标一览表: prices and
declared fields in canonical JSON), so the opening reads the prices without
reading the files; an optional second member ``etender/response-index.json``
holds the bidder's response index (评审因素定位, ``response_index``); the bid's
files follow under ``bid/``, sorted by the UTF-8 bytes of their paths. Every member is a pax extended header (``path``,
``size``) and a ustar header with fixed fields (mode 0644, uid/gid 0, mtime 0,
no user or group names), then the data padded to 512 bytes; two zero blocks
end the archive, with no further record padding. One content, one byte
sequence: a browser writes the same bytes, and the reader refuses any other.

Building and reading both stream with bounded memory: the builder is a
readable stream that reads the files straight into the encryptor's buffer.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import itertools
import os
import queue
import re
import stat
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tendering.sealing.errors import ContainerError, PriceSummaryError, TruncatedCiphertextError
from tendering.sealing.identity import BidIdentity, check_credit_code, check_uuid
from tendering.sealing.jsonform import canonical_json, parse_canonical
from tendering.sealing.paths import BID_PREFIX, check_member_path
from tendering.sealing.response_index import (
    MAX_RESPONSE_INDEX_SIZE,
    RESPONSE_INDEX_PATH,
    ResponseIndex,
    parse_response_index,
)
from tendering.sealing.stream import (
    SEGMENT_SIZE,
    CiphertextLayout,
    DecryptingReader,
    DecryptionResult,
    Decryptor,
    Readable,
    segment_holding,
    segment_plaintext_start,
    segment_span,
)

BLOCK = 512
PRICE_SUMMARY_PATH = "etender/price-summary.json"
PRICE_SUMMARY_FORMAT = "etender-price-summary-v1"
MAX_PRICE_SUMMARY_SIZE = 1_048_576
MAX_PAX_SIZE = 4096
PAX_HEADER_NAME = b"././@PaxHeader"
_USTAR_SIZE_LIMIT = 8**11  # 11 octal digits; larger sizes live only in the pax ``size`` record
_END = bytes(2 * BLOCK)

_PRICE = re.compile(r"\A(0|[1-9][0-9]{0,15})\.[0-9]{2}\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_EXCEPT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


# -- the price summary (开标一览表) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LotPrice:
    """One lot's line of the opening record: its price in yuan (a decimal string with 2 places)."""

    lot: str
    price_yuan: str
    schedule_days: int
    declared: Mapping[str, str] = field(default_factory=dict)  # other declared fields: 质量标准, 项目经理…

    def __post_init__(self) -> None:
        where = f"lot {self.lot!r}"
        _check_text(self.lot, "a lot id", 64, allow_newline=False, allow_empty=False)
        if not isinstance(self.price_yuan, str) or not _PRICE.match(self.price_yuan):
            raise PriceSummaryError(
                f"{where}: the price must be a decimal string in yuan with exactly two decimals "
                f"(e.g. '1234567.80'), got {self.price_yuan!r}"
            )
        if (
            not isinstance(self.schedule_days, int)
            or isinstance(self.schedule_days, bool)
            or not 0 <= self.schedule_days <= 36_500
        ):
            raise PriceSummaryError(f"{where}: schedule_days must be an integer from 0 to 36500")
        if not isinstance(self.declared, Mapping) or len(self.declared) > 50:
            raise PriceSummaryError(f"{where}: declared fields are an object of at most 50 strings")
        for key, value in self.declared.items():
            _check_text(key, f"{where}: a declared field name", 64, allow_newline=False, allow_empty=False)
            _check_text(value, f"{where}: declared field {key!r}", 2000, allow_newline=True, allow_empty=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "lot": self.lot,
            "price_yuan": self.price_yuan,
            "schedule_days": self.schedule_days,
            "declared": dict(self.declared),
        }


def _check_text(value: object, what: str, max_length: int, *, allow_newline: bool, allow_empty: bool) -> None:
    if not isinstance(value, str):
        raise PriceSummaryError(f"{what} must be a string")
    if not allow_empty and not value:
        raise PriceSummaryError(f"{what} must not be empty")
    if len(value) > max_length:
        raise PriceSummaryError(f"{what} has more than {max_length} characters")
    if (_CONTROL_EXCEPT_NEWLINE if allow_newline else _CONTROL).search(value):
        raise PriceSummaryError(f"{what} contains control characters")


@dataclass(frozen=True)
class PriceSummary:
    """The first member of the container: read at the opening before anything else."""

    tender: str
    bid: str
    bidder: str
    lots: tuple[LotPrice, ...]

    def __post_init__(self) -> None:
        try:
            BidIdentity(self.tender, self.bid, self.bidder)
        except ValueError as exc:
            raise PriceSummaryError(f"price summary: {exc}") from None
        if not isinstance(self.lots, tuple) or not 1 <= len(self.lots) <= 1000:
            raise PriceSummaryError("a price summary has 1 to 1000 lots (a tuple of LotPrice)")
        seen = set()
        for lot in self.lots:
            if not isinstance(lot, LotPrice):
                raise PriceSummaryError("lots are LotPrice values")
            if lot.lot in seen:
                raise PriceSummaryError(f"lot {lot.lot!r} appears twice")
            seen.add(lot.lot)

    @classmethod
    def for_bid(cls, identity: BidIdentity, lots: Sequence[LotPrice]) -> PriceSummary:
        return cls(identity.tender, identity.bid, identity.bidder, tuple(lots))

    @property
    def identity(self) -> BidIdentity:
        return BidIdentity(self.tender, self.bid, self.bidder)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": PRICE_SUMMARY_FORMAT,
            "tender": self.tender,
            "bid": self.bid,
            "bidder": self.bidder,
            "lots": [lot.to_json() for lot in self.lots],
        }

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.to_json())


def parse_price_summary(data: bytes) -> PriceSummary:
    """The price summary in ``data``: canonical JSON with exactly the fields of format v1."""
    value = parse_canonical(data, max_size=MAX_PRICE_SUMMARY_SIZE, what="price summary", error=PriceSummaryError)
    _expect_fields(value, {"format", "tender", "bid", "bidder", "lots"}, "price summary")
    if value["format"] != PRICE_SUMMARY_FORMAT:
        raise PriceSummaryError(f"price summary format must be {PRICE_SUMMARY_FORMAT!r}, got {value['format']!r}")
    try:
        check_uuid(value["tender"], "tender")
        check_uuid(value["bid"], "bid")
        check_credit_code(value["bidder"])
    except ValueError as exc:
        raise PriceSummaryError(f"price summary: {exc}") from None
    if not isinstance(value["lots"], list):
        raise PriceSummaryError("price summary: lots must be a list")
    lots = []
    for index, lot in enumerate(value["lots"]):
        _expect_fields(lot, {"lot", "price_yuan", "schedule_days", "declared"}, f"price summary lot {index}")
        if not isinstance(lot["declared"], dict):
            raise PriceSummaryError(f"price summary lot {index}: declared must be an object")
        lots.append(LotPrice(lot["lot"], lot["price_yuan"], lot["schedule_days"], lot["declared"]))
    return PriceSummary(value["tender"], value["bid"], value["bidder"], tuple(lots))


def _expect_fields(value: object, names: set[str], what: str) -> None:
    if not isinstance(value, dict):
        raise PriceSummaryError(f"{what} must be an object")
    missing = sorted(names - value.keys())
    unknown = sorted(value.keys() - names)
    if missing:
        raise PriceSummaryError(f"{what} lacks {', '.join(missing)}")
    if unknown:
        raise PriceSummaryError(f"{what} has unknown fields: {', '.join(unknown)}")


# -- tar headers ------------------------------------------------------------------------------------------------


def _ustar_block(name: bytes, size_field: int, typeflag: bytes) -> bytes:
    block = b"".join(
        (
            name.ljust(100, b"\0"),
            b"0000644\0",  # mode
            b"0000000\0",  # uid
            b"0000000\0",  # gid
            b"%011o\0" % size_field,
            b"00000000000\0",  # mtime
            b" " * 8,  # checksum, counted as spaces
            typeflag,
            bytes(100),  # linkname
            b"ustar\0",
            b"00",
            bytes(32),  # uname
            bytes(32),  # gname
            b"0000000\0",  # devmajor
            b"0000000\0",  # devminor
            bytes(155),  # prefix
            bytes(12),
        )
    )
    return block[:148] + b"%06o\0 " % sum(block) + block[156:]


def _pax_record(key: bytes, value: bytes) -> bytes:
    # "LEN key=value\n", LEN counting its own digits.
    body = b" " + key + b"=" + value + b"\n"
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length = len(str(length)) + len(body)
    return str(length).encode() + body


def _padding(size: int) -> bytes:
    return bytes(-size % BLOCK)


def ustar_name(path: str) -> bytes:
    """The ustar name field's text: the path with each non-ASCII character as '?', cut to 100 bytes."""
    return "".join(ch if ord(ch) < 128 else "?" for ch in path).encode("ascii")[:100]


def member_header(path: str, size: int) -> bytes:
    """The pax extended header (path, size) and the ustar header in front of a member's data."""
    records = _pax_record(b"path", path.encode("utf-8")) + _pax_record(b"size", str(size).encode())
    return (
        _ustar_block(PAX_HEADER_NAME, len(records), b"x")
        + records
        + _padding(len(records))
        + _ustar_block(ustar_name(path), size if size < _USTAR_SIZE_LIMIT else 0, b"0")
    )


def member_size(path: str, size: int) -> int:
    """Bytes one member takes in the container, headers and padding included."""
    return len(member_header(path, size)) + size + -size % BLOCK


# -- building -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BidFile:
    """A file to seal: its path in the container (``bid/…``) and where it is on disk."""

    path: str
    source: Path
    size: int


def collect_bid_files(source: str | os.PathLike[str]) -> list[BidFile]:
    """The files of a bid folder (recursively) or of a single file, sorted as the container lists them.

    Symbolic links and special files are refused rather than followed, names
    are normalized to NFC (macOS writes NFD), empty folders are left out.
    """
    root = Path(source)
    try:
        info = root.lstat()
    except OSError as exc:
        raise ContainerError(f"cannot read {root}: {exc.strerror}") from None
    files: list[BidFile] = []
    if stat.S_ISREG(info.st_mode):
        files.append(_bid_file(root, root.name, info))
    elif stat.S_ISDIR(info.st_mode):
        for directory, dirnames, filenames in os.walk(root, onerror=_walk_error):
            for name in sorted(dirnames):
                if Path(directory, name).is_symlink():
                    raise ContainerError(f"{Path(directory, name)} is a symbolic link; bids hold regular files only")
            for name in filenames:
                full = Path(directory, name)
                entry = full.lstat()
                if not stat.S_ISREG(entry.st_mode):
                    raise ContainerError(
                        f"{full} is not a regular file (a link or a device); bids hold regular files only"
                    )
                files.append(_bid_file(full, full.relative_to(root).as_posix(), entry))
    else:
        raise ContainerError(f"{root} is neither a file nor a folder")
    if not files:
        raise ContainerError(f"{root} holds no files")
    files.sort(key=lambda f: f.path.encode("utf-8"))
    for before, after in itertools.pairwise(files):
        if before.path == after.path:
            raise ContainerError(f"two files have the same name once normalized: {after.path!r}")
    return files


def _walk_error(exc: OSError) -> None:
    raise ContainerError(f"cannot read {exc.filename}: {exc.strerror}")


def _bid_file(full: Path, relative: str, info: os.stat_result) -> BidFile:
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in relative):
        raise ContainerError(f"the name of {full} is not valid UTF-8")
    path = BID_PREFIX + unicodedata.normalize("NFC", relative)
    return BidFile(check_member_path(path), full, info.st_size)


def container_size(summary: PriceSummary, files: Sequence[BidFile], response_index: ResponseIndex | None = None) -> int:
    """The exact plaintext size of the container, known before any byte is read."""
    total = member_size(PRICE_SUMMARY_PATH, len(summary.canonical_bytes()))
    if response_index is not None:
        total += member_size(RESPONSE_INDEX_PATH, len(response_index.canonical_bytes()))
    return total + sum(member_size(f.path, f.size) for f in files) + len(_END)


class ContainerStream(io.RawIOBase):
    """The container as a readable stream: feed it to ``Encryptor.encrypt``.

    It reads each file straight into the caller's buffer, and refuses a file
    that changed size since it was listed (the ciphertext would not match its
    own manifest): the caller then discards what was written. A response
    index must point only to files among ``files``.
    """

    def __init__(
        self, summary: PriceSummary, files: Sequence[BidFile], response_index: ResponseIndex | None = None
    ) -> None:
        super().__init__()
        paths = [f.path for f in files]
        for path in paths:
            check_member_path(path)
        if [p.encode() for p in paths] != sorted({p.encode() for p in paths}):
            raise ContainerError("bid files must be sorted by the UTF-8 bytes of their paths, without duplicates")
        if response_index is not None:
            response_index.check_paths(paths)
        self.size = container_size(summary, files, response_index)
        self._pieces = self._generate(summary, files, response_index)
        self._piece: bytes | memoryview | BidFile | None = None
        self._offset = 0
        self._file: io.FileIO | None = None
        self._remaining = 0

    @staticmethod
    def _generate(
        summary: PriceSummary, files: Sequence[BidFile], response_index: ResponseIndex | None
    ) -> Iterator[bytes | BidFile]:
        data = summary.canonical_bytes()
        yield member_header(PRICE_SUMMARY_PATH, len(data)) + data + _padding(len(data))
        if response_index is not None:
            index = response_index.canonical_bytes()
            yield member_header(RESPONSE_INDEX_PATH, len(index)) + index + _padding(len(index))
        for bid_file in files:
            yield member_header(bid_file.path, bid_file.size)
            yield bid_file
            yield _padding(bid_file.size)
        yield _END

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        written = 0
        while written < len(view):
            if self._piece is None:
                self._piece = next(self._pieces, None)
                self._offset = 0
                if self._piece is None:
                    break
            if isinstance(self._piece, BidFile):
                written += self._read_file(self._piece, view[written:])
                continue
            take = min(len(self._piece) - self._offset, len(view) - written)
            view[written : written + take] = self._piece[self._offset : self._offset + take]
            self._offset += take
            written += take
            if self._offset == len(self._piece):
                self._piece = None
        return written

    def _read_file(self, bid_file: BidFile, view: memoryview) -> int:
        if self._file is None:
            self._file = open(bid_file.source, "rb", buffering=0)  # noqa: SIM115 (closed when read to its end)
            self._remaining = bid_file.size
        got = 0
        if self._remaining:
            got = self._file.readinto(view[: self._remaining]) or 0
            if got == 0:
                self._close_file()
                raise ContainerError(f"{bid_file.source} became shorter while it was being sealed")
            self._remaining -= got
        if self._remaining == 0:
            grew = self._file.read(1)
            self._close_file()
            if grew:
                raise ContainerError(f"{bid_file.source} grew while it was being sealed")
            self._piece = None
        return got

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> None:
        self._close_file()
        super().close()


# -- reading ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtractedFile:
    path: str  # in the container: bid/…
    size: int
    sha256: str


class ContainerFile(io.RawIOBase):
    """One bid file being read from the container; valid until the next file is asked for."""

    def __init__(self, reader: ContainerReader, path: str, size: int) -> None:
        super().__init__()
        self.path = path
        self.size = size
        self._reader = reader
        self.remaining = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")[: self.remaining]
        if not view:
            return 0
        got = self._reader._readinto_some(view)
        self.remaining -= got
        return got

    def read_view(self, limit: int = SEGMENT_SIZE) -> memoryview:
        """Up to ``limit`` bytes of the file without copying when the source allows it (``DecryptingReader``):
        valid until the next read; empty at the file's end."""
        if not self.remaining:
            return memoryview(b"")
        view = self._reader._view_some(min(limit, self.remaining))
        self.remaining -= len(view)
        return view


class ContainerReader:
    """Reads a container from a stream (the decrypted plaintext), checking every byte of its form.

    Call ``price_summary()`` first, then ``response_index()`` (optional), then
    iterate ``files()``; or ``extract_to(folder)`` to do it all and write the
    files. The response index's paths are checked against the files once the
    last one is read.
    """

    def __init__(self, source: Readable) -> None:
        self._source = source
        self._summary: PriceSummary | None = None
        self._index: ResponseIndex | None = None
        self._index_read = False
        # The first file's header (or the archive's end), read while looking for the index.
        self._pending: tuple[str, int] | None = None
        self._ended = False
        self._member = 0
        self._last_path = b""
        self.position = 0

    def _readinto_some(self, view: memoryview) -> int:
        got = self._source.readinto(view) or 0
        if got == 0:
            raise ContainerError(f"the container ends early, at byte {self.position}")
        self.position += got
        return got

    def _view_some(self, limit: int) -> memoryview:
        read_view = getattr(self._source, "read_view", None)
        if read_view is None:
            scratch = memoryview(bytearray(limit))
            return scratch[: self._readinto_some(scratch)]
        view: memoryview = read_view(limit)
        if not view:
            raise ContainerError(f"the container ends early, at byte {self.position}")
        self.position += len(view)
        return view

    def _read_exact(self, size: int) -> bytes:
        buffer = bytearray(size)
        view = memoryview(buffer)
        filled = 0
        while filled < size:
            filled += self._readinto_some(view[filled:])
        return bytes(buffer)

    def _skip(self, size: int) -> None:
        scratch = memoryview(bytearray(min(size, 1 << 16)))
        while size:
            size -= self._readinto_some(scratch[: min(size, len(scratch))])

    def _read_header(self) -> tuple[str, int] | None:
        """The next member's path and size, or None at the end of the archive."""
        where = f"member {self._member}"
        first = self._read_exact(BLOCK)
        if first == bytes(BLOCK):
            if self._read_exact(BLOCK) != bytes(BLOCK):
                raise ContainerError(f"{where}: a lone zero block, not the end of the archive")
            if self._source.readinto(memoryview(bytearray(1))):
                raise ContainerError(f"data follows the end of the archive (byte {self.position})")
            return None
        if first[156:157] != b"x" or first[:100].rstrip(b"\0") != PAX_HEADER_NAME:
            raise ContainerError(f"{where}: expected a pax extended header (type 'x') at byte {self.position - BLOCK}")
        size_field = first[124:136]
        if not re.fullmatch(rb"[0-7]{11}\0", size_field):
            raise ContainerError(f"{where}: the pax header's size field is malformed")
        pax_size = int(size_field[:11], 8)
        if pax_size > MAX_PAX_SIZE:
            raise ContainerError(f"{where}: a pax header of {pax_size} bytes is larger than {MAX_PAX_SIZE}")
        records = self._read_exact(pax_size + -pax_size % BLOCK)
        path, size = _parse_pax(records[:pax_size], where)
        ustar = self._read_exact(BLOCK)
        expected = member_header(path, size)
        got = first + records + ustar
        if got != expected:
            at = next(i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b)
            raise ContainerError(
                f"{where} ({path!r}): its headers are not in the canonical form (byte {at} of the headers differs)"
            )
        return path, size

    def price_summary(self) -> PriceSummary:
        """The first member, parsed; reads nothing beyond it."""
        if self._summary is not None:
            return self._summary
        if self._member != 0:
            raise ContainerError("the price summary is read first")
        header = self._read_header()
        if header is None or header[0] != PRICE_SUMMARY_PATH:
            raise ContainerError(f"the first member of a bid container must be {PRICE_SUMMARY_PATH}")
        size = header[1]
        if size > MAX_PRICE_SUMMARY_SIZE:
            raise ContainerError(f"the price summary has {size} bytes, more than {MAX_PRICE_SUMMARY_SIZE}")
        data = self._read_exact(size)
        self._check_padding(size)
        self._summary = parse_price_summary(data)
        self._member = 1
        return self._summary

    def response_index(self) -> ResponseIndex | None:
        """The second member when it is the response index (None when the bid has none); reads no file data."""
        if self._index_read:
            return self._index
        self.price_summary()
        header = self._read_header()
        self._index_read = True
        if header is None or header[0] != RESPONSE_INDEX_PATH:
            self._pending, self._ended = header, header is None
            return None
        size = header[1]
        if size > MAX_RESPONSE_INDEX_SIZE:
            raise ContainerError(f"the response index has {size} bytes, more than {MAX_RESPONSE_INDEX_SIZE}")
        data = self._read_exact(size)
        self._check_padding(size)
        self._index = parse_response_index(data)
        self._member += 1
        return self._index

    def _check_padding(self, size: int) -> None:
        if self._read_exact(-size % BLOCK) != _padding(size):
            raise ContainerError(f"member {self._member}: the padding after its data is not zero")

    def files(self) -> Iterator[ContainerFile]:
        """The bid files in order; unread data of a file is skipped when the next is asked for."""
        index = self.response_index()
        seen: set[str] = set()
        wanted = {p.member_path for p in index.pointers} if index is not None else set()
        while True:
            header, self._pending = self._pending, None
            if header is None and not self._ended:
                header = self._read_header()
            if header is None:
                self._ended = True
                if index is not None:
                    index.check_paths(seen)
                return
            path, size = header
            if path in (PRICE_SUMMARY_PATH, RESPONSE_INDEX_PATH):
                raise ContainerError(
                    f"member {self._member} is {path}: the price summary is the first member, "
                    "the response index the second, and only once"
                )
            check_member_path(path)
            if path in wanted:
                seen.add(path)
            encoded = path.encode("utf-8")
            if encoded <= self._last_path:
                raise ContainerError(
                    f"member {self._member} ({path!r}) is out of order or repeated: "
                    "files are sorted by the UTF-8 bytes of their paths"
                )
            self._last_path = encoded
            member = ContainerFile(self, path, size)
            yield member
            self._skip(member.remaining)
            self._check_padding(size)
            self._member += 1

    def extract_to(self, folder: str | os.PathLike[str]) -> list[ExtractedFile]:
        """Write every bid file under ``folder`` (which must exist and be empty), with its SHA-256."""
        root = Path(folder)
        if any(root.iterdir()):
            raise ContainerError(f"{root} is not empty")
        extracted = []
        buffer = memoryview(bytearray(1 << 20))
        for member in self.files():
            target = root.joinpath(*member.path.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with open(target, "xb") as out:
                while got := member.readinto(buffer):
                    digest.update(buffer[:got])
                    out.write(buffer[:got])
            extracted.append(ExtractedFile(member.path, member.size, digest.hexdigest()))
        return extracted


# -- the index: each file's place in the ciphertext, built in the opening's one pass ------------------------------


@dataclass(frozen=True)
class IndexedFile:
    """A bid file's place in the container: its data are plaintext bytes ``[offset, offset + size)``."""

    path: str
    size: int
    offset: int
    sha256: str

    def segments(self, segment_size: int = SEGMENT_SIZE) -> tuple[int, int]:
        """The first and last ciphertext segment holding the file's data (both the same for an empty file)."""
        first = segment_holding(self.offset, segment_size)
        return first, segment_holding(self.offset + self.size - 1, segment_size) if self.size else first


@dataclass(frozen=True)
class ContainerIndex:
    """What the opening found in one pass: the price summary, the response index (None when the bid has none),
    every file's place, the ciphertext's own check."""

    summary: PriceSummary
    files: tuple[IndexedFile, ...]
    plaintext_size: int
    ciphertext: DecryptionResult
    response_index: ResponseIndex | None = None


def data_offsets(
    summary_size: int, files: Sequence[tuple[str, int]], response_index_size: int | None = None
) -> list[int]:
    """Where each file's data begin in the container, from the price summary's size, the response index's
    (None: no index) and the (path, size) list.

    The container has one byte sequence for one content, so an index is only
    ever this: a reader checks a stored index against it before using it.
    """
    position = member_size(PRICE_SUMMARY_PATH, summary_size)
    if response_index_size is not None:
        position += member_size(RESPONSE_INDEX_PATH, response_index_size)
    offsets = []
    for path, size in files:
        offsets.append(position + len(member_header(path, size)))
        position += member_size(path, size)
    return offsets


class _FileHasher:
    """Hashes the bid files in a second thread while the main one reads and decrypts the next segment.

    ``hashlib`` releases the GIL over large buffers, so the hashing takes the
    second core. The views hashed are the decryptor's plaintext buffers, used
    in turn (``buffers``): before a buffer is decrypted into again,
    ``before_segment`` waits until every view of it handed over is hashed.
    """

    BUFFERS = 2

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Any, memoryview] | None] = queue.SimpleQueue()
        self._submitted = 0
        self._done = 0
        self._done_changed = threading.Condition()
        self._fences: collections.deque[int] = collections.deque()
        self._thread = threading.Thread(target=self._run, name="container-file-hashes", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            job[0].update(job[1])
            with self._done_changed:
                self._done += 1
                self._done_changed.notify_all()

    def update(self, digest: Any, view: memoryview) -> None:
        self._submitted += 1
        self._jobs.put((digest, view))

    def _wait(self, count: int) -> None:
        with self._done_changed:
            while self._done < count:
                self._done_changed.wait()

    def before_segment(self) -> None:
        # The segment about to be decrypted goes into the buffer of the one ``BUFFERS`` back: everything handed
        # over before the segment after that one was decrypted lies in it.
        self._fences.append(self._submitted)
        if len(self._fences) >= self.BUFFERS:
            self._wait(self._fences.popleft())

    def finish(self) -> None:
        self._wait(self._submitted)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join()


def index_container(decryptor: Decryptor, source: Readable) -> ContainerIndex:
    """The opening's one pass over a ciphertext: authenticate and decrypt it (hashing the ciphertext once), read
    the price summary and the response index, check the container's every byte of form, and note where each file
    lies, with its SHA-256.

    The file data are never copied: they are hashed in place, in a second
    thread, out of the decryptor's buffers. Memory stays flat (three 1 MiB
    buffers) whatever the size. Raises ``SealingError`` (its subclasses) for
    a ciphertext that does not authenticate or a container out of form.
    """
    hasher = _FileHasher()
    try:
        plain = DecryptingReader(decryptor, source, buffers=_FileHasher.BUFFERS, before_segment=hasher.before_segment)
        reader = ContainerReader(plain)
        summary = reader.price_summary()
        response_index = reader.response_index()
        found: list[tuple[str, int, int, Any]] = []
        for member in reader.files():
            offset = reader.position
            digest = hashlib.sha256()
            while view := member.read_view():
                hasher.update(digest, view)
            found.append((member.path, member.size, offset, digest))
        hasher.finish()
    finally:
        hasher.close()
    if decryptor.result is None:  # the reader saw the end of the archive, so the decryptor its final segment
        raise TruncatedCiphertextError("the ciphertext was not read to its final segment", segment=0)
    return ContainerIndex(
        summary=summary,
        files=tuple(IndexedFile(path, size, offset, digest.hexdigest()) for path, size, offset, digest in found),
        plaintext_size=reader.position,
        ciphertext=decryptor.result,
        response_index=response_index,
    )


def read_indexed_file(
    decryptor: Decryptor,
    header: bytes,
    layout: CiphertextLayout,
    file: IndexedFile,
    open_range: Callable[[int, int], contextlib.AbstractContextManager[Readable]],
    start: int = 0,
    end: int | None = None,
) -> Iterator[memoryview]:
    """Bytes ``[start, end)`` of an indexed file, decrypted straight out of the ciphertext.

    ``open_range(offset, length)`` reads ciphertext bytes by range (the object
    store's ``open_range``); only the segments holding the wanted bytes are
    read and authenticated. The views yielded are reused: copy what you keep.
    """
    end = file.size if end is None else end
    if not 0 <= start <= end <= file.size:
        raise ValueError(f"bytes {start}..{end} are not within the file's {file.size}")
    if start == end:
        return
    begin, stop = file.offset + start, file.offset + end
    first, last = segment_holding(begin, layout.segment_size), segment_holding(stop - 1, layout.segment_size)
    span_start, span_end = segment_span(layout, first, last)
    with open_range(span_start, span_end - span_start) as source:
        position = segment_plaintext_start(first, layout.segment_size)
        for plain in decryptor.segment_range(header, layout, first, last, source):
            low, high = max(begin - position, 0), min(stop - position, len(plain))
            if low < high:
                yield plain[low:high]
            position += len(plain)


def _parse_pax(records: bytes, where: str) -> tuple[str, int]:
    values: dict[bytes, bytes] = {}
    keys = []
    rest = records
    while rest:
        match = re.match(rb"([1-9][0-9]*) ", rest)
        if not match:
            raise ContainerError(f"{where}: a malformed pax record")
        length = int(match.group(1))
        record = rest[:length]
        if length > len(rest) or not record.endswith(b"\n") or b"=" not in record:
            raise ContainerError(f"{where}: a malformed pax record")
        key, _, value = record[match.end() : -1].partition(b"=")
        keys.append(key)
        values[key] = value
        rest = rest[length:]
    if keys != [b"path", b"size"]:
        raise ContainerError(f"{where}: the pax header must hold exactly 'path' then 'size'")
    try:
        path = values[b"path"].decode("utf-8")
    except UnicodeDecodeError:
        raise ContainerError(f"{where}: the path is not UTF-8") from None
    if not re.fullmatch(rb"0|[1-9][0-9]{0,17}", values[b"size"]):
        raise ContainerError(f"{where}: the size record is not a decimal number")
    return path, int(values[b"size"])
