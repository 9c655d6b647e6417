"""The response index (评审因素定位), the container's optional second member, and the required-materials check
(一次性告知): docs/sealed-bid-format.md §3.8 and docs/sealed-bid-vectors/response-index.json."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tendering.sealing import (
    ContainerError,
    ContainerReader,
    ContainerStream,
    Decryptor,
    Encryptor,
    LotPrice,
    Pointer,
    PriceSummary,
    ResponseIndex,
    ResponseIndexError,
    SealingError,
    collect_bid_files,
    missing_documents,
    open_bid,
    parse_response_index,
    seal_bid,
)
from tendering.sealing.container import (
    BidFile,
    container_size,
    data_offsets,
    index_container,
    member_header,
)
from tendering.sealing.envelopes import open_bidder_envelope
from tendering.sealing.response_index import (
    MAX_POINTERS,
    RESPONSE_INDEX_PATH,
    index_template,
    method_items,
    read_pointer_file,
)
from tests.sealing.helpers import BIDDER_KEY, CUSTODIAN_KEYS, IDENTITY, SIGNING_KEY, VECTORS

VECTOR = json.loads((VECTORS / "response-index.json").read_text(encoding="utf-8"))
CONTAINER_VECTOR = json.loads((VECTORS / "container.json").read_text(encoding="utf-8"))
SUMMARY = PriceSummary.for_bid(IDENTITY, [LotPrice("1", "6123456.70", 180)])


def vector_files(tmp_path: Path) -> list[BidFile]:
    files = []
    for number, item in enumerate(VECTOR["files"]):
        source = tmp_path / f"file-{number}"
        source.write_bytes(bytes.fromhex(item["content_hex"]))
        files.append(BidFile(item["path"], source, source.stat().st_size))
    return files


def vector_index() -> ResponseIndex:
    return ResponseIndex.of(Pointer(p["item"], p["path"], p["page"]) for p in VECTOR["pointers"])


# --- the vectors ------------------------------------------------------------------------------------------------


def test_the_index_and_its_container_are_the_vectors_bytes_and_read_back(tmp_path: Path) -> None:
    index = vector_index()
    assert index.canonical_bytes().decode() == VECTOR["index_text"]
    assert index.to_json() == VECTOR["index"]
    # Sorted by item, then path, then page: whatever order the bidder gave them in.
    assert [(p.item, p.page) for p in index.pointers] == [("C1", 3), ("D1", 1), ("Q1", 1), ("T1", 3), ("T1", 12)]
    files = vector_files(tmp_path)
    with ContainerStream(SUMMARY, files, index) as stream:
        container = stream.read()
    assert container.hex() == VECTOR["container_hex"]
    assert len(container) == VECTOR["container_size"] == container_size(SUMMARY, files, index)
    assert hashlib.sha256(container).hexdigest() == VECTOR["container_sha256"]
    reader = ContainerReader(io.BytesIO(container))
    assert reader.price_summary().to_json() == VECTOR["price_summary"]
    assert reader.response_index() == index
    assert [(m.path, m.read().hex()) for m in reader.files()] == [
        (f["path"], f["content_hex"]) for f in VECTOR["files"]
    ]


def test_a_container_without_an_index_is_the_old_vector_byte_for_byte(tmp_path: Path) -> None:
    files = []
    for number, item in enumerate(CONTAINER_VECTOR["files"]):
        source = tmp_path / str(number)
        source.write_bytes(bytes.fromhex(item["content_hex"]))
        files.append(BidFile(item["path"], source, source.stat().st_size))
    summary = PriceSummary.for_bid(
        IDENTITY,
        [LotPrice("1", "12345678.90", 365, {"质量标准": "合格", "项目经理": "李四"}), LotPrice("2", "0.50", 30)],
    )
    with ContainerStream(summary, files, None) as stream:
        assert stream.read().hex() == CONTAINER_VECTOR["container_hex"]
    reader = ContainerReader(io.BytesIO(bytes.fromhex(CONTAINER_VECTOR["container_hex"])))
    assert reader.response_index() is None
    assert [m.path for m in reader.files()] == [f["path"] for f in CONTAINER_VECTOR["files"]]


@pytest.mark.parametrize("case", VECTOR["invalid_index_texts"], ids=lambda c: c["name"])
def test_a_malformed_index_member_is_refused(case: dict[str, Any]) -> None:
    with pytest.raises(ResponseIndexError, match=None) as refused:
        parse_response_index(case["text"].encode())
    assert case["error"] in str(refused.value)
    # And inside a container, where the reader meets it: the same refusal, before any file is read.
    text = case["text"].encode()
    summary = SUMMARY.canonical_bytes()
    container = (
        member_header("etender/price-summary.json", len(summary))
        + summary
        + bytes(-len(summary) % 512)
        + member_header(RESPONSE_INDEX_PATH, len(text))
        + text
        + bytes(-len(text) % 512)
        + bytes(1024)
    )
    reader = ContainerReader(io.BytesIO(container))
    reader.price_summary()
    with pytest.raises(ResponseIndexError) as again:
        list(reader.files())
    assert case["error"] in str(again.value)


@pytest.mark.parametrize("case", VECTOR["invalid_containers"], ids=lambda c: c["name"])
def test_a_container_with_a_misplaced_or_stray_index_is_refused(case: dict[str, Any]) -> None:
    reader = ContainerReader(io.BytesIO(bytes.fromhex(case["container_hex"])))
    with pytest.raises(SealingError) as refused:
        reader.price_summary()
        list(reader.files())
    assert case["error"] in str(refused.value)


@pytest.mark.parametrize("case", VECTOR["missing_documents"], ids=lambda c: c["name"])
def test_the_required_materials_check_gives_the_vectors_missing_documents(case: dict[str, Any]) -> None:
    index = ResponseIndex.of(Pointer(**p) for p in case["pointers"]) if case["pointers"] else None
    found = missing_documents(VECTOR["method"], case["files"], index)
    assert [[q["id"], d["id"]] for q, d in found] == case["missing"]
    for qualification, document in found:  # named, so that the refusal can say what is missing
        assert qualification["title"] and document["name"]


# --- the writer's refusals --------------------------------------------------------------------------------------


def test_the_writer_refuses_an_index_pointing_to_a_file_not_in_the_bid(tmp_path: Path) -> None:
    files = vector_files(tmp_path)
    stray = ResponseIndex.of([Pointer("T1", "技术/不存在.pdf", 1)])
    with pytest.raises(ResponseIndexError, match=r"not in the bid: '技术/不存在\.pdf'"):
        ContainerStream(SUMMARY, files, stray)
    sink = io.BytesIO()
    with pytest.raises(ResponseIndexError):
        seal_bid(
            files,
            SUMMARY,
            IDENTITY.tender,
            IDENTITY.bid,
            IDENTITY.bidder,
            SIGNING_KEY,
            BIDDER_KEY.public_key(),
            [CUSTODIAN_KEYS[0].public_key()],
            1,
            sink,
            response_index=stray,
        )
    assert sink.getvalue() == b""  # refused before a byte was written


@pytest.mark.parametrize(
    ("item", "path", "page", "words"),
    [
        ("T1", "a.pdf", 0, "page"),
        ("T1", "a.pdf", 100_001, "page"),
        ("T1", "a.pdf", True, "page"),
        ("", "a.pdf", 1, "item"),
        ("T 1", "a.pdf", 1, "item"),
        ("T1", "", 1, "no file path"),
        ("T1", "/etc/passwd", 1, "empty"),
        ("T1", "a/../b.pdf", 1, "'..'"),
        ("T1", "a\\b.pdf", 1, "backslash"),
        ("T1", "e\u0301.pdf", 1, "normalization form C"),
    ],
)
def test_a_bad_pointer_is_refused(item: Any, path: Any, page: Any, words: str) -> None:
    with pytest.raises(ResponseIndexError, match=words):
        Pointer(item, path, page)


def test_too_many_pointers_or_an_oversized_index_are_refused() -> None:
    many = [Pointer("T1", f"f{i:05}.pdf", 1) for i in range(MAX_POINTERS + 1)]
    with pytest.raises(ResponseIndexError, match="1 to 2000 pointers, not 2001"):
        ResponseIndex.of(many)
    text = json.dumps(
        {"format": "etender-response-index-v1", "pointers": [p.to_json() for p in many]},
        separators=(",", ":"),
        sort_keys=True,
    )
    with pytest.raises(ResponseIndexError, match="1 to 2000 pointers"):
        parse_response_index(text.encode())
    long_paths = ResponseIndex.of(Pointer("T1", f"{i:04}" + "长" * 330 + ".pdf", 1) for i in range(MAX_POINTERS))
    with pytest.raises(ResponseIndexError, match="more than 1048576"):
        long_paths.canonical_bytes()
    # A reader refuses an oversized member by its header alone, before reading it.
    summary = SUMMARY.canonical_bytes()
    container = (
        member_header("etender/price-summary.json", len(summary))
        + summary
        + bytes(-len(summary) % 512)
        + member_header(RESPONSE_INDEX_PATH, 1_048_577)
    )
    reader = ContainerReader(io.BytesIO(container))
    with pytest.raises(ContainerError, match="more than 1048576"):
        reader.response_index()


def test_unsorted_or_repeated_pointers_are_refused_as_given() -> None:
    one, two = Pointer("T1", "a.pdf", 1), Pointer("T1", "a.pdf", 2)
    with pytest.raises(ResponseIndexError, match="not in order"):
        ResponseIndex((two, one))
    with pytest.raises(ResponseIndexError, match="twice"):
        ResponseIndex.of([one, one])


# --- sealed, opened, indexed ----------------------------------------------------------------------------------


def test_the_index_travels_inside_the_ciphertext_and_comes_out_of_the_opening_pass(tmp_path: Path) -> None:
    folder = tmp_path / "bid"
    for item in VECTOR["files"]:
        target = folder / item["path"].removeprefix("bid/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bytes.fromhex(item["content_hex"]) + os.urandom(3000))
    index = vector_index()
    sink = io.BytesIO()
    sealed = seal_bid(
        str(folder),
        SUMMARY,
        IDENTITY.tender,
        IDENTITY.bid,
        IDENTITY.bidder,
        SIGNING_KEY,
        BIDDER_KEY.public_key(),
        [CUSTODIAN_KEYS[0].public_key()],
        1,
        sink,
        response_index=index,
    )
    ciphertext = sink.getvalue()
    assert index.canonical_bytes() not in ciphertext and "技术/施工组织设计.pdf".encode() not in ciphertext
    file_key = open_bidder_envelope(sealed.manifest.envelopes.bidder, IDENTITY, BIDDER_KEY)
    found = index_container(Decryptor(file_key, IDENTITY.stream_info()), io.BytesIO(ciphertext))
    assert found.response_index == index
    assert [f.offset for f in found.files] == data_offsets(
        len(SUMMARY.canonical_bytes()), [(f.path, f.size) for f in found.files], len(index.canonical_bytes())
    )
    opened = open_bid(io.BytesIO(ciphertext), sealed.manifest, file_key, tmp_path / "opened")
    assert opened.response_index == index
    assert [f.path for f in opened.files] == [f.path for f in collect_bid_files(folder)]


def test_a_bid_without_an_index_opens_with_none(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"x")
    plain = io.BytesIO()
    key = os.urandom(32)
    Encryptor(key, IDENTITY.stream_info()).encrypt(ContainerStream(SUMMARY, collect_bid_files(tmp_path)), plain)
    found = index_container(Decryptor(key, IDENTITY.stream_info()), io.BytesIO(plain.getvalue()))
    assert found.response_index is None and [f.path for f in found.files] == ["bid/a.txt"]
    assert [f.offset for f in found.files] == data_offsets(len(SUMMARY.canonical_bytes()), [("bid/a.txt", 1)])


# --- the bidder's template file -------------------------------------------------------------------------------


def test_the_template_lists_every_item_and_guesses_documents_and_reads_back_filled() -> None:
    files = ["技术/施工组织设计.pdf", "资格/营业执照.pdf", "资格/资质证书-一级.pdf"]
    template = index_template(VECTOR["method"], files)
    assert [(p["item"], p["kind"], p["path"]) for p in template["pointers"]] == [
        ("T1", "technical", ""),
        ("C1", "commercial", ""),
        ("Q1", "qualification", ""),
        ("D1", "document", "资格/营业执照.pdf"),
        ("D2", "document", "资格/资质证书-一级.pdf"),
        ("Q2", "qualification", ""),
    ]
    assert [i["item"] for i in method_items(VECTOR["method"])] == [p["item"] for p in template["pointers"]]
    template["pointers"][0].update(path="技术/施工组织设计.pdf", page=7)
    index = read_pointer_file(json.dumps(template, ensure_ascii=False).encode(), VECTOR["method"])
    assert index is not None
    assert [(p.item, p.path, p.page) for p in index.pointers] == [
        ("D1", "资格/营业执照.pdf", 1),
        ("D2", "资格/资质证书-一级.pdf", 1),
        ("T1", "技术/施工组织设计.pdf", 7),
    ]
    assert read_pointer_file(json.dumps(index_template(None, files)).encode()) is None  # no method: nothing


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (b"{not json", "not JSON"),
        (b'{"format": "other", "pointers": []}', "format"),
        (
            b'{"format": "etender-response-index-v1", "pointers": [{"item": "X9", "path": "a.pdf", "page": 1}]}',
            "not an item of the tender's method",
        ),
        (b'{"format": "etender-response-index-v1", "pointers": [{"item": "T1", "path": "a.pdf", "page": 0}]}', "page"),
        (
            b'{"format": "etender-response-index-v1", "pointers": [{"item": "T1", "path": "a.pdf", "pg": 1}]}',
            "object of item, path and page",
        ),
    ],
)
def test_a_bad_pointer_file_is_refused(text: bytes, words: str) -> None:
    with pytest.raises(ResponseIndexError, match=words):
        read_pointer_file(text, VECTOR["method"])
