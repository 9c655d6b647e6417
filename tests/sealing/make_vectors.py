"""Writes docs/sealed-bid-vectors/*.json, the test vectors of the sealed-bid format.

    .venv/bin/python -m tests.sealing.make_vectors

Deterministic where the format is (stream, container, key commitment, XOR,
the manifest's bytes, the RFC 6979 signature); HPKE encryption is randomized,
so its vectors are (private key, info, envelope) → plaintext, kept as first
written. Running this again rewrites the HPKE envelopes and everything that
contains them (the manifest, its signature): commit the result only when the
format changes. tests/sealing/test_vectors.py checks every vector.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tendering.sealing.container import ContainerStream, LotPrice, PriceSummary, collect_bid_files, member_header
from tendering.sealing.envelopes import (
    bidder_envelope_info,
    custodian_part_info,
    key_commitment,
    seal_file_key,
    split_key,
)
from tendering.sealing.keys import spki_der
from tendering.sealing.manifest import Manifest, der_to_raw, raw_to_der
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
        ],
        "invalid_description": "Apply the change to the ciphertext of from_case and decrypt: truncate_to keeps the "
        "first N bytes; append_hex appends; swap_segments swaps two 1 MiB segments (segment i is the bytes "
        "[i*1048576, (i+1)*1048576), segment 0 including the header); flip_bit_of_byte XORs byte N with 0x01; "
        "set_byte [N, V] sets byte N to V; info null decrypts with other_info instead of info. error is the kind "
        "of refusal: truncated, trailing data, authentication, bad header.",
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
            "description": "The plaintext container (docs/sealed-bid-format.md §3): a pax tar, the price summary first, "
            "then the files sorted by the UTF-8 bytes of their paths. Build it from price_summary and files: the "
            "bytes must be container_hex exactly.",
            "price_summary": summary.to_json(),
            "price_summary_text": summary.canonical_bytes().decode(),
            "files": [{"path": f.path, "content_hex": hexed(f.source.read_bytes())} for f in files],
            "member_headers": [
                {"path": "bid/a.txt", "size": 5, "header_hex": hexed(member_header("bid/a.txt", 5))},
                {
                    "path": "bid/技术标/方案.txt",
                    "size": 0,
                    "header_hex": hexed(member_header("bid/技术标/方案.txt", 0)),
                },
            ],
            "container_size": len(container),
            "container_sha256": hashlib.sha256(container).hexdigest(),
            "container_hex": hexed(container),
        },
        summary,
        container,
    )


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
    write("envelopes.json", envelope_vectors(envelopes))
    write("signature.json", signature_vectors())
    bid_json, _ = bid_vectors(container, envelopes)
    write("bid.json", bid_json)
    for key in (spki_der(k) for k in custodian_keys):
        assert len(key) == 91


if __name__ == "__main__":
    main()
