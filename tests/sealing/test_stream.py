"""The streaming encryption: refusals of every damaged ciphertext, then byte-for-byte agreement with Tink."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tendering.sealing.errors import (
    CiphertextStructureError,
    HeaderError,
    SegmentAuthenticationError,
    TrailingDataError,
    TruncatedCiphertextError,
)
from tendering.sealing.stream import (
    HEADER_SIZE,
    SEGMENT_SIZE,
    TAG_SIZE,
    DecryptingReader,
    Decryptor,
    Encryptor,
    check_ciphertext_structure,
    layout_for_ciphertext,
    layout_for_plaintext,
)
from tests.sealing.helpers import IDENTITY, OTHER_IDENTITY, pattern, tink_decrypt, tink_encrypt

KEY = bytes(range(32))
INFO = IDENTITY.stream_info()
SMALL = 64  # a small segment size makes many segments out of a few bytes; v1 bids use 1 MiB
FIRST_CAPACITY = SEGMENT_SIZE - HEADER_SIZE - TAG_SIZE  # 1,048,520 plaintext bytes in segment 0
CAPACITY = SEGMENT_SIZE - TAG_SIZE  # 1,048,560 in every other segment


def encrypt(plaintext: bytes, *, key: bytes = KEY, info: bytes = INFO, segment_size: int = SEGMENT_SIZE) -> bytes:
    sink = io.BytesIO()
    Encryptor(key, info, segment_size=segment_size).encrypt(io.BytesIO(plaintext), sink)
    return sink.getvalue()


def decrypt(ciphertext: bytes, *, key: bytes = KEY, info: bytes = INFO, segment_size: int = SEGMENT_SIZE) -> bytes:
    sink = io.BytesIO()
    Decryptor(key, info, segment_size=segment_size).decrypt(io.BytesIO(ciphertext), sink)
    return sink.getvalue()


def segments_of(ciphertext: bytes, segment_size: int = SMALL) -> list[bytes]:
    """The segments, segment 0 with the header in front."""
    return [ciphertext[i : i + segment_size] for i in range(0, len(ciphertext), segment_size)]


# A small-segment ciphertext of 5 segments, the last one partial.
PLAIN_5 = pattern(8 + 3 * 48 + 20)
CIPHER_5 = encrypt(PLAIN_5, segment_size=SMALL)


# --- refusals ---------------------------------------------------------------------------------------------------


def test_it_refuses_a_ciphertext_cut_at_a_segment_boundary_naming_the_last_segment_left() -> None:
    cut = b"".join(segments_of(CIPHER_5)[:3])
    with pytest.raises(TruncatedCiphertextError, match="segment 2 authenticates only as a non-final segment") as caught:
        decrypt(cut, segment_size=SMALL)
    assert caught.value.segment == 2


def test_it_refuses_a_ciphertext_cut_inside_a_segment() -> None:
    with pytest.raises(
        SegmentAuthenticationError, match="final segment 2 does not authenticate: the ciphertext was cut"
    ):
        decrypt(CIPHER_5[: 2 * SMALL + 30], segment_size=SMALL)
    with pytest.raises(TruncatedCiphertextError, match="ends 10 bytes into segment 2, before its 16-byte tag"):
        decrypt(CIPHER_5[: 2 * SMALL + 10], segment_size=SMALL)


def test_it_refuses_a_ciphertext_cut_inside_or_right_after_its_header() -> None:
    with pytest.raises(TruncatedCiphertextError, match="ends inside its 40-byte header"):
        decrypt(CIPHER_5[:39], segment_size=SMALL)
    with pytest.raises(TruncatedCiphertextError, match="segment 0 is missing"):
        decrypt(CIPHER_5[:40], segment_size=SMALL)
    with pytest.raises(TruncatedCiphertextError, match="ends inside its 40-byte header"):
        decrypt(b"", segment_size=SMALL)


def test_it_refuses_data_after_a_full_final_segment() -> None:
    full = encrypt(pattern(8 + 48), segment_size=SMALL)  # two segments, the last one full
    assert len(full) == 2 * SMALL
    with pytest.raises(TrailingDataError, match="segment 1 is the final segment, but data follows it") as caught:
        decrypt(full + b"\x00", segment_size=SMALL)
    assert caught.value.segment == 1
    with pytest.raises(TrailingDataError):
        decrypt(full + segments_of(full)[1], segment_size=SMALL)


def test_it_refuses_data_after_a_partial_final_segment() -> None:
    with pytest.raises(SegmentAuthenticationError, match=r"final segment 4 does not authenticate: .*extended"):
        decrypt(CIPHER_5 + b"more", segment_size=SMALL)


def test_it_refuses_reordered_segments_naming_the_first_one_out_of_place() -> None:
    parts = segments_of(CIPHER_5)
    swapped = b"".join([parts[0], parts[2], parts[1], *parts[3:]])
    with pytest.raises(SegmentAuthenticationError, match=r"segment 1 does not authenticate: .*moved") as caught:
        decrypt(swapped, segment_size=SMALL)
    assert caught.value.segment == 1


def test_it_refuses_a_dropped_middle_segment() -> None:
    parts = segments_of(CIPHER_5)
    with pytest.raises(SegmentAuthenticationError) as caught:
        decrypt(b"".join([parts[0], parts[1], *parts[3:]]), segment_size=SMALL)
    assert caught.value.segment == 2


def test_it_refuses_a_segment_spliced_in_from_another_bid_with_the_same_key() -> None:
    other = encrypt(PLAIN_5, info=OTHER_IDENTITY.stream_info(), segment_size=SMALL)
    parts = segments_of(CIPHER_5)
    spliced = b"".join([*parts[:2], segments_of(other)[2], *parts[3:]])
    with pytest.raises(SegmentAuthenticationError) as caught:
        decrypt(spliced, segment_size=SMALL)
    assert caught.value.segment == 2


def test_it_refuses_a_ciphertext_opened_as_another_bid() -> None:
    with pytest.raises(SegmentAuthenticationError, match=r"segment 0 does not authenticate: .*identity") as caught:
        decrypt(CIPHER_5, info=OTHER_IDENTITY.stream_info(), segment_size=SMALL)
    assert caught.value.segment == 0


def test_it_refuses_the_wrong_key() -> None:
    with pytest.raises(SegmentAuthenticationError, match="wrong file key"):
        decrypt(CIPHER_5, key=bytes(32), segment_size=SMALL)


def test_it_refuses_a_bad_header_byte_before_anything_else() -> None:
    with pytest.raises(HeaderError, match="first byte is 0x25, not 0x28"):
        decrypt(b"%PDF-1.7 not a ciphertext", segment_size=SMALL)
    with pytest.raises(HeaderError):
        decrypt(b"\x29" + CIPHER_5[1:], segment_size=SMALL)


def test_it_refuses_a_modified_salt_nonce_prefix_or_tag() -> None:
    for position in (1, 33, 39, len(CIPHER_5) - 1, 2 * SMALL + 5):
        damaged = bytearray(CIPHER_5)
        damaged[position] ^= 0x01
        with pytest.raises(SegmentAuthenticationError):
            decrypt(bytes(damaged), segment_size=SMALL)


def test_an_encryptor_refuses_to_encrypt_twice() -> None:
    encryptor = Encryptor(KEY, INFO, segment_size=SMALL)
    encryptor.encrypt(io.BytesIO(b"one"), io.BytesIO())
    with pytest.raises(RuntimeError, match="encrypts one stream only"):
        encryptor.encrypt(io.BytesIO(b"two"), io.BytesIO())


def test_it_refuses_keys_and_segment_sizes_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="file key must be 32 bytes"):
        Encryptor(b"short", INFO)
    with pytest.raises(ValueError, match="salt must be 32 bytes"):
        Encryptor(KEY, INFO, salt=b"\x00" * 31)
    with pytest.raises(ValueError, match="nonce prefix must be 7 bytes"):
        Encryptor(KEY, INFO, nonce_prefix=b"\x00" * 8)
    with pytest.raises(ValueError, match="leaves no room"):
        Decryptor(KEY, INFO, segment_size=HEADER_SIZE + TAG_SIZE)


# --- the structure, without the key -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "complaint"),
    [
        (0, "at least 56 bytes"),
        (55, "at least 56 bytes"),
        (SEGMENT_SIZE + 1, "final segment \\(segment 1\\) would have 1 bytes"),
        (SEGMENT_SIZE + 15, "would have 15 bytes, less than its 16-byte tag"),
        (3 * SEGMENT_SIZE + 7, "segment 3"),
    ],
)
def test_the_keyless_check_refuses_sizes_no_plaintext_has(size: int, complaint: str) -> None:
    with pytest.raises(CiphertextStructureError, match=complaint):
        check_ciphertext_structure(b"\x28" + bytes(39), size)


def test_the_keyless_check_refuses_a_bad_header_byte_and_a_short_header() -> None:
    with pytest.raises(HeaderError):
        check_ciphertext_structure(b"PK\x03\x04" + bytes(36), 1000)
    with pytest.raises(TruncatedCiphertextError):
        check_ciphertext_structure(b"\x28" + bytes(10), 1000)


def test_the_keyless_check_accepts_what_the_encryptor_writes() -> None:
    for size in (0, 1, FIRST_CAPACITY, FIRST_CAPACITY + 1, FIRST_CAPACITY + CAPACITY):
        layout = layout_for_plaintext(size)
        assert check_ciphertext_structure(b"\x28" + bytes(39), layout.size) == layout


@given(st.integers(min_value=0, max_value=2**45))
def test_ciphertext_and_plaintext_sizes_determine_each_other(plaintext_size: int) -> None:
    layout = layout_for_plaintext(plaintext_size)
    assert layout_for_ciphertext(layout.size) == layout
    assert layout.size == plaintext_size + HEADER_SIZE + TAG_SIZE * layout.segments
    assert TAG_SIZE <= layout.final_segment_size <= SEGMENT_SIZE


@given(st.integers(min_value=0, max_value=2**45))
def test_every_ciphertext_size_is_refused_or_belongs_to_exactly_one_plaintext_size(size: int) -> None:
    try:
        layout = layout_for_ciphertext(size)
    except CiphertextStructureError:
        return
    assert layout_for_plaintext(layout.plaintext_size).size == size


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=400))
def test_the_layout_predicts_what_the_encryptor_writes(size: int) -> None:
    ciphertext = encrypt(pattern(size), segment_size=SMALL)
    layout = layout_for_plaintext(size, SMALL)
    assert len(ciphertext) == layout.size
    assert len(segments_of(ciphertext)) == layout.segments


# --- agreement with Tink ----------------------------------------------------------------------------------------

BOUNDARIES = [
    0,
    1,
    FIRST_CAPACITY - 1,
    FIRST_CAPACITY,
    FIRST_CAPACITY + 1,
    FIRST_CAPACITY + CAPACITY - 1,
    FIRST_CAPACITY + CAPACITY,
    FIRST_CAPACITY + CAPACITY + 1,
    FIRST_CAPACITY + 2 * CAPACITY,
    3 * SEGMENT_SIZE + 12345,
]


@pytest.mark.parametrize("size", BOUNDARIES)
def test_tink_decrypts_what_we_encrypt_at_the_segment_boundaries(size: int) -> None:
    plaintext = os.urandom(size)
    sink = io.BytesIO()
    result = Encryptor(KEY, INFO).encrypt(io.BytesIO(plaintext), sink)
    ciphertext = sink.getvalue()
    assert tink_decrypt(KEY, INFO, ciphertext) == plaintext
    assert result.ciphertext_size == len(ciphertext) == layout_for_plaintext(size).size
    assert result.plaintext_size == size
    assert result.ciphertext_sha256 == hashlib.sha256(ciphertext).digest()
    assert result.header_sha256 == hashlib.sha256(ciphertext[:HEADER_SIZE]).digest()
    assert result.header == ciphertext[:HEADER_SIZE]


@pytest.mark.parametrize("size", BOUNDARIES)
def test_we_decrypt_what_tink_encrypts_at_the_segment_boundaries(size: int) -> None:
    plaintext = os.urandom(size)
    ciphertext = tink_encrypt(KEY, INFO, plaintext)
    decryptor = Decryptor(KEY, INFO)
    assert b"".join(bytes(chunk) for chunk in decryptor.segments(io.BytesIO(ciphertext))) == plaintext
    assert decryptor.result is not None
    assert decryptor.result.ciphertext_sha256 == hashlib.sha256(ciphertext).digest()
    assert decryptor.result.segments == layout_for_ciphertext(len(ciphertext)).segments


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([57, SMALL, 100]))
def test_tink_and_we_agree_at_small_segment_sizes_in_both_directions(plaintext: bytes, segment_size: int) -> None:
    assert tink_decrypt(KEY, INFO, encrypt(plaintext, segment_size=segment_size), segment_size) == plaintext
    assert decrypt(tink_encrypt(KEY, INFO, plaintext, segment_size), segment_size=segment_size) == plaintext


def test_tink_refuses_what_we_refuse() -> None:
    import tink

    parts = segments_of(CIPHER_5)
    for damaged in (b"".join(parts[:3]), b"".join([parts[0], parts[2], parts[1], *parts[3:]]), CIPHER_5 + b"x"):
        with pytest.raises(tink.TinkError):
            tink_decrypt(KEY, INFO, damaged, SMALL)


# --- streaming ---------------------------------------------------------------------------------------------------


class Generated(io.RawIOBase):
    """``size`` bytes of the vectors' pattern, made as they are read (nothing kept)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.left = size
        self.block = pattern(251 * 4096)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        take = min(len(buffer), self.left, len(self.block))
        buffer[:take] = self.block[:take]
        self.left -= take
        return take


