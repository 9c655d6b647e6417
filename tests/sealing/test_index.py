"""The opening's one pass (``index_container``) and reading a file back by segment ranges (``read_indexed_file``).

Small segments (4 KiB) put every file across many segment boundaries, so
the hashes made in the second thread out of the decryptor's reused buffers,
and every range read, cross them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tendering.sealing import LotPrice, PriceSummary
from tendering.sealing.container import (
    ContainerStream,
    IndexedFile,
    collect_bid_files,
    container_size,
    data_offsets,
    index_container,
    read_indexed_file,
)
from tendering.sealing.errors import (
    ContainerError,
    SealingError,
    SegmentAuthenticationError,
    TruncatedCiphertextError,
)
from tendering.sealing.stream import (
    HEADER_SIZE,
    Decryptor,
    Encryptor,
    layout_for_ciphertext,
    segment_holding,
    segment_plaintext_start,
    segment_span,
)
from tests.sealing.helpers import IDENTITY

SEGMENT = 4096
KEY = bytes(range(32))
INFO = IDENTITY.stream_info()
SUMMARY = PriceSummary.for_bid(IDENTITY, [LotPrice("1", "3050000.00", 180)])
# Sizes around the segment's plaintext (4080), an empty file, one of exactly a segment, a large one.
SIZES = {"bid/a-empty.txt": 0, "bid/b.pdf": 4080, "bid/c/技术标.pdf": 50_001, "bid/d.xlsx": 1, "bid/e.bin": 12_345}


class Ciphertext:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads: list[tuple[int, int]] = []

    @contextlib.contextmanager
    def open_range(self, offset: int, length: int) -> Iterator[io.BytesIO]:
        self.reads.append((offset, length))
        yield io.BytesIO(self.data[offset : offset + length])


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[dict[str, bytes], bytes, bytes]:
    """The files, the container's plaintext and its ciphertext."""
    contents = {path: os.urandom(size) for path, size in SIZES.items()}
    for path, data in contents.items():
        target = tmp_path.joinpath("bid", *path.split("/")[1:])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    files = collect_bid_files(tmp_path / "bid")
    plaintext = ContainerStream(SUMMARY, files).read()
    assert len(plaintext) == container_size(SUMMARY, files)
    sink = io.BytesIO()
    Encryptor(KEY, INFO, segment_size=SEGMENT).encrypt(io.BytesIO(plaintext), sink)
    return contents, plaintext, sink.getvalue()


def index_of(ciphertext: bytes) -> tuple[IndexedFile, ...]:
    return index_container(Decryptor(KEY, INFO, segment_size=SEGMENT), io.BytesIO(ciphertext)).files


def test_one_pass_finds_every_file_where_it_lies_with_its_hash_and_the_ciphertexts_hash(
    sealed: tuple[dict[str, bytes], bytes, bytes],
) -> None:
    contents, plaintext, ciphertext = sealed
    index = index_container(Decryptor(KEY, INFO, segment_size=SEGMENT), io.BytesIO(ciphertext))
    assert index.summary == SUMMARY
    assert [f.path for f in index.files] == sorted(contents, key=str.encode)
    for file in index.files:
        assert plaintext[file.offset : file.offset + file.size] == contents[file.path]
        assert file.sha256 == hashlib.sha256(contents[file.path]).hexdigest()
    assert index.plaintext_size == len(plaintext)
    assert index.ciphertext.ciphertext_sha256 == hashlib.sha256(ciphertext).digest()
    assert index.ciphertext.ciphertext_size == len(ciphertext)
    # The index is what the container's canonical form says: a reader can check a stored one against it.
    summary_size = len(SUMMARY.canonical_bytes())
    assert [f.offset for f in index.files] == data_offsets(summary_size, [(f.path, f.size) for f in index.files])


