"""The bid container: one byte sequence per bid, price summary first, refused in any other form."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tracemalloc
import unicodedata
from pathlib import Path

import pytest

from tendering.sealing.container import (
    BLOCK,
    PRICE_SUMMARY_PATH,
    BidFile,
    ContainerReader,
    ContainerStream,
    LotPrice,
    PriceSummary,
    check_member_path,
    collect_bid_files,
    container_size,
    member_header,
    parse_price_summary,
)
from tendering.sealing.errors import ContainerError, PriceSummaryError
from tests.sealing.helpers import IDENTITY, pattern

SUMMARY = PriceSummary.for_bid(
    IDENTITY,
    [
        LotPrice("1", "1234567.80", 180, {"质量标准": "合格", "项目经理": "张三"}),
        LotPrice("2", "0.00", 0),
    ],
)


def build(files: list[BidFile], summary: PriceSummary = SUMMARY) -> bytes:
    with ContainerStream(summary, files) as stream:
        data = stream.read()
    assert len(data) == container_size(summary, files)
    return data


@pytest.fixture
def bid_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "投标文件"
    (folder / "商务标").mkdir(parents=True)
    (folder / "技术标" / "附件").mkdir(parents=True)
    (folder / "empty").mkdir()
    (folder / "商务标" / "报价单.pdf").write_bytes(b"%PDF-1.7 price")
    (folder / "技术标" / "附件" / "a.txt").write_bytes(b"")
    (folder / "技术标" / "施工组织设计.docx").write_bytes(pattern(3000))
    (folder / "README").write_bytes(b"read me\n")
    return folder


# --- refusals ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "complaint"),
    [
        ("etender/other.json", "bid files live under 'bid/'"),
        ("bid/", "empty, '.' or '..' component"),
        ("bid/a//b", "empty, '.' or '..' component"),
        ("bid/../etc/passwd", "empty, '.' or '..' component"),
        ("bid/./a", "empty, '.' or '..' component"),
        ("bid/a\nb", "control characters"),
        ("bid/a\\b", "backslash"),
        ("bid/" + unicodedata.normalize("NFD", "é"), "normalization form C"),
        ("bid/" + "x" * 1021, "longer than 1024 bytes"),
    ],
)
def test_it_refuses_member_paths_that_are_not_clean_relative_nfc_paths_under_bid(path: str, complaint: str) -> None:
    with pytest.raises(ContainerError, match=complaint):
        check_member_path(path)


def test_it_refuses_symbolic_links_in_a_bid_folder(bid_folder: Path) -> None:
    (bid_folder / "link").symlink_to(bid_folder / "README")
    with pytest.raises(ContainerError, match=r"link.* regular files only"):
        collect_bid_files(bid_folder)


def test_it_refuses_a_linked_folder_and_an_empty_folder(tmp_path: Path, bid_folder: Path) -> None:
    (bid_folder / "elsewhere").symlink_to(tmp_path)
    with pytest.raises(ContainerError, match="symbolic link"):
        collect_bid_files(bid_folder)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ContainerError, match="holds no files"):
        collect_bid_files(tmp_path / "nothing")
    with pytest.raises(ContainerError, match="cannot read"):
        collect_bid_files(tmp_path / "missing")


def test_it_refuses_two_names_that_are_one_once_normalized(tmp_path: Path) -> None:
    (tmp_path / unicodedata.normalize("NFC", "é.txt")).write_bytes(b"1")
    (tmp_path / unicodedata.normalize("NFD", "é.txt")).write_bytes(b"2")
    with pytest.raises(ContainerError, match="same name once normalized"):
        collect_bid_files(tmp_path)


def test_it_refuses_a_file_that_changes_size_while_it_is_sealed(bid_folder: Path) -> None:
    files = collect_bid_files(bid_folder)
    (bid_folder / "README").write_bytes(b"read me, and more\n")
    with pytest.raises(ContainerError, match="README grew while it was being sealed"):
        build(files)
    (bid_folder / "README").write_bytes(b"short")
    with pytest.raises(ContainerError, match="README became shorter"):
        build(files)


def test_it_refuses_unsorted_files() -> None:
    files = [BidFile("bid/b", Path("/dev/null"), 0), BidFile("bid/a", Path("/dev/null"), 0)]
    with pytest.raises(ContainerError, match="sorted by the UTF-8 bytes"):
        ContainerStream(SUMMARY, files)


@pytest.mark.parametrize(
    ("make", "complaint"),
    [
        (lambda: LotPrice("1", "1234567.8", 1), "exactly two decimals"),
        (lambda: LotPrice("1", "01.00", 1), "exactly two decimals"),
        (lambda: LotPrice("1", "-1.00", 1), "exactly two decimals"),
        (lambda: LotPrice("1", 1.5, 1), "decimal string"),  # type: ignore[arg-type]
        (lambda: LotPrice("1", "1.00", -1), "schedule_days"),
        (lambda: LotPrice("1", "1.00", True), "schedule_days"),  # type: ignore[arg-type]
        (lambda: LotPrice("", "1.00", 1), "lot id must not be empty"),
        (lambda: LotPrice("1", "1.00", 1, {"a\tb": "x"}), "control characters"),
        (lambda: LotPrice("1", "1.00", 1, {"k": 3}), "must be a string"),  # type: ignore[dict-item]
        (lambda: PriceSummary.for_bid(IDENTITY, []), "1 to 1000 lots"),
        (lambda: PriceSummary.for_bid(IDENTITY, [LotPrice("1", "1.00", 1)] * 2), "lot '1' appears twice"),
        (lambda: PriceSummary("not-a-uuid", IDENTITY.bid, IDENTITY.bidder, (LotPrice("1", "1.00", 1),)), "tender"),
    ],
)
def test_it_refuses_a_price_summary_that_could_be_read_two_ways(make: object, complaint: str) -> None:
    with pytest.raises(PriceSummaryError, match=complaint):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        (lambda b: b.replace(b'"lots"', b'"lots" '), "not in canonical form"),
        (lambda b: b.replace(b'"format"', b'"extra":1,"format"'), "not in canonical form|unknown fields: extra"),
        (lambda b: b.replace(b"180", b"180.0"), "not an integer"),
        (lambda b: b.replace(b'"schedule_days":180', b'"schedule_days":"180"'), "schedule_days"),
        (lambda b: b.replace(b"etender-price-summary-v1", b"etender-price-summary-v2"), "format must be"),
        (lambda b: b[:-1], "not JSON"),
    ],
)
def test_it_refuses_price_summary_bytes_that_are_not_the_canonical_v1_form(mutate: object, complaint: str) -> None:
    with pytest.raises(PriceSummaryError, match=complaint):
        parse_price_summary(mutate(SUMMARY.canonical_bytes()))  # type: ignore[operator]


def read_all(data: bytes) -> tuple[PriceSummary, dict[str, bytes]]:
    reader = ContainerReader(io.BytesIO(data))
    summary = reader.price_summary()
    return summary, {member.path: member.read() for member in reader.files()}


def test_the_reader_refuses_a_container_without_the_price_summary_first(bid_folder: Path) -> None:
    files = collect_bid_files(bid_folder)
    data = build(files)
    first = len(member_header(PRICE_SUMMARY_PATH, 0)) + len(SUMMARY.canonical_bytes())
    first += -first % BLOCK
    with pytest.raises(ContainerError, match=r"first member of a bid container must be etender/price-summary.json"):
        read_all(data[first:])


def test_the_reader_refuses_files_out_of_order(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"A")
    (tmp_path / "b").write_bytes(b"B")
    data = build(collect_bid_files(tmp_path))
    a = member_header("bid/a", 1) + b"A" + bytes(511)
    b = member_header("bid/b", 1) + b"B" + bytes(511)
    assert a + b in data
    with pytest.raises(ContainerError, match=r"member 2 \('bid/a'\) is out of order or repeated"):
        read_all(data.replace(a + b, b + a))
    with pytest.raises(ContainerError, match="out of order or repeated"):
        read_all(data.replace(a + b, a + a))


def test_the_reader_refuses_headers_other_than_the_canonical_ones(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"A")
    data = build(collect_bid_files(tmp_path))
    header = member_header("bid/a", 1)
    at = data.index(header)
    for offset, value, complaint in [
        (1024 + 136, b"1", r"member 1 \('bid/a'\): its headers are not in the canonical form"),  # mtime
        (1024 + 100, b"7", "not in the canonical form"),  # mode
        (1024 + 156, b"5", "not in the canonical form"),  # a directory instead of a file
        (156, b"g", "expected a pax extended header"),  # global pax header
        (512 + 3, b"x", "pax header must hold exactly 'path' then 'size'|malformed pax record"),
    ]:
        damaged = bytearray(data)
        damaged[at + offset : at + offset + 1] = value
        with pytest.raises(ContainerError, match=complaint):
            read_all(bytes(damaged))


def test_the_reader_refuses_bad_padding_a_missing_end_and_data_after_the_end(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"A")
    data = build(collect_bid_files(tmp_path))
    end = len(data) - 2 * BLOCK
    damaged = bytearray(data)
    damaged[end - 1] = 1
    with pytest.raises(ContainerError, match="padding after its data is not zero"):
        read_all(bytes(damaged))
    with pytest.raises(ContainerError, match="ends early"):
        read_all(data[:end])
    with pytest.raises(ContainerError, match="a lone zero block"):
        read_all(data[: end + BLOCK] + b"\x01" + bytes(BLOCK - 1))
    with pytest.raises(ContainerError, match="data follows the end of the archive"):
        read_all(data + bytes(BLOCK))


# --- what works -------------------------------------------------------------------------------------------------


def test_a_folder_becomes_sorted_nfc_paths_under_bid(bid_folder: Path) -> None:
    (bid_folder / unicodedata.normalize("NFD", "é.txt")).write_bytes(b"e")
    paths = [f.path for f in collect_bid_files(bid_folder)]
    assert paths == [
        "bid/README",
        "bid/" + unicodedata.normalize("NFC", "é.txt"),
        "bid/商务标/报价单.pdf",  # U+5546 before U+6280
        "bid/技术标/施工组织设计.docx",
        "bid/技术标/附件/a.txt",
    ]
    assert paths == sorted(paths, key=lambda p: p.encode())


def test_a_single_file_becomes_one_member_named_after_it(bid_folder: Path) -> None:
    files = collect_bid_files(bid_folder / "商务标" / "报价单.pdf")
    assert [(f.path, f.size) for f in files] == [("bid/报价单.pdf", 14)]


def test_the_container_round_trips_with_the_price_summary_first(bid_folder: Path) -> None:
    files = collect_bid_files(bid_folder)
    summary, contents = read_all(build(files))
    assert summary == SUMMARY
    assert contents == {f.path: f.source.read_bytes() for f in files}


def test_pythons_tarfile_reads_the_container_as_a_plain_pax_archive(bid_folder: Path) -> None:
    files = collect_bid_files(bid_folder)
    with tarfile.open(fileobj=io.BytesIO(build(files)), mode="r:") as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == [PRICE_SUMMARY_PATH, *[f.path for f in files]]
        assert {(m.mode, m.uid, m.gid, m.mtime, m.uname, m.gname, m.type) for m in members} == {
            (0o644, 0, 0, 0, "", "", tarfile.REGTYPE)
        }
        extracted = archive.extractfile(members[0])
        assert extracted is not None and parse_price_summary(extracted.read()) == SUMMARY


def test_the_same_bid_gives_the_same_bytes_wherever_and_whenever_it_is_packed(bid_folder: Path, tmp_path: Path) -> None:
    first = build(collect_bid_files(bid_folder))
    os.utime(bid_folder / "README", (0, 1_700_000_000))
    (bid_folder / "README").chmod(0o600)
    assert build(collect_bid_files(bid_folder)) == first


def test_a_member_of_8_gib_or_more_keeps_its_size_in_the_pax_header_only() -> None:
    header = member_header("bid/huge.bin", 8**11)
    with tarfile.open(fileobj=io.BytesIO(header + bytes(1024)), mode="r:", ignore_zeros=False) as archive:
        member = archive.next()
        assert member is not None and member.size == 8**11
    assert header[-512 + 124 : -512 + 136] == b"00000000000\0"


def test_the_price_summary_is_read_without_reading_the_files(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(pattern(4 << 20))

    class Tally(io.RawIOBase):
        def __init__(self, stream: io.RawIOBase) -> None:
            self.stream, self.read_bytes = stream, 0

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            got = self.stream.readinto(buffer) or 0
            self.read_bytes += got
            return got

    tally = Tally(ContainerStream(SUMMARY, collect_bid_files(big)))
    assert ContainerReader(tally).price_summary() == SUMMARY
    assert tally.read_bytes == 4 * BLOCK  # the two headers, the summary, its padding


def test_packing_and_extracting_keep_memory_flat(tmp_path: Path) -> None:
    big = tmp_path / "source" / "big.bin"
    big.parent.mkdir()
    big.write_bytes(pattern(16 << 20))
    (tmp_path / "out").mkdir()
    tracemalloc.start()
    try:
        with ContainerStream(SUMMARY, collect_bid_files(big.parent)) as stream:
            extracted = ContainerReader(stream).extract_to(tmp_path / "out")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 << 20
    assert extracted[0].sha256 == hashlib.sha256(big.read_bytes()).hexdigest()
    assert (tmp_path / "out" / "bid" / "big.bin").read_bytes() == big.read_bytes()


def test_extraction_refuses_a_folder_that_is_not_empty(tmp_path: Path, bid_folder: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_bytes(b"")
    with pytest.raises(ContainerError, match="is not empty"):
        ContainerReader(io.BytesIO(build(collect_bid_files(bid_folder)))).extract_to(tmp_path / "out")
