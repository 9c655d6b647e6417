"""The manifest: one canonical spelling, strict fields, and a DER signature a browser can make."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tendering.sealing.envelopes import key_commitment, seal_file_key
from tendering.sealing.errors import ManifestError, ManifestSignatureError
from tendering.sealing.keys import fingerprint, spki_der
from tendering.sealing.manifest import (
    MAX_MANIFEST_SIZE,
    P256_ORDER,
    Manifest,
    der_to_raw,
    format_client_time,
    parse_manifest,
    raw_to_der,
    sign_manifest,
    verify_manifest,
)
from tendering.sealing.stream import layout_for_plaintext
from tests.sealing.helpers import BIDDER_KEY, CUSTODIAN_KEYS, IDENTITY, SIGNING_KEY, STRANGER_KEY

FILE_KEY = bytes(range(32, 64))
MANIFEST = Manifest(
    tender=IDENTITY.tender,
    bid=IDENTITY.bid,
    bidder=IDENTITY.bidder,
    signing_key=fingerprint(SIGNING_KEY.public_key()),
    client_time="2026-03-02T01:00:00.000Z",
    ciphertext_size=layout_for_plaintext(10_000).size,
    ciphertext_sha256="ab" * 32,
    header_sha256="cd" * 32,
    kc=key_commitment(FILE_KEY).hex(),
    envelopes=seal_file_key(FILE_KEY, IDENTITY, BIDDER_KEY.public_key(), [k.public_key() for k in CUSTODIAN_KEYS], 3),
)
DATA = MANIFEST.canonical_bytes()
SIGNATURE = sign_manifest(DATA, SIGNING_KEY)
SPKI = spki_der(SIGNING_KEY.public_key())


def edited(**changes: object) -> bytes:
    """The manifest's JSON with top-level fields changed (None removes), re-canonicalized."""
    from archive.canonical import canonical_json

    value = json.loads(DATA)
    for name, new in changes.items():
        if new is None:
            del value[name]
        else:
            value[name] = new
    return canonical_json(value)


def envelopes_edited(edit: object) -> bytes:
    from archive.canonical import canonical_json

    value = json.loads(DATA)
    edit(value["envelopes"])  # type: ignore[operator]
    return canonical_json(value)


# --- refusals ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        (DATA.replace(b",", b", ", 1), "not in canonical form"),
        (DATA.replace(b'"bid":', b'"bid" :'), "not in canonical form"),
        (b" " + DATA, "not in canonical form"),
        (DATA + b"\n", "not in canonical form"),
        (DATA.replace(b'"format":"etender-bid-v1"', b'"format":"etender-bid-\\u0076\\u0031"'), "not in canonical form"),
        (DATA.replace(b"{", b'{"bid":"x",', 1), "the key 'bid' appears twice"),
        (DATA[:-1], "not JSON"),
        (b"\xff" + DATA, "not UTF-8"),
        (edited(extra="x"), "unknown field\\(s\\) 'extra'"),
        (edited(kc=None), "lacks the field\\(s\\) kc"),
        (edited(ciphertext_size="10088"), "ciphertext_size must be an integer, not a string"),
        (edited(ciphertext_size=True), "ciphertext_size must be an integer, not a boolean"),
        (edited(tender=1), "tender must be a string"),
        (DATA.replace(b'"segment_size":1048576', b'"segment_size":1048576.0'), "not an integer"),
        (DATA.replace(b'"segment_size":1048576', b'"segment_size":1e6'), "not an integer"),
        (DATA.replace(b'"segment_size":1048576', b'"segment_size":NaN'), "NaN is not JSON"),
        (edited(segment_size=65536), "segment_size must be 1048576 in format v1"),
        (edited(ciphertext_size=1048577), "ciphertext_size: the final segment .* would have 1 bytes"),
        (edited(ciphertext_size=12345).replace(b":12345,", b":9007199254740992,"), "outside"),
        (edited(format="etender-bid-v2"), "format must be 'etender-bid-v1'"),
        (edited(tender=IDENTITY.tender.upper()), "tender must be a UUID in lowercase"),
        (edited(bidder=IDENTITY.bidder[:-1] + "0"), "wrong check character"),
        (edited(bidder=IDENTITY.bidder.lower()), "capitals"),
        (edited(client_time="2026-03-02T09:00:00.000+08:00"), "client_time must be a UTC time"),
        (edited(client_time="2026-03-02T01:00:00Z"), "client_time must be a UTC time"),
        (edited(client_time="2026-02-30T01:00:00.000Z"), "client_time must be a UTC time"),
        (edited(kc="AB" * 32), "kc must be 64 lowercase hex digits"),
        (edited(ciphertext_sha256="ab" * 31), "ciphertext_sha256 must be 64 lowercase hex digits"),
        (b'{"a":' + b"1" * 5000 + b"}", "refused"),
        (b"[]", r"\$ must be an object"),
        (b"{}", "lacks the field"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "too deeply|lacks|nested"),
    ],
)
def test_it_refuses_manifests_that_are_not_exactly_the_v1_form(data: bytes, complaint: str) -> None:
    with pytest.raises(ManifestError, match=complaint):
        parse_manifest(data)