def test_a_file_or_any_range_of_it_reads_back_from_only_the_segments_that_hold_it(
    sealed: tuple[dict[str, bytes], bytes, bytes],
) -> None:
    contents, _, ciphertext = sealed
    layout = layout_for_ciphertext(len(ciphertext), SEGMENT)
    header = ciphertext[:HEADER_SIZE]
    for file in index_of(ciphertext):
        data = contents[file.path]
        edges = sorted({0, 1, 4079, 4080, 4081, 8160, file.size // 2, file.size - 1, file.size})
        ranges = [(a, b) for a in edges for b in edges if 0 <= a <= b <= file.size]
        for start, end in ranges:
            store = Ciphertext(ciphertext)
            got = b"".join(
                bytes(v)
                for v in read_indexed_file(
                    Decryptor(KEY, INFO, segment_size=SEGMENT), header, layout, file, store.open_range, start, end
                )
            )
            assert got == data[start:end], (file.path, start, end)
            if start == end:
                assert store.reads == []
                continue
            first = segment_holding(file.offset + start, SEGMENT)
            last = segment_holding(file.offset + end - 1, SEGMENT)
            assert store.reads == [(lambda s: (s[0], s[1] - s[0]))(segment_span(layout, first, last))]


def test_the_segment_arithmetic_matches_the_layout() -> None:
    layout = layout_for_ciphertext(HEADER_SIZE + 10 * SEGMENT - HEADER_SIZE + 100, SEGMENT)
    plain = 0
    for index in range(layout.segments):
        assert segment_plaintext_start(index, SEGMENT) == plain
        assert segment_holding(plain, SEGMENT) == index
        start, end = segment_span(layout, index, index)
        plain += end - start - 16
        assert segment_holding(plain - 1, SEGMENT) == index
    assert plain == layout.plaintext_size
    with pytest.raises(ValueError):
        segment_span(layout, 0, layout.segments)


def test_a_range_outside_the_file_is_refused_before_anything_is_read(
    sealed: tuple[dict[str, bytes], bytes, bytes],
) -> None:
    _, _, ciphertext = sealed
    file = index_of(ciphertext)[2]
    store = Ciphertext(ciphertext)
    layout = layout_for_ciphertext(len(ciphertext), SEGMENT)
    for start, end in [(-1, 10), (10, 5), (0, file.size + 1)]:
        with pytest.raises(ValueError):
            list(
                read_indexed_file(
                    Decryptor(KEY, INFO, segment_size=SEGMENT), b"", layout, file, store.open_range, start, end
                )
            )
    assert store.reads == []


def test_a_segment_changed_moved_or_from_elsewhere_is_refused_when_read_by_range(
    sealed: tuple[dict[str, bytes], bytes, bytes],
) -> None:
    _, _, ciphertext = sealed
    layout = layout_for_ciphertext(len(ciphertext), SEGMENT)
    file = index_of(ciphertext)[2]  # 50,001 bytes: segments on either side of it
    first, last = file.segments(SEGMENT)
    assert last - first >= 10
    changed = bytearray(ciphertext)
    changed[(first + 3) * SEGMENT + 100] ^= 1
    # Segments swapped: each authenticates only at its own position.
    swapped = bytearray(ciphertext)
    a, b = (first + 1) * SEGMENT, (first + 2) * SEGMENT
    swapped[a:b], swapped[b : b + SEGMENT] = ciphertext[b : b + SEGMENT], ciphertext[a:b]
    for bad in (bytes(changed), bytes(swapped)):
        with pytest.raises(SegmentAuthenticationError):
            list(
                read_indexed_file(
                    Decryptor(KEY, INFO, segment_size=SEGMENT),
                    bad[:HEADER_SIZE],
                    layout,
                    file,
                    Ciphertext(bad).open_range,
                )
            )
    # Another key, or another header (salt), gives another segment key: nothing authenticates.
    for key, header in ((bytes(32), ciphertext[:HEADER_SIZE]), (KEY, ciphertext[:1] + bytes(39))):
        with pytest.raises(SegmentAuthenticationError):
            list(
                read_indexed_file(
                    Decryptor(key, INFO, segment_size=SEGMENT), header, layout, file, Ciphertext(ciphertext).open_range
                )
            )
    # A store that returns fewer bytes than the range asked for.
    short = ciphertext[: first * SEGMENT + 10]
    with pytest.raises(TruncatedCiphertextError):
        list(
            read_indexed_file(
                Decryptor(KEY, INFO, segment_size=SEGMENT),
                ciphertext[:HEADER_SIZE],
                layout,
                file,
                Ciphertext(short).open_range,
            )
        )


def test_one_pass_refuses_a_tampered_ciphertext_and_a_container_out_of_form(
    sealed: tuple[dict[str, bytes], bytes, bytes],
) -> None:
    _, plaintext, ciphertext = sealed
    for position in (HEADER_SIZE + 5, len(ciphertext) // 2, len(ciphertext) - 1):
        bad = bytearray(ciphertext)
        bad[position] ^= 0x80
        with pytest.raises(SegmentAuthenticationError):
            index_of(bytes(bad))
    with pytest.raises(SealingError):  # cut: its new last segment authenticates only where it was
        index_of(ciphertext[:-SEGMENT])
    # Well encrypted, but not a canonical container: a byte of the second member's ustar header changed.
    file = index_of(ciphertext)[1]
    spoiled = bytearray(plaintext)
    spoiled[file.offset - 512 + 100] ^= 1
    sink = io.BytesIO()
    Encryptor(KEY, INFO, segment_size=SEGMENT).encrypt(io.BytesIO(bytes(spoiled)), sink)
    with pytest.raises(ContainerError):
        index_of(sink.getvalue())


def test_the_one_pass_and_a_range_read_hold_a_few_segments_of_memory_whatever_the_size(tmp_path: Path) -> None:
    """Streamed from and to disk, 48 MiB pass with the memory of three 1 MiB buffers (Python's own allocations)."""
    import tracemalloc

    folder = tmp_path / "big" / "bid"
    folder.mkdir(parents=True)
    for name, size in (("a.bin", 40 * 1024 * 1024), ("b.bin", 8 * 1024 * 1024)):
        with open(folder / name, "wb") as data:
            for _ in range(size // (1024 * 1024)):
                data.write(os.urandom(1024 * 1024))
    ciphertext = tmp_path / "big.etb"
    with open(ciphertext, "wb") as out:
        Encryptor(KEY, INFO).encrypt(ContainerStream(SUMMARY, collect_bid_files(folder)), out)
    tracemalloc.start()
    try:
        with open(ciphertext, "rb") as source:
            index = index_container(Decryptor(KEY, INFO), source)
        _, peak_pass = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        layout = layout_for_ciphertext(ciphertext.stat().st_size)

        @contextlib.contextmanager
        def open_range(offset: int, length: int) -> Iterator[io.BufferedReader]:
            with open(ciphertext, "rb") as f:
                f.seek(offset)
                yield f

        with open(ciphertext, "rb") as head:
            header = head.read(HEADER_SIZE)
        tracemalloc.reset_peak()
        got = 0
        for view in read_indexed_file(Decryptor(KEY, INFO), header, layout, index.files[0], open_range):
            got += len(view)
        _, peak_read = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [f.size for f in index.files] == [40 * 1024 * 1024, 8 * 1024 * 1024] and got == 40 * 1024 * 1024
    assert peak_pass < 6 * 1024 * 1024, peak_pass  # 48 MiB went through
    assert peak_read < 4 * 1024 * 1024, peak_read  # 40 MiB read back
