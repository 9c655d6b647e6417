"""Every vector in docs/sealed-bid-vectors/ reproduced: what the browser's implementation must also pass."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tendering.sealing.container import (
    BidFile,
    ContainerReader,
    ContainerStream,
    member_header,
    parse_price_summary,
)
from tendering.sealing.envelopes import (
    SUITE,
    CustodianPart,
    bidder_envelope_info,
    combine_parts,
    custodian_part_info,
    file_key_from_parts,
    key_commitment,
    open_bidder_envelope,
    open_custodian_parts,
    verify_commitment,
)
from tendering.sealing.errors import (
    HeaderError,
    IdentityError,
    ManifestError,
    ManifestSignatureError,
    SegmentAuthenticationError,
    TrailingDataError,
    TruncatedCiphertextError,
)
from tendering.sealing.identity import BidIdentity, check_credit_code
from tendering.sealing.keys import fingerprint
from tendering.sealing.manifest import der_to_raw, parse_manifest, raw_to_der, verify_manifest
from tendering.sealing.stream import SEGMENT_SIZE, Decryptor, Encryptor, derive_segment_key, segment_nonce
from tests.sealing.helpers import VECTORS, pattern, tink_decrypt

STREAM = json.loads((VECTORS / "stream.json").read_text(encoding="utf-8"))
ENVELOPES = json.loads((VECTORS / "envelopes.json").read_text(encoding="utf-8"))
CONTAINER = json.loads((VECTORS / "container.json").read_text(encoding="utf-8"))
SIGNATURE = json.loads((VECTORS / "signature.json").read_text(encoding="utf-8"))
BID = json.loads((VECTORS / "bid.json").read_text(encoding="utf-8"))
IDENTITY = json.loads((VECTORS / "identity.json").read_text(encoding="utf-8"))
ERRORS = {
    "truncated": TruncatedCiphertextError,
    "trailing data": TrailingDataError,
    "authentication": SegmentAuthenticationError,
    "bad header": HeaderError,
}


def private_key(description: dict[str, str]) -> ec.EllipticCurvePrivateKey:
    key = ec.derive_private_key(int(description["d_hex"], 16), ec.SECP256R1())
    loaded = serialization.load_der_private_key(bytes.fromhex(description["pkcs8_der_hex"]), None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    assert loaded.private_numbers() == key.private_numbers()
    spki = bytes.fromhex(description["spki_der_hex"])
    assert fingerprint(key.public_key()) == fingerprint(spki) == description["fingerprint"]
    assert hashlib.sha256(spki).hexdigest() == description["fingerprint"]
    return key


def stream_plaintext(case: dict[str, Any]) -> bytes:
    return bytes.fromhex(case["plaintext_hex"]) if "plaintext_hex" in case else pattern(case["plaintext_pattern_size"])


def stream_encrypt(plaintext: bytes) -> bytes:
    sink = io.BytesIO()
    Encryptor(
        bytes.fromhex(STREAM["file_key_hex"]),
        STREAM["info"].encode(),
        salt=bytes.fromhex(STREAM["salt_hex"]),
        nonce_prefix=bytes.fromhex(STREAM["nonce_prefix_hex"]),
    ).encrypt(io.BytesIO(plaintext), sink)
    return sink.getvalue()


# --- stream -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("invalid", STREAM["invalid"], ids=lambda v: v["name"])
def test_every_invalid_stream_vector_is_refused_with_its_kind_of_error(invalid: dict[str, Any]) -> None:
    case = next(c for c in STREAM["cases"] if c["name"] == invalid["from_case"])
    ciphertext = bytearray(stream_encrypt(stream_plaintext(case)))
    info = STREAM["info"]
    change = invalid["change"]
    if "truncate_to" in change:
        del ciphertext[change["truncate_to"] :]
    if "append_hex" in change:
        ciphertext += bytes.fromhex(change["append_hex"])
    if "swap_segments" in change:
        i, j = (s * SEGMENT_SIZE for s in change["swap_segments"])
        ciphertext[i : i + SEGMENT_SIZE], ciphertext[j : j + SEGMENT_SIZE] = (
            ciphertext[j : j + SEGMENT_SIZE],
            ciphertext[i : i + SEGMENT_SIZE],
        )
    if "flip_bit_of_byte" in change:
        ciphertext[change["flip_bit_of_byte"]] ^= 0x01
    if "set_byte" in change:
        ciphertext[change["set_byte"][0]] = change["set_byte"][1]
    if "info" in change:
        info = STREAM["other_info"]
    with pytest.raises(ERRORS[invalid["error"]]) as refused:
        Decryptor(bytes.fromhex(STREAM["file_key_hex"]), info.encode()).decrypt(
            io.BytesIO(bytes(ciphertext)), io.BytesIO()
        )
    if "segment" in invalid:  # with two faults, the first failing segment is the one named
        assert refused.value.segment == invalid["segment"]  # type: ignore[attr-defined]


def test_the_stream_vectors_key_info_header_and_nonces() -> None:
    identity = BidIdentity(STREAM["tender"], STREAM["bid"], STREAM["bidder"])
    assert identity.stream_info().decode() == STREAM["info"]
    salt = bytes.fromhex(STREAM["salt_hex"])
    prefix = bytes.fromhex(STREAM["nonce_prefix_hex"])
    key = derive_segment_key(bytes.fromhex(STREAM["file_key_hex"]), salt, STREAM["info"].encode())
    assert key.hex() == STREAM["segment_key_hex"]
    assert STREAM["header_hex"] == "28" + salt.hex() + prefix.hex()
    for nonce in STREAM["nonces"]:
        assert segment_nonce(prefix, nonce["segment"], nonce["last"]).hex() == nonce["nonce_hex"]


@pytest.mark.parametrize("case", STREAM["cases"], ids=lambda c: c["name"])
def test_every_stream_vector_encrypts_to_its_bytes_and_decrypts_back_also_with_tink(case: dict[str, Any]) -> None:
    plaintext = stream_plaintext(case)
    assert len(plaintext) == case["plaintext_size"]
    ciphertext = stream_encrypt(plaintext)
    assert len(ciphertext) == case["ciphertext_size"]
    assert hashlib.sha256(ciphertext).hexdigest() == case["ciphertext_sha256"]
    assert ciphertext.hex().startswith(STREAM["header_hex"])
    if "ciphertext_hex" in case:
        assert ciphertext.hex() == case["ciphertext_hex"]
    else:
        assert ciphertext[:80].hex() == case["ciphertext_head_hex"]
        assert ciphertext[-48:].hex() == case["ciphertext_tail_hex"]
    decryptor = Decryptor(bytes.fromhex(STREAM["file_key_hex"]), STREAM["info"].encode())
    sink = io.BytesIO()
    result = decryptor.decrypt(io.BytesIO(ciphertext), sink)
    assert sink.getvalue() == plaintext
    assert result.segments == case["segments"]
    assert tink_decrypt(bytes.fromhex(STREAM["file_key_hex"]), STREAM["info"].encode(), ciphertext) == plaintext


# --- envelopes --------------------------------------------------------------------------------------------------


def test_the_envelope_vectors_declare_the_suite() -> None:
    assert ENVELOPES["suite"] == {"mode": 0, "kem_id": 0x10, "kdf_id": 0x01, "aead_id": 0x02}


def test_a_modified_envelope_vector_does_not_open() -> None:
    vector = ENVELOPES["bidder_envelope"]
    sealed = bytearray.fromhex(vector["sealed_hex"])
    sealed[70] ^= 1
    from cryptography.exceptions import InvalidTag

    with pytest.raises(InvalidTag):
        SUITE.decrypt(bytes(sealed), private_key(ENVELOPES["keys"]["bidder_encryption"]), vector["info"].encode())


def test_the_bidder_envelope_vector_opens_to_the_file_key() -> None:
    vector = ENVELOPES["bidder_envelope"]
    identity = BidIdentity(ENVELOPES["tender"], ENVELOPES["bid"], ENVELOPES["bidder"])
    key = private_key(ENVELOPES["keys"]["bidder_encryption"])
    assert bidder_envelope_info(identity, vector["recipient"]).decode() == vector["info"]
    assert (
        SUITE.decrypt(bytes.fromhex(vector["sealed_hex"]), key, vector["info"].encode()).hex()
        == (vector["plaintext_hex"])
    )
    assert vector["plaintext_hex"] == ENVELOPES["file_key_hex"]


def test_every_custodian_part_vector_opens_and_each_subsets_parts_xor_to_the_file_key() -> None:
    identity = BidIdentity(ENVELOPES["tender"], ENVELOPES["bid"], ENVELOPES["bidder"])
    keys = [private_key(k) for k in ENVELOPES["keys"]["custodians"]]
    n, k = len(keys), ENVELOPES["threshold"]
    by_subset: dict[tuple[int, ...], list[bytes]] = {}
    for part in ENVELOPES["custodian_parts"]:
        members = tuple(part["members"])
        info = custodian_part_info(identity, k, n, members, part["position"], part["recipient"])
        assert info.decode() == part["info"]
        assert part["recipient"] == fingerprint(keys[part["position"]].public_key())
        opened = SUITE.decrypt(bytes.fromhex(part["sealed_hex"]), keys[part["position"]], info)
        assert opened.hex() == part["plaintext_hex"]
        by_subset.setdefault(members, []).append(opened)
    assert list(by_subset) == [(0, 1), (0, 2), (1, 2)]
    for parts in by_subset.values():
        assert combine_parts(parts).hex() == ENVELOPES["file_key_hex"]


def test_the_xor_and_key_commitment_vectors() -> None:
    for case in ENVELOPES["xor"]:
        assert combine_parts([bytes.fromhex(p) for p in case["parts_hex"]]).hex() == case["key_hex"]
    for case in ENVELOPES["key_commitment"]:
        assert key_commitment(bytes.fromhex(case["file_key_hex"])).hex() == case["kc_hex"]


# --- container --------------------------------------------------------------------------------------------------


def test_the_container_vector_is_built_byte_for_byte_and_read_back(tmp_path: Path) -> None:
    summary = parse_price_summary(CONTAINER["price_summary_text"].encode())
    assert summary.to_json() == CONTAINER["price_summary"]
    files = []
    for index, item in enumerate(CONTAINER["files"]):
        source = tmp_path / str(index)
        source.write_bytes(bytes.fromhex(item["content_hex"]))
        files.append(BidFile(item["path"], source, source.stat().st_size))
    with ContainerStream(summary, files) as stream:
        container = stream.read()
    assert container.hex() == CONTAINER["container_hex"]
    assert len(container) == CONTAINER["container_size"]
    assert hashlib.sha256(container).hexdigest() == CONTAINER["container_sha256"]
    reader = ContainerReader(io.BytesIO(container))
    assert reader.price_summary() == summary
    assert [(m.path, m.read().hex()) for m in reader.files()] == [
        (f["path"], f["content_hex"]) for f in CONTAINER["files"]
    ]
    for header in CONTAINER["member_headers"]:
        assert member_header(header["path"], header["size"]).hex() == header["header_hex"]


@pytest.mark.parametrize("header", CONTAINER["member_headers"], ids=lambda h: h["ustar_name"])
def test_the_ustar_name_field_has_one_question_mark_per_non_ascii_code_point(header: dict[str, Any]) -> None:
    ustar_block = bytes.fromhex(header["header_hex"])[-512:]
    assert ustar_block[:100].rstrip(b"\0") == header["ustar_name"].encode("ascii")
    assert ustar_block[100:].startswith(b"0000644\0")
    code_points = "".join("?" if ord(ch) > 127 else ch for ch in header["path"])
    assert header["ustar_name"] == code_points[:100]


# --- identity ---------------------------------------------------------------------------------------------------

CREDIT_CODE_RULES = {
    "length": "must have 18 characters",
    "character": "not allowed in a credit code",
    "division": "administrative division",
    "check": "wrong check character",
}


def test_the_credit_code_weights_are_three_to_the_i_mod_31_over_the_alphabet() -> None:
    from accounts import credit_code

    assert IDENTITY["alphabet"] == credit_code.ALPHABET == "0123456789ABCDEFGHJKLMNPQRTUWXY"
    assert IDENTITY["weights"] == [pow(3, i, 31) for i in range(17)] == list(credit_code.WEIGHTS)


@pytest.mark.parametrize("valid", IDENTITY["valid"], ids=lambda v: v["code"])
def test_every_valid_credit_code_vector_is_accepted_with_its_sum_and_check(valid: dict[str, Any]) -> None:
    from accounts import credit_code

    code = valid["code"]
    assert check_credit_code(code) == code
    value = {ch: i for i, ch in enumerate(IDENTITY["alphabet"])}
    total = sum(value[ch] * weight for ch, weight in zip(code[:17], IDENTITY["weights"], strict=True))
    assert total == valid["weighted_sum"]
    assert (31 - total % 31) % 31 == valid["check_value"]
    assert credit_code.check_character(code[:17]) == IDENTITY["alphabet"][valid["check_value"]] == code[17]


@pytest.mark.parametrize("invalid", IDENTITY["invalid"], ids=lambda v: v["name"])
def test_every_invalid_credit_code_vector_is_refused_by_the_first_rule_it_breaks(invalid: dict[str, str]) -> None:
    with pytest.raises(IdentityError) as refused:
        check_credit_code(invalid["code"])
    message = str(refused.value)
    if invalid["code"] != invalid["code"].upper():
        # The platform's forms accept lower case and normalize; the sealed identity has one spelling only.
        assert "must be written in capitals" in message
    else:
        assert CREDIT_CODE_RULES[invalid["rule"]] in message, message


# --- signatures -------------------------------------------------------------------------------------------------


def test_the_signature_vectors_convert_between_raw_and_der_and_verify() -> None:
    for case in SIGNATURE["conversions"]:
        assert raw_to_der(bytes.fromhex(case["raw_hex"])).hex() == case["der_hex"]
        assert der_to_raw(bytes.fromhex(case["der_hex"])).hex() == case["raw_hex"]
    key = private_key(SIGNATURE["signing_key"])
    message = bytes.fromhex(SIGNATURE["message_hex"])
    der = bytes.fromhex(SIGNATURE["signature_der_hex"])
    key.public_key().verify(der, message, ec.ECDSA(hashes.SHA256()))
    assert key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)) == der
    for bad in SIGNATURE["not_der"]:
        with pytest.raises(ManifestSignatureError):
            der_to_raw(bytes.fromhex(bad["hex"]))


# --- a whole bid ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("invalid", BID["invalid_manifests"], ids=lambda v: v["name"])
def test_every_invalid_manifest_vector_is_refused(invalid: dict[str, str]) -> None:
    with pytest.raises(ManifestError, match=invalid["error"]):
        parse_manifest(invalid["manifest_text"].encode())


def test_the_bid_vector_verifies_and_opens_both_ways(tmp_path: Path) -> None:
    from tendering.sealing import check_envelope_coverage, open_bid

    manifest_bytes = BID["manifest_text"].encode()
    assert hashlib.sha256(manifest_bytes).hexdigest() == BID["manifest_sha256"]
    signing = private_key(BID["keys"]["bidder_signing"])
    signature = bytes.fromhex(BID["signature_der_hex"])
    assert der_to_raw(signature).hex() == BID["signature_raw_hex"]
    manifest = verify_manifest(manifest_bytes, signature, bytes.fromhex(BID["keys"]["bidder_signing"]["spki_der_hex"]))
    assert manifest.canonical_bytes() == manifest_bytes
    assert signing.sign(manifest_bytes, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)) == signature
    custodian_keys = [private_key(k) for k in BID["keys"]["custodians"]]
    check_envelope_coverage(
        manifest.envelopes.custodians, [bytes.fromhex(k["spki_der_hex"]) for k in BID["keys"]["custodians"]], 2
    )

    ciphertext = bytes.fromhex(BID["ciphertext_hex"])
    assert hashlib.sha256(ciphertext).hexdigest() == manifest.ciphertext_sha256
    assert len(ciphertext) == manifest.ciphertext_size
    assert hashlib.sha256(ciphertext[:40]).hexdigest() == manifest.header_sha256

    file_key = open_bidder_envelope(
        manifest.envelopes.bidder, manifest.identity, private_key(BID["keys"]["bidder_encryption"])
    )
    assert file_key.hex() == BID["file_key_hex"]
    verify_commitment(file_key, bytes.fromhex(manifest.kc))
    parts: list[CustodianPart] = [
        *open_custodian_parts(manifest.envelopes.custodians, manifest.identity, custodian_keys[0]),
        *open_custodian_parts(manifest.envelopes.custodians, manifest.identity, custodian_keys[2]),
    ]
    assert file_key_from_parts(manifest.envelopes.custodians, parts, bytes.fromhex(manifest.kc)) == file_key

    sink = io.BytesIO()
    Decryptor(file_key, manifest.identity.stream_info()).decrypt(io.BytesIO(ciphertext), sink)
    assert sink.getvalue().hex() == CONTAINER["container_hex"]
    assert stream_encrypt_bid(sink.getvalue()) == ciphertext
    opened = open_bid(io.BytesIO(ciphertext), manifest, file_key, tmp_path / "opened")
    assert opened.price_summary.to_json() == CONTAINER["price_summary"]
    assert [f.path for f in opened.files] == [f["path"] for f in CONTAINER["files"]]


def stream_encrypt_bid(container: bytes) -> bytes:
    sink = io.BytesIO()
    identity = parse_manifest(BID["manifest_text"].encode()).identity
    Encryptor(
        bytes.fromhex(BID["file_key_hex"]),
        identity.stream_info(),
        salt=bytes.fromhex(BID["salt_hex"]),
        nonce_prefix=bytes.fromhex(BID["nonce_prefix_hex"]),
    ).encrypt(io.BytesIO(container), sink)
    return sink.getvalue()