def _set(path: list[object], value: object):  # type: ignore[no-untyped-def]
    def edit(envelopes: dict) -> None:  # type: ignore[type-arg]
        target = envelopes
        for key in path[:-1]:
            target = target[key]  # type: ignore[index]
        target[path[-1]] = value  # type: ignore[index]

    return edit


SEALED = base64.b64encode(MANIFEST.envelopes.bidder.sealed).decode()


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (_set(["bidder", "sealed"], SEALED[:-4]), r"\$.envelopes.bidder.sealed: an envelope is 113 bytes"),
        (_set(["bidder", "sealed"], SEALED + "="), "not base64"),
        (_set(["bidder", "sealed"], SEALED.replace("+", "-").replace("/", "_")), "not base64|canonical base64"),
        (_set(["bidder", "sealed"], SEALED[:-2] + "x="), "not in canonical base64"),
        (_set(["bidder", "sealed"], base64.b64encode(b"\x02" + bytes(112)).decode()), "uncompressed P-256 point"),
        (_set(["bidder", "recipient"], "AB" * 32), "recipient must be 64 lowercase hex digits"),
        (_set(["bidder", "extra"], 1), r"\$.envelopes.bidder has unknown field"),
        (_set(["custodians", "threshold"], 6), "threshold k must be between 1 and n=5"),
        (_set(["custodians", "threshold"], 4), "subsets must be an array of the 5 subsets of 4"),
        (_set(["custodians", "subsets", 1, "members"], [0, 1, 2]), r"subsets\[1\].members must be \[0, 1, 3\]"),
        (_set(["custodians", "subsets", 0, "members"], [0, 1, True]), r"subsets\[0\].members must be \[0, 1, 2\]"),
        (_set(["custodians", "subsets", 0, "parts"], [SEALED, SEALED]), r"subsets\[0\].parts must be an array of 3"),
        (_set(["custodians", "recipients", 1], "AB" * 32), "recipients must be an array of fingerprints"),
        (_set(["custodians", "recipients", 1], None), "recipients must be an array of fingerprints"),
    ],
)
def test_it_refuses_malformed_envelopes(edit: object, complaint: str) -> None:
    with pytest.raises(ManifestError, match=complaint):
        parse_manifest(envelopes_edited(edit))


def test_it_refuses_recipients_named_twice() -> None:
    from archive.canonical import canonical_json

    value = json.loads(DATA)
    value["envelopes"]["custodians"]["recipients"][1] = value["envelopes"]["custodians"]["recipients"][0]
    with pytest.raises(ManifestError, match="names one key twice"):
        parse_manifest(canonical_json(value))


def test_it_refuses_an_oversized_manifest_before_reading_it() -> None:
    with pytest.raises(ManifestError, match=f"more than the {MAX_MANIFEST_SIZE} allowed"):
        parse_manifest(b" " * (MAX_MANIFEST_SIZE + 1))


