"""Writes docs/sealed-bid-vectors/*.json, the test vectors of the sealed-bid format.

    .venv/bin/python -m tests.sealing.make_vectors

Deterministic where the format is (stream, container, key commitment, XOR,
the manifest's bytes, the RFC 6979 signature); HPKE encryption is randomized,
so its vectors are (private key, info, envelope) → plaintext, kept as first
written. Running this again rewrites the HPKE envelopes and everything that
contains them (the manifest, its signature): commit the result only when the
format changes; ``--deterministic-only`` rewrites only the other files (stream,
container, signature, identity, response-index). tests/sealing/test_vectors.py checks every vector.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tendering.sealing.container import (
    PRICE_SUMMARY_PATH,
    ContainerStream,
    LotPrice,
    PriceSummary,
    collect_bid_files,
    member_header,
)
from tendering.sealing.envelopes import (
    bidder_envelope_info,
    custodian_part_info,
    key_commitment,
    seal_file_key,
    split_key,
)
from tendering.sealing.errors import IdentityError, ResponseIndexError
from tendering.sealing.identity import check_credit_code
from tendering.sealing.keys import spki_der
from tendering.sealing.manifest import Manifest, der_to_raw, raw_to_der
from tendering.sealing.response_index import (
    RESPONSE_INDEX_PATH,
    Pointer,
    ResponseIndex,
    missing_documents,
    parse_response_index,
)
from tendering.sealing.stream import (
    HEADER_SIZE,
    SEGMENT_SIZE,
    TAG_SIZE,
    Encryptor,
    derive_segment_key,
    segment_nonce,
)
from tests.sealing.helpers import (
    BIDDER_KEY,
    CUSTODIAN_KEYS,
    IDENTITY,
    OTHER_IDENTITY,
    P256_ORDER,
    SIGNING_KEY,
    VECTORS,
    key_description,
    pattern,
)

FILE_KEY = hashlib.sha256(b"etender vector file key").digest()
SALT = hashlib.sha256(b"etender vector salt").digest()
NONCE_PREFIX = hashlib.sha256(b"etender vector nonce prefix").digest()[:7]
FIRST = SEGMENT_SIZE - HEADER_SIZE - TAG_SIZE
OTHER = SEGMENT_SIZE - TAG_SIZE
CLIENT_TIME = "2026-03-02T01:00:00.000Z"

# Small plaintexts are given in full; large ones as the pattern (byte i = i mod 251) of a size.
STREAM_CASES: list[tuple[str, bytes | int]] = [
    ("empty plaintext", b""),
    ("one byte", b"\x00"),
    ("a short text", "etender 投标 v1".encode()),
    ("segment 0 one byte short of full", FIRST - 1),
    ("segment 0 exactly full", FIRST),
    ("segment 0 full plus one byte", FIRST + 1),
    ("two segments exactly full", FIRST + OTHER),
    ("two full segments plus one byte", FIRST + OTHER + 1),
    ("three segments and a partial fourth", FIRST + 2 * OTHER + 12345),
]
SMALL_LIMIT = 4096

# Faults and the error every implementation must raise for them (docs/sealed-bid-format.md §2.5).
INVALID_STREAMS = [
    (
        "cut at the segment boundary (final segment missing)",
        "two full segments plus one byte",
        {"truncate_to": 2 * SEGMENT_SIZE},
        "truncated",
    ),
    ("cut inside the final segment's tag", "a short text", {"truncate_to": HEADER_SIZE + 10}, "truncated"),
    ("cut inside the header", "a short text", {"truncate_to": 20}, "truncated"),
    ("header only", "empty plaintext", {"truncate_to": HEADER_SIZE}, "truncated"),
    ("one byte after a full final segment", "two segments exactly full", {"append_hex": "00"}, "trailing data"),
    ("one byte after a partial final segment", "a short text", {"append_hex": "00"}, "authentication"),
    ("segments 1 and 2 swapped", "three segments and a partial fourth", {"swap_segments": [1, 2]}, "authentication"),
    ("a bit flipped in segment 0", "a short text", {"flip_bit_of_byte": HEADER_SIZE + 3}, "authentication"),
    ("a bit flipped in the salt", "a short text", {"flip_bit_of_byte": 5}, "authentication"),
    ("first byte 0x29", "a short text", {"set_byte": [0, 41]}, "bad header"),
    ("opened as another bid", "a short text", {"info": None}, "authentication"),
]
# Two faults at once (§2.5): segments are processed in order and the first failing one decides, so the
# refusal names the earlier fault's segment, whatever comes after it.
INVALID_STREAMS_NAMING_A_SEGMENT = [
    (
        "two faults: a bit flipped in segment 1, and the stream cut after segment 2",
        "three segments and a partial fourth",
        {"truncate_to": 3 * SEGMENT_SIZE, "flip_bit_of_byte": SEGMENT_SIZE + 100},
        "authentication",
        1,
    ),
    (
        "two faults: a bit flipped in segment 2, and a byte appended after the final segment",
        "three segments and a partial fourth",
        {"append_hex": "00", "flip_bit_of_byte": 2 * SEGMENT_SIZE + 7},
        "authentication",
        2,
    ),
    (
        "two faults: the stream cut after segment 1, and segment 0 flipped",
        "two full segments plus one byte",
        {"truncate_to": 2 * SEGMENT_SIZE, "flip_bit_of_byte": HEADER_SIZE + 3},
        "authentication",
        0,
    ),
    (
        "two faults: first byte 0x29, and the stream cut inside the header",
        "a short text",
        {"truncate_to": 20, "set_byte": [0, 41]},
        "bad header",
        None,
    ),
]

# ustar name fields (§3.3): every non-ASCII *code point* is one '?'. Astral characters (an emoji, CJK
# Extension B) are one code point but two UTF-16 code units and four UTF-8 bytes: an implementation that
# replaces code units or bytes writes more '?' (and, past 100, cuts elsewhere).
# Each with its ustar name field written out (the header's last 512 bytes are the ustar block).
MEMBER_HEADER_PATHS = [
    ("bid/a.txt", 5, "bid/a.txt"),
    ("bid/技术标/方案.txt", 0, "bid/???/??.txt"),
    ("bid/报价😀.txt", 12, "bid/???.txt"),
    ("bid/𠀀𠀁𪚥/方案.pdf", 1, "bid/???/??.pdf"),
    ("bid/" + "😀" * 60 + ".pdf", 3, "bid/" + "?" * 60 + ".pdf"),
    ("bid/" + "a" * 95 + "𠀀.txt", 0, "bid/" + "a" * 95 + "?"),
]


def hexed(data: bytes) -> str:
    return data.hex()


def stream_vectors() -> dict[str, Any]:
    info = IDENTITY.stream_info()
    cases = []
    for name, plaintext in STREAM_CASES:
        data = plaintext if isinstance(plaintext, bytes) else pattern(plaintext)
        sink = io.BytesIO()
        result = Encryptor(FILE_KEY, info, salt=SALT, nonce_prefix=NONCE_PREFIX).encrypt(io.BytesIO(data), sink)
        ciphertext = sink.getvalue()
        case: dict[str, Any] = {"name": name}
        if isinstance(plaintext, bytes):
            case["plaintext_hex"] = hexed(plaintext)
        else:
            case["plaintext_pattern_size"] = plaintext
        case.update(
            {
                "plaintext_size": len(data),
                "segments": result.segments,
                "ciphertext_size": len(ciphertext),
                "ciphertext_sha256": hashlib.sha256(ciphertext).hexdigest(),
                "final_segment_size": len(ciphertext)
                - (result.segments - 1) * SEGMENT_SIZE
                - (HEADER_SIZE if result.segments == 1 else 0),
            }
        )
        if len(ciphertext) <= SMALL_LIMIT:
            case["ciphertext_hex"] = hexed(ciphertext)
        else:
            case["ciphertext_head_hex"] = hexed(ciphertext[:80])
            case["ciphertext_tail_hex"] = hexed(ciphertext[-48:])
        cases.append(case)
    return {
        "description": "Streaming encryption (docs/sealed-bid-format.md §2): Tink AES-GCM-HKDF streaming, "
        "HKDF-SHA256, 32-byte key, 1 MiB segments, info as associated data. A case gives its plaintext in hex, "
        "or as plaintext_pattern_size: that many bytes where byte i is i mod 251.",
        "segment_size": SEGMENT_SIZE,
        "file_key_hex": hexed(FILE_KEY),
        "salt_hex": hexed(SALT),
        "nonce_prefix_hex": hexed(NONCE_PREFIX),
        "tender": IDENTITY.tender,
        "bid": IDENTITY.bid,
        "bidder": IDENTITY.bidder,
        "info": info.decode(),
        "header_hex": hexed(bytes([HEADER_SIZE]) + SALT + NONCE_PREFIX),
        "segment_key_hex": hexed(derive_segment_key(FILE_KEY, SALT, info)),
        "nonces": [
            {"segment": i, "last": last, "nonce_hex": hexed(segment_nonce(NONCE_PREFIX, i, last))}
            for i, last in [(0, False), (0, True), (1, False), (258, True)]
        ],
        "cases": cases,
        "other_info": OTHER_IDENTITY.stream_info().decode(),
        "invalid": [
            {"name": name, "from_case": case, "change": change, "error": error}
            for name, case, change, error in INVALID_STREAMS
        ]
        + [
            {"name": name, "from_case": case, "change": change, "error": error}
            | ({"segment": segment} if segment is not None else {})
            for name, case, change, error, segment in INVALID_STREAMS_NAMING_A_SEGMENT
        ],
        "invalid_description": "Apply the change to the ciphertext of from_case and decrypt: truncate_to keeps the "
        "first N bytes; append_hex appends; swap_segments swaps two 1 MiB segments (segment i is the bytes "
        "[i*1048576, (i+1)*1048576), segment 0 including the header); flip_bit_of_byte XORs byte N with 0x01; "
        "set_byte [N, V] sets byte N to V; info null decrypts with other_info instead of info. Several changes "
        "apply in that order. error is the kind of refusal: truncated, trailing data, authentication, bad header; "
        "segment, where given, is the 0-based segment the refusal must name (the first failing one).",
    }


def envelope_vectors(envelopes: Any) -> dict[str, Any]:
    custodians = envelopes.custodians
    n = len(custodians.recipients)
    parts = []
    for subset in custodians.subsets:
        for position, sealed in zip(subset.members, subset.parts, strict=True):
            info = custodian_part_info(
                IDENTITY, custodians.threshold, n, subset.members, position, custodians.recipients[position]
            )
            from tendering.sealing.envelopes import SUITE

            plaintext = SUITE.decrypt(sealed, CUSTODIAN_KEYS[position], info)
            parts.append(
                {
                    "members": list(subset.members),
                    "position": position,
                    "recipient": custodians.recipients[position],
                    "info": info.decode(),
                    "sealed_hex": hexed(sealed),
                    "plaintext_hex": hexed(plaintext),
                }
            )
    counter = iter(range(1, 1000))
    xor_cases = []
    for k in (1, 2, 3, 4):
        fixed = split_key(FILE_KEY, k, lambda size: hashlib.sha256(b"part %d" % next(counter)).digest()[:size])
        xor_cases.append({"parts_hex": [hexed(p) for p in fixed], "key_hex": hexed(FILE_KEY)})
    kc_keys = [bytes(32), bytes(range(32)), FILE_KEY, b"\xff" * 32]
    bidder_info = bidder_envelope_info(IDENTITY, envelopes.bidder.recipient)
    return {
        "description": "HPKE envelopes (docs/sealed-bid-format.md §4): RFC 9180 base mode, "
        "DHKEM(P-256, HKDF-SHA256) 0x0010, HKDF-SHA256 0x0001, AES-256-GCM 0x0002, single shot, empty aad; "
        "sealed = enc (65) ‖ ciphertext ‖ tag. Encryption is randomized: open sealed_hex with the recipient's "
        "private key and info, expect plaintext_hex. The parts of each subset XOR to the file key.",
        "suite": {"mode": 0, "kem_id": 16, "kdf_id": 1, "aead_id": 2},
        "tender": IDENTITY.tender,
        "bid": IDENTITY.bid,
        "bidder": IDENTITY.bidder,
        "file_key_hex": hexed(FILE_KEY),
        "keys": {
            "bidder_encryption": key_description(BIDDER_KEY),
            "custodians": [key_description(k) for k in CUSTODIAN_KEYS[:n]],
        },
        "threshold": custodians.threshold,
        "bidder_envelope": {
            "recipient": envelopes.bidder.recipient,
            "info": bidder_info.decode(),
            "sealed_hex": hexed(envelopes.bidder.sealed),
            "plaintext_hex": hexed(FILE_KEY),
        },
        "custodian_parts": parts,
        "xor": xor_cases,
        "key_commitment": [{"file_key_hex": hexed(k), "kc_hex": hexed(key_commitment(k))} for k in kc_keys],
    }


def member_header_vector(path: str, size: int, ustar_name: str) -> dict[str, Any]:
    header = member_header(path, size)
    assert header[-512:][:100].rstrip(b"\0") == ustar_name.encode("ascii"), path
    return {"path": path, "size": size, "ustar_name": ustar_name, "header_hex": hexed(header)}


def container_vectors(folder: Path) -> tuple[dict[str, Any], PriceSummary, bytes]:
    files = collect_bid_files(folder)
    summary = PriceSummary.for_bid(
        IDENTITY,
        [
            LotPrice("1", "12345678.90", 365, {"质量标准": "合格", "项目经理": "李四"}),
            LotPrice("2", "0.50", 30),
        ],
    )
    with ContainerStream(summary, files) as stream:
        container = stream.read()
    return (
        {
            "description": "The plaintext container (docs/sealed-bid-format.md §3): "
            "a pax tar, the price summary first, "
            "then the files sorted by the UTF-8 bytes of their paths. Build it from price_summary and files: the "
            "bytes must be container_hex exactly.",
            "price_summary": summary.to_json(),
            "price_summary_text": summary.canonical_bytes().decode(),
            "files": [{"path": f.path, "content_hex": hexed(f.source.read_bytes())} for f in files],
            "member_headers": [member_header_vector(path, size, name) for path, size, name in MEMBER_HEADER_PATHS],
            "container_size": len(container),
            "container_sha256": hashlib.sha256(container).hexdigest(),
            "container_hex": hexed(container),
        },
        summary,
        container,
    )


# The response index (§3.8): the method of docs/evaluation.md's example, a bid folder answering it, the pointers
# in the order a bidder might give them (the index sorts them).
RESPONSE_METHOD: dict[str, Any] = {
    "format": "etender-method-v1",
    "qualification": [
        {
            "id": "Q1",
            "title": "营业执照及资质",
            "documents": [{"id": "D1", "name": "营业执照"}, {"id": "D2", "name": "资质证书"}],
        },
        {"id": "Q2", "title": "投标保证金", "documents": []},
    ],
    "criteria": [
        {
            "id": "T1",
            "title": "施工组织设计",
            "kind": "technical",
            "weight": "30.00",
            "min_score": "0.00",
            "max_score": "10.00",
        },
        {
            "id": "C1",
            "title": "企业业绩",
            "kind": "commercial",
            "weight": "20.00",
            "min_score": "0.00",
            "max_score": "10.00",
        },
    ],
    "price": {"rule": "lowest_ratio", "weight": "50.00"},
    "anonymous_technical": False,
    "deviation_threshold_percent": "30.00",
}
RESPONSE_FILES = [
    ("技术/施工组织设计.pdf", "%PDF-1.7 施工组织设计\n"),
    ("资格/营业执照.pdf", "%PDF-1.7 营业执照\n"),
    ("资格/资质证书-建筑工程施工总承包一级.pdf", "%PDF-1.7 资质\n"),
    ("商务/业绩.txt", "近三年业绩 12 项\n"),
]
RESPONSE_POINTERS = [
    {"item": "T1", "path": "技术/施工组织设计.pdf", "page": 12},
    {"item": "D1", "path": "资格/营业执照.pdf", "page": 1},
    {"item": "C1", "path": "商务/业绩.txt", "page": 3},
    {"item": "T1", "path": "技术/施工组织设计.pdf", "page": 3},
    {"item": "Q1", "path": "资格/营业执照.pdf", "page": 1},
]
_GOOD = '{"format":"etender-response-index-v1","pointers":[{"item":"T1","page":1,"path":"a.pdf"}]}'
# Index members to refuse (the reader's parse), with the words the refusal must hold.
INVALID_RESPONSE_INDEXES = [
    ("not JSON", '{"format":"etender-response-index-v1","pointers":[', "JSON"),
    ("not canonical (a space)", _GOOD.replace(',"pointers"', ', "pointers"'), "canonical"),
    ("another format", _GOOD.replace("-v1", "-v2"), "format"),
    ("an unknown field", _GOOD.replace('{"item"', '{"extra":1,"item"'), "unknown fields"),
    ("a missing page", _GOOD.replace('"page":1,', ""), "lacks page"),
    ("page 0", _GOOD.replace('"page":1', '"page":0'), "page"),
    ("page 100001", _GOOD.replace('"page":1', '"page":100001'), "page"),
    ("a page as a string", _GOOD.replace('"page":1', '"page":"1"'), "page"),
    ("an item id of 17 characters", _GOOD.replace('"T1"', '"' + "T" * 17 + '"'), "item"),
    ("an item id with a dot", _GOOD.replace('"T1"', '"T.1"'), "item"),
    ("a path with '..'", _GOOD.replace("a.pdf", "../a.pdf"), "'..'"),
    ("an empty path", _GOOD.replace("a.pdf", ""), "no file path"),
    ("no pointers", '{"format":"etender-response-index-v1","pointers":[]}', "1 to 2000 pointers"),
    (
        "pointers out of order",
        _GOOD.replace('"T1"', '"T2"').replace("]}", ',{"item":"T1","page":1,"path":"a.pdf"}]}'),
        "not in order",
    ),
    ("a pointer twice", _GOOD.replace("]}", ',{"item":"T1","page":1,"path":"a.pdf"}]}'), "twice"),
]


def response_index_vectors(folder: Path) -> dict[str, Any]:
    for path, text in RESPONSE_FILES:
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text, encoding="utf-8")
    files = collect_bid_files(folder)
    summary = PriceSummary.for_bid(IDENTITY, [LotPrice("1", "6123456.70", 180)])
    index = ResponseIndex.of(Pointer(p["item"], p["path"], p["page"]) for p in RESPONSE_POINTERS)
    with ContainerStream(summary, files, index) as stream:
        container = stream.read()
    summary_bytes, index_bytes = summary.canonical_bytes(), index.canonical_bytes()

    def member(path: str, data: bytes) -> bytes:
        return member_header(path, len(data)) + data + bytes(-len(data) % 512)

    def faulty(name: str, members: list[tuple[str, bytes]], error: str) -> dict[str, Any]:
        return {
            "name": name,
            "container_hex": hexed(b"".join(member(p, d) for p, d in members) + bytes(1024)),
            "error": error,
        }

    first_file = (files[0].path, files[0].source.read_bytes())
    stray = ResponseIndex.of([Pointer("T1", "技术/不存在.pdf", 1)]).canonical_bytes()
    invalid_containers = [
        faulty(
            "the index points to a file the bid does not hold",
            [(PRICE_SUMMARY_PATH, summary_bytes), (RESPONSE_INDEX_PATH, stray), first_file],
            "not in the bid",
        ),
        faulty(
            "the index after a bid file",
            [(PRICE_SUMMARY_PATH, summary_bytes), first_file, (RESPONSE_INDEX_PATH, index_bytes)],
            "the response index the second",
        ),
        faulty(
            "the index twice",
            [
                (PRICE_SUMMARY_PATH, summary_bytes),
                (RESPONSE_INDEX_PATH, index_bytes),
                (RESPONSE_INDEX_PATH, index_bytes),
                first_file,
            ],
            "the response index the second",
        ),
        faulty(
            "the index before the price summary",
            [(RESPONSE_INDEX_PATH, index_bytes), (PRICE_SUMMARY_PATH, summary_bytes), first_file],
            "first member",
        ),
    ]
    relative = [f.path.removeprefix("bid/") for f in files]
    cases = [
        ("everything present, by name and by pointer", relative, RESPONSE_POINTERS, []),
        ("no 资质证书 file, no pointer", [p for p in relative if "资质" not in p], [], [["Q1", "D2"]]),
        (
            "营业执照 only under another name, but pointed to",
            ["技术/施工组织设计.pdf", "资格/license-scan.pdf", "资格/资质证书.pdf"],
            [{"item": "D1", "path": "资格/license-scan.pdf", "page": 2}],
            [],
        ),
        (
            "a pointer to a file not in the folder does not count",
            ["技术/施工组织设计.pdf", "资格/资质证书.pdf"],
            [{"item": "D1", "path": "资格/license-scan.pdf", "page": 2}],
            [["Q1", "D1"]],
        ),
        ("an empty folder misses both", [], [], [["Q1", "D1"], ["Q1", "D2"]]),
    ]
    missing_cases = []
    for name, folder_files, pointers, expected in cases:
        given = ResponseIndex.of(Pointer(p["item"], p["path"], p["page"]) for p in pointers) if pointers else None
        found = [[q["id"], d["id"]] for q, d in missing_documents(RESPONSE_METHOD, folder_files, given)]
        assert found == expected, (name, found)
        missing_cases.append({"name": name, "files": folder_files, "pointers": pointers, "missing": expected})
    for name, text, error in INVALID_RESPONSE_INDEXES:
        try:
            parse_response_index(text.encode())
        except ResponseIndexError as exc:
            assert error in str(exc), (name, str(exc))
        else:
            raise AssertionError(f"{name}: accepted")
    return {
        "description": "The response index (docs/sealed-bid-format.md §3.8): the second member of the container, "
        "canonical JSON. Build the index from pointers (any order; it sorts them) and the container from "
        "price_summary, files and the index: the bytes must be index_text and container_hex exactly. Refuse "
        "each of invalid_index_texts (as a member) and of invalid_containers, with a message holding `error`. "
        "missing_documents: the required-materials check (一次性告知) of method for a folder's files and pointers.",
        "method": RESPONSE_METHOD,
        "pointers": RESPONSE_POINTERS,
        "index": index.to_json(),
        "index_text": index_bytes.decode(),
        "price_summary": summary.to_json(),
        "files": [{"path": f.path, "content_hex": hexed(f.source.read_bytes())} for f in files],
        "container_size": len(container),
        "container_sha256": hashlib.sha256(container).hexdigest(),
        "container_hex": hexed(container),
        "invalid_index_texts": [{"name": n, "text": t, "error": e} for n, t, e in INVALID_RESPONSE_INDEXES],
        "invalid_containers": invalid_containers,
        "missing_documents": missing_cases,
    }


# Unified social credit codes (§1): valid ones, among them a check value of 31 written as '0' and one of 30
# ('Y'), and codes to refuse with the first rule they break (the rules are checked in the order of §1).
VALID_CREDIT_CODES = [
    "91350100M000100Y43",
    "91110000600037341L",
    "911100001000079554",
    IDENTITY.bidder,
    "91360781MA0000019Y",
    "91360781MA00000290",
]
INVALID_CREDIT_CODES = [
    ("17 characters", "91350100M000100Y4", "length"),
    ("19 characters", "91350100M000100Y433", "length"),
    ("empty", "", "length"),
    ("17 code points, one of them an emoji (18 UTF-16 code units)", "91350100M000100Y😀", "length"),
    ("the letter O, not in the alphabet", "91350100M00010OY43", "character"),
    ("the letter I", "91350100M00010IY43", "character"),
    ("the letter S", "91350100M00010SY43", "character"),
    ("the letter V", "91350100M00010VY43", "character"),
    ("the letter Z", "91350100M00010ZY43", "character"),
    ("a full-width digit", "9135010０M000100Y43", "character"),
    ("lower case (one spelling only)", "91350100m000100y43", "character"),
    ("a letter in the administrative division", "913501A0M000100Y43", "division"),
    ("a wrong check character", "91350100M000100Y44", "check"),
    ("the check character that weights 1..17 (instead of 3^i mod 31) would give", "91350100M000100Y4A", "check"),
    (
        "two faults: a letter in the division and an O later: the alphabet rule comes first",
        "913501A0M00010OY43",
        "character",
    ),
    ("two faults: 17 characters and an O: the length rule comes first", "91350100M00010OY4", "length"),
    ("two faults: a letter in the division and a wrong check character", "913501A0M000100Y44", "division"),
]


def identity_vectors() -> dict[str, Any]:
    from accounts import credit_code

    weights = [pow(3, i, 31) for i in range(17)]
    assert tuple(weights) == credit_code.WEIGHTS
    value = {ch: i for i, ch in enumerate(credit_code.ALPHABET)}
    valid = []
    for code in VALID_CREDIT_CODES:
        total = sum(value[ch] * weight for ch, weight in zip(code[:17], weights, strict=True))
        check = (31 - total % 31) % 31
        assert credit_code.ALPHABET[check] == code[17] and credit_code.validate(code) == code
        valid.append({"code": code, "weighted_sum": total, "check_value": check})
    for _name, code, _reason in INVALID_CREDIT_CODES:
        try:
            check_credit_code(code)
        except IdentityError:
            continue
        raise AssertionError(f"{code!r} should be refused")
    return {
        "description": "The unified social credit code (统一社会信用代码, GB 32100-2015) "
        "of the bidder (docs/sealed-bid-format.md "
        "§1). value(c) is c's index in alphabet; weighted_sum = Σ value(code[i]) · weights[i] for i in 0..16, "
        "weights[i] = 3^i mod 31; check_value = 31 − (weighted_sum mod 31), and 31 becomes 0; code[17] must be "
        "alphabet[check_value]. Refuse the invalid codes with the first rule they break, in this order: length "
        "(18 characters), character (each in the alphabet, capitals only), division (characters 3 to 8 are "
        "digits), check.",
        "alphabet": credit_code.ALPHABET,
        "weights": weights,
        "valid": valid,
        "invalid": [{"name": name, "code": code, "rule": rule} for name, code, rule in INVALID_CREDIT_CODES],
    }


def signature_vectors() -> dict[str, Any]:
    message = b"etender-bid-v1 signature vector"
    der = SIGNING_KEY.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    pairs = [(1, 1), (0x80, 0x7F), (P256_ORDER - 1, 2**255), (2**200, 5), *[der_to_raw_pair(der)]]
    return {
        "description": "ECDSA P-256/SHA-256 signatures are stored DER-encoded (docs/sealed-bid-format.md §5.3); "
        "WebCrypto signs and verifies raw r ‖ s (32 bytes each). raw_hex ↔ der_hex both ways. "
        "signature_der_hex is deterministic (RFC 6979) and verifies over message_hex.",
        "signing_key": key_description(SIGNING_KEY),
        "message_hex": hexed(message),
        "signature_der_hex": hexed(der),  # RFC 6979: deterministic
        "conversions": [
            {
                "raw_hex": hexed(r.to_bytes(32, "big") + s.to_bytes(32, "big")),
                "der_hex": hexed(raw_to_der(r.to_bytes(32, "big") + s.to_bytes(32, "big"))),
            }
            for r, s in pairs
        ],
        "not_der": [
            {"name": "raw r ‖ s where DER is expected", "hex": hexed(der_to_raw(der))},
            {"name": "BER long-form length", "hex": hexed(b"\x30\x81" + bytes([len(der) - 2]) + der[2:])},
            {"name": "a trailing byte", "hex": hexed(der + b"\x00")},
        ],
    }


def der_to_raw_pair(der: bytes) -> tuple[int, int]:
    raw = der_to_raw(der)
    return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")


def bid_vectors(container: bytes, envelopes: Any) -> tuple[dict[str, Any], Manifest]:
    info = IDENTITY.stream_info()
    sink = io.BytesIO()
    result = Encryptor(FILE_KEY, info, salt=SALT, nonce_prefix=NONCE_PREFIX).encrypt(io.BytesIO(container), sink)
    ciphertext = sink.getvalue()
    from tendering.sealing.keys import fingerprint

    manifest = Manifest(
        tender=IDENTITY.tender,
        bid=IDENTITY.bid,
        bidder=IDENTITY.bidder,
        signing_key=fingerprint(SIGNING_KEY.public_key()),
        client_time=CLIENT_TIME,
        ciphertext_size=result.ciphertext_size,
        ciphertext_sha256=result.ciphertext_sha256.hex(),
        header_sha256=result.header_sha256.hex(),
        kc=key_commitment(FILE_KEY).hex(),
        envelopes=envelopes,
    )
    manifest_bytes = manifest.canonical_bytes()
    signature = SIGNING_KEY.sign(manifest_bytes, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    text = manifest_bytes.decode()
    invalid = [
        ("whitespace after a comma", text.replace(",", ", ", 1), "not in canonical form"),
        (
            "keys out of order",
            text.replace('{"bid":', '{"format":"etender-bid-v1","bid":', 1).replace(
                ',"format":"etender-bid-v1"', "", 1
            ),
            "not in canonical form",
        ),
        ("an unknown field", text[:-1] + ',"zzz":1}', "unknown field"),
        ("a float", text.replace('"segment_size":1048576', '"segment_size":1048576.0'), "not an integer"),
        ("a duplicated key", text.replace('{"bid":', '{"bid":"x","bid":', 1), "appears twice"),
        ("uppercase hex", text.replace(manifest.kc, manifest.kc.upper()), "lowercase hex"),
        (
            "a size no ciphertext has",
            text.replace(f'"ciphertext_size":{manifest.ciphertext_size}', '"ciphertext_size":1048577'),
            "ciphertext_size",
        ),
        ("client time without milliseconds", text.replace(CLIENT_TIME, "2026-03-02T01:00:00Z"), "client_time"),
    ]
    return (
        {
            "description": "A whole sealed bid (docs/sealed-bid-format.md §6): open it with the bidder's key or "
            "with the parts of any subset, check kc, decrypt the ciphertext to container_hex of container.json, "
            "verify the signature over manifest_text with the signing key. The signature is RFC 6979 "
            "(deterministic); a browser's will differ and must only verify.",
            "file_key_hex": hexed(FILE_KEY),
            "salt_hex": hexed(SALT),
            "nonce_prefix_hex": hexed(NONCE_PREFIX),
            "keys": {
                "bidder_signing": key_description(SIGNING_KEY),
                "bidder_encryption": key_description(BIDDER_KEY),
                "custodians": [key_description(k) for k in CUSTODIAN_KEYS[: len(envelopes.custodians.recipients)]],
            },
            "threshold": envelopes.custodians.threshold,
            "ciphertext_hex": hexed(ciphertext),
            "manifest_text": text,
            "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
            "signature_der_hex": hexed(signature),
            "signature_raw_hex": hexed(der_to_raw(signature)),
            "invalid_manifests": [{"name": n, "manifest_text": t, "error": e} for n, t, e in invalid],
        },
        manifest,
    )


def write(name: str, value: dict[str, Any]) -> None:
    path = VECTORS / name
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(VECTORS.parent.parent)} ({path.stat().st_size:,} bytes)")


def main() -> None:
    VECTORS.mkdir(parents=True, exist_ok=True)
    custodian_keys = [k.public_key() for k in CUSTODIAN_KEYS[:3]]
    counter = iter(range(1, 1000))
    envelopes = seal_file_key(
        FILE_KEY,
        IDENTITY,
        BIDDER_KEY.public_key(),
        custodian_keys,
        2,
        randbytes=lambda size: hashlib.sha256(b"vector part %d" % next(counter)).digest()[:size],
    )
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "技术标").mkdir()
        (root / "报价单.txt").write_text("投标总报价：壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元玖角整\n", encoding="utf-8")
        (root / "技术标" / "施工方案.txt").write_text("第一章 总体部署\n", encoding="utf-8")
        (root / "README").write_bytes(b"")
        container_json, _, container = container_vectors(root)
    write("stream.json", stream_vectors())
    write("container.json", container_json)
    write("signature.json", signature_vectors())
    write("identity.json", identity_vectors())
    with tempfile.TemporaryDirectory() as folder:
        write("response-index.json", response_index_vectors(Path(folder)))
    if "--deterministic-only" in sys.argv:
        # Leaves the randomized HPKE envelopes, and the bid that contains them, as first written.
        return
    write("envelopes.json", envelope_vectors(envelopes))
    bid_json, _ = bid_vectors(container, envelopes)
    write("bid.json", bid_json)
    for key in (spki_der(k) for k in custodian_keys):
        assert len(key) == 91


if __name__ == "__main__":
    main()