class Counting:
    def __init__(self) -> None:
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, data: memoryview) -> int:
        self.size += len(data)
        self.digest.update(data)
        return len(data)


def test_encrypting_and_decrypting_use_a_few_segments_of_memory_whatever_the_size() -> None:
    size = 24 * SEGMENT_SIZE
    tracemalloc.start()
    try:
        sink = Counting()
        Encryptor(KEY, INFO).encrypt(Generated(size), sink)
        _, encrypting_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.size == layout_for_plaintext(size).size
    assert encrypting_peak < 4 * SEGMENT_SIZE

    source = io.BytesIO(encrypt(pattern(size)))
    tracemalloc.start()
    try:
        plaintext = Counting()
        Decryptor(KEY, INFO).decrypt(source, plaintext)
        _, decrypting_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert plaintext.digest.digest() == hashlib.sha256(pattern(size)).digest()
    assert decrypting_peak < 4 * SEGMENT_SIZE


def test_a_short_reading_source_and_a_short_writing_sink_are_read_and_written_whole() -> None:
    class Trickle(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = data

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            take = min(7, len(buffer), len(self.data))
            buffer[:take] = self.data[:take]
            self.data = self.data[take:]
            return take

    class Sip(io.BytesIO):
        def write(self, data: memoryview) -> int:  # type: ignore[override]
            return super().write(bytes(data[:5]))

    plaintext = pattern(500)
    sink = Sip()
    Encryptor(KEY, INFO, segment_size=SMALL).encrypt(Trickle(plaintext), sink)
    assert tink_decrypt(KEY, INFO, sink.getvalue(), SMALL) == plaintext
    assert decrypt(sink.getvalue(), segment_size=SMALL) == plaintext


def test_the_decrypting_reader_gives_the_plaintext_in_reads_of_any_size() -> None:
    reader = DecryptingReader(Decryptor(KEY, INFO, segment_size=SMALL), io.BytesIO(CIPHER_5))
    chunks = []
    while chunk := reader.read(13):
        chunks.append(chunk)
    assert b"".join(chunks) == PLAIN_5
    assert reader.result is not None and reader.result.ciphertext_size == len(CIPHER_5)