def test_it_refuses_a_signature_that_does_not_verify() -> None:
    with pytest.raises(ManifestSignatureError, match="does not verify with this key"):
        verify_manifest(DATA, SIGNATURE, spki_der(STRANGER_KEY.public_key()))
    with pytest.raises(ManifestSignatureError, match="does not verify"):
        verify_manifest(DATA.replace(b"2026-03-02T01", b"2026-03-02T02"), SIGNATURE, SPKI)
    other = STRANGER_KEY.sign(DATA, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(ManifestSignatureError, match="does not verify"):
        verify_manifest(DATA, other, SPKI)


def test_it_refuses_a_verifying_key_that_is_not_a_p256_spki() -> None:
    with pytest.raises(ManifestSignatureError, match="verifying key is unusable"):
        verify_manifest(DATA, SIGNATURE, b"not a key")


def test_it_refuses_a_good_signature_over_a_manifest_naming_another_signer() -> None:
    data = edited(signing_key=fingerprint(BIDDER_KEY.public_key()))
    signature = SIGNING_KEY.sign(data, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(ManifestSignatureError, match=r"names signing key .* but was verified with key"):
        verify_manifest(data, signature, SPKI)
    with pytest.raises(ManifestError, match=r"names signing key .*, not this key"):
        sign_manifest(data, SIGNING_KEY)


def test_it_refuses_signatures_that_are_not_strict_der() -> None:
    r, s = decode_dss_signature(SIGNATURE)
    # BER long-form length for the sequence.
    body = SIGNATURE[2:]
    long_form = b"\x30\x81" + bytes([len(body)]) + body
    with pytest.raises(ManifestSignatureError, match=r"not in DER|not a DER"):
        verify_manifest(DATA, long_form, SPKI)
    with pytest.raises(ManifestSignatureError, match="not a DER-encoded ECDSA signature"):
        verify_manifest(DATA, der_to_raw(SIGNATURE), SPKI)  # raw r ‖ s where DER is expected
    with pytest.raises(ManifestSignatureError, match=r"outside 1..n-1"):
        verify_manifest(DATA, encode_dss_signature(r, s + P256_ORDER), SPKI)
    with pytest.raises(ManifestSignatureError, match=r"not in DER|not a DER"):
        verify_manifest(DATA, SIGNATURE + b"\x00", SPKI)


def test_raw_signatures_of_the_wrong_size_or_range_are_refused() -> None:
    with pytest.raises(ManifestSignatureError, match="64 bytes"):
        raw_to_der(bytes(63))
    with pytest.raises(ManifestSignatureError, match=r"outside 1..n-1"):
        raw_to_der(bytes(64))
    with pytest.raises(ManifestSignatureError, match=r"outside 1..n-1"):
        raw_to_der(P256_ORDER.to_bytes(32, "big") + (1).to_bytes(32, "big"))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_any_mutation_of_a_manifest_is_refused_or_reads_back_to_exactly_its_own_bytes(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["flip", "replace", "insert", "delete", "truncate"]))
    at = data.draw(st.integers(min_value=0, max_value=len(DATA) - 1))
    if kind == "flip":
        mutated = DATA[:at] + bytes([DATA[at] ^ (1 << data.draw(st.integers(0, 7)))]) + DATA[at + 1 :]
    elif kind == "replace":
        mutated = DATA[:at] + bytes([data.draw(st.integers(0, 255))]) + DATA[at + 1 :]
    elif kind == "insert":
        mutated = DATA[:at] + data.draw(st.binary(min_size=1, max_size=4)) + DATA[at:]
    elif kind == "delete":
        mutated = DATA[:at] + DATA[at + data.draw(st.integers(1, 8)) :]
    else:
        mutated = DATA[:at]
    try:
        manifest = parse_manifest(mutated)
    except ManifestError:
        return
    assert manifest.canonical_bytes() == mutated


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_refused_with_a_manifest_error_and_nothing_else(data: bytes) -> None:
    with pytest.raises(ManifestError):
        parse_manifest(data)


# --- what works -------------------------------------------------------------------------------------------------


def test_a_signed_manifest_verifies_and_reads_back_equal() -> None:
    assert verify_manifest(DATA, SIGNATURE, SPKI) == MANIFEST
    assert parse_manifest(DATA) == MANIFEST
    assert MANIFEST.plaintext_size == 10_000
    assert DATA.isascii()


def test_the_manifest_fields_are_these_in_canonical_order() -> None:
    assert list(json.loads(DATA)) == [
        "bid",
        "bidder",
        "ciphertext_sha256",
        "ciphertext_size",
        "client_time",
        "envelopes",
        "format",
        "header_sha256",
        "kc",
        "segment_size",
        "signing_key",
        "tender",
    ]


def test_a_webcrypto_raw_signature_converts_to_der_and_back() -> None:
    for _ in range(20):
        der = SIGNING_KEY.sign(DATA, ec.ECDSA(hashes.SHA256()))
        raw = der_to_raw(der)
        assert len(raw) == 64
        assert raw_to_der(raw) == der
        verify_manifest(DATA, raw_to_der(raw), SPKI)


@pytest.mark.parametrize(
    ("r", "s", "der_hex"),
    [
        (1, 1, "3006020101020101"),
        (0x80, 0x7F, "30070202008002017f"),
        (
            P256_ORDER - 1,
            2**255,
            "3046022100" + (P256_ORDER - 1).to_bytes(32, "big").hex() + "022100" + (2**255).to_bytes(32, "big").hex(),
        ),
        (2**200, 5, "301f021a01" + "00" * 25 + "020105"),
    ],
)
def test_der_integers_are_minimal_with_a_zero_byte_before_a_high_bit(r: int, s: int, der_hex: str) -> None:
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert raw_to_der(raw).hex() == der_hex
    assert der_to_raw(bytes.fromhex(der_hex)) == raw


def test_the_client_time_is_written_as_a_browser_writes_it() -> None:
    moment = dt.datetime(2026, 3, 2, 9, 0, 0, 123_999, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert format_client_time(moment) == "2026-03-02T01:00:00.123Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_client_time(dt.datetime(2026, 3, 2))


def test_a_manifest_that_would_not_read_back_is_refused_on_the_way_out() -> None:
    with pytest.raises(ManifestError, match="client_time"):
        dataclasses.replace(MANIFEST, client_time="yesterday").canonical_bytes()
