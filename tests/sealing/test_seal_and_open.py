"""A bid sealed with ``seal_bid`` opens with the bidder's key or k custodians', and only as it was signed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import pytest

from tendering.sealing import (
    CiphertextError,
    ContainerError,
    KeyCommitmentError,
    LotPrice,
    PriceSummary,
    SegmentAuthenticationError,
    check_ciphertext_structure,
    check_envelope_coverage,
    file_key_from_parts,
    open_bid,
    open_bidder_envelope,
    open_custodian_parts,
    read_price_summary,
    seal_bid,
    spki_der,
    verify_manifest,
)
from tendering.sealing.bid import SealedBid, ciphertext_sha256
from tendering.sealing.container import collect_bid_files, container_size
from tendering.sealing.stream import layout_for_plaintext
from tests.sealing.helpers import (
    BIDDER_KEY,
    CUSTODIAN_KEYS,
    IDENTITY,
    OTHER_IDENTITY,
    SIGNING_KEY,
    pattern,
)

ROOT = Path(__file__).resolve().parent.parent.parent
SUMMARY = PriceSummary.for_bid(IDENTITY, [LotPrice("1", "9876543.21", 365, {"质量标准": "合格"})])
PUBLISHED = [key.public_key() for key in CUSTODIAN_KEYS]


@pytest.fixture
def bid_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "bid"
    (folder / "技术标").mkdir(parents=True)
    (folder / "报价.pdf").write_bytes(b"%PDF-1.7 the price is inside")
    (folder / "技术标" / "方案.bin").write_bytes(pattern(2_500_000))
    return folder


def seal(source: Path, summary: PriceSummary = SUMMARY, **changes: object) -> tuple[SealedBid, bytes]:
    sink = io.BytesIO()
    arguments: dict[str, object] = {
        "source": source,
        "price_summary": summary,
        "tender_public_id": IDENTITY.tender,
        "bid_id": IDENTITY.bid,
        "bidder_credit_code": IDENTITY.bidder,
        "bidder_signing_private_key": SIGNING_KEY,
        "bidder_encryption_public_key": BIDDER_KEY.public_key(),
        "custodian_public_keys": PUBLISHED,
        "threshold": 3,
        "sink": sink,
        "client_time": dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC),
    }
    arguments.update(changes)
    sealed = seal_bid(**arguments)  # type: ignore[arg-type]
    return sealed, sink.getvalue()


@pytest.fixture
def sealed(bid_folder: Path) -> tuple[SealedBid, bytes]:
    return seal(bid_folder)


# --- refusals ---------------------------------------------------------------------------------------------------


def test_nothing_of_the_plaintext_or_the_key_is_in_what_is_uploaded(
    sealed: tuple[SealedBid, bytes], bid_folder: Path
) -> None:
    bid, ciphertext = sealed
    key = open_bidder_envelope(bid.manifest.envelopes.bidder, IDENTITY, BIDDER_KEY)
    uploaded = ciphertext + bid.manifest_bytes + bid.signature
    for secret in (b"the price is inside", b"9876543.21", "质量标准".encode(), pattern(64), key):
        assert secret not in uploaded
    assert key.hex().encode() not in uploaded


def test_sealing_refuses_a_price_summary_for_another_bid(bid_folder: Path) -> None:
    other = dataclasses.replace(SUMMARY, bid=OTHER_IDENTITY.bid)
    with pytest.raises(ContainerError, match="price summary names another tender, bid or bidder"):
        seal(bid_folder, other)


def test_opening_refuses_a_key_that_is_not_the_committed_one(sealed: tuple[SealedBid, bytes], tmp_path: Path) -> None:
    bid, ciphertext = sealed
    with pytest.raises(KeyCommitmentError):
        open_bid(io.BytesIO(ciphertext), bid.manifest, bytes(32), tmp_path / "opened")
    assert not (tmp_path / "opened").exists()


def test_opening_refuses_a_tampered_ciphertext_and_leaves_nothing_behind(
    sealed: tuple[SealedBid, bytes], tmp_path: Path
) -> None:
    bid, ciphertext = sealed
    key = open_bidder_envelope(bid.manifest.envelopes.bidder, IDENTITY, BIDDER_KEY)
    damaged = bytearray(ciphertext)
    damaged[-100] ^= 1  # in the final segment: the files before it were already written out
    with pytest.raises(SegmentAuthenticationError, match="final segment 2"):
        open_bid(io.BytesIO(bytes(damaged)), bid.manifest, key, tmp_path / "opened")
    assert not (tmp_path / "opened").exists()


def test_opening_refuses_another_ciphertext_sealed_with_the_same_key(
    sealed: tuple[SealedBid, bytes], tmp_path: Path
) -> None:
    from tendering.sealing.container import ContainerStream
    from tendering.sealing.stream import Encryptor

    bid, _ = sealed
    key = open_bidder_envelope(bid.manifest.envelopes.bidder, IDENTITY, BIDDER_KEY)
    other_summary = PriceSummary.for_bid(IDENTITY, [LotPrice("1", "1.00", 1)])
    sink = io.BytesIO()
    with ContainerStream(other_summary, collect_bid_files(tmp_path / "bid")) as plaintext:
        Encryptor(key, IDENTITY.stream_info()).encrypt(plaintext, sink)
    with pytest.raises(CiphertextError, match=r"not the one in the manifest|the manifest says"):
        open_bid(io.BytesIO(sink.getvalue()), bid.manifest, key, tmp_path / "opened")
    assert not (tmp_path / "opened").exists()


def test_a_manifest_for_another_bid_does_not_open_this_ciphertext(
    sealed: tuple[SealedBid, bytes], bid_folder: Path, tmp_path: Path
) -> None:
    bid, ciphertext = sealed
    key = open_bidder_envelope(bid.manifest.envelopes.bidder, IDENTITY, BIDDER_KEY)
    other, _ = seal(bid_folder, dataclasses.replace(SUMMARY, bid=OTHER_IDENTITY.bid), bid_id=OTHER_IDENTITY.bid)
    with pytest.raises(KeyCommitmentError):
        open_bid(io.BytesIO(ciphertext), other.manifest, key, tmp_path / "a")
    # Even with this bid's kc, a manifest naming another bid derives another segment key.
    forged = dataclasses.replace(bid.manifest, bid=OTHER_IDENTITY.bid)
    with pytest.raises(SegmentAuthenticationError, match="segment 0 does not authenticate"):
        open_bid(io.BytesIO(ciphertext), forged, key, tmp_path / "b")


def test_the_library_does_not_import_django() -> None:
    code = "import sys, tendering.sealing; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, env={"PATH": "/usr/bin"}
    )
    assert result.stdout.strip() == "[]"


# --- what works -------------------------------------------------------------------------------------------------


def test_the_server_side_checks_pass_on_a_sealed_bid(sealed: tuple[SealedBid, bytes]) -> None:
    bid, ciphertext = sealed
    manifest = verify_manifest(bid.manifest_bytes, bid.signature, spki_der(SIGNING_KEY.public_key()))
    assert manifest == bid.manifest
    assert (manifest.tender, manifest.bid, manifest.bidder) == (IDENTITY.tender, IDENTITY.bid, IDENTITY.bidder)
    assert ciphertext_sha256(io.BytesIO(ciphertext)) == (manifest.ciphertext_sha256, manifest.ciphertext_size)
    layout = check_ciphertext_structure(ciphertext[:40], len(ciphertext))
    assert layout.segments == 3
    check_envelope_coverage(manifest.envelopes.custodians, [spki_der(k) for k in PUBLISHED], 3)
    assert bid.size == len(ciphertext) and bid.ciphertext_sha256 == manifest.ciphertext_sha256
    assert manifest.client_time == "2026-03-02T01:00:00.000Z"


def test_the_bidder_opens_its_bid_with_its_own_key(
    sealed: tuple[SealedBid, bytes], bid_folder: Path, tmp_path: Path
) -> None:
    bid, ciphertext = sealed
    key = open_bidder_envelope(bid.manifest.envelopes.bidder, IDENTITY, BIDDER_KEY)
    opened = open_bid(io.BytesIO(ciphertext), bid.manifest_bytes, key, tmp_path / "opened")
    assert opened.price_summary == SUMMARY
    assert [(f.path, f.size) for f in opened.files] == [("bid/技术标/方案.bin", 2_500_000), ("bid/报价.pdf", 28)]
    assert (tmp_path / "opened" / "bid" / "技术标" / "方案.bin").read_bytes() == pattern(2_500_000)
    assert opened.plaintext_size == bid.manifest.plaintext_size


def test_three_of_five_custodians_open_the_bid_without_the_bidder(
    sealed: tuple[SealedBid, bytes], tmp_path: Path
) -> None:
    bid, ciphertext = sealed
    custodians = bid.manifest.envelopes.custodians
    parts = [p for c in (0, 2, 4) for p in open_custodian_parts(custodians, IDENTITY, CUSTODIAN_KEYS[c])]
    key = file_key_from_parts(custodians, parts, bytes.fromhex(bid.manifest.kc))
    assert read_price_summary(io.BytesIO(ciphertext), bid.manifest, key) == SUMMARY
    assert open_bid(io.BytesIO(ciphertext), bid.manifest, key, tmp_path / "opened").price_summary == SUMMARY


def test_a_single_file_is_sealed_too_and_progress_counts_to_the_total(bid_folder: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    bid, ciphertext = seal(bid_folder / "技术标" / "方案.bin", progress=lambda done, total: seen.append((done, total)))
    files = collect_bid_files(bid_folder / "技术标" / "方案.bin")
    total = layout_for_plaintext(container_size(SUMMARY, files)).size
    assert seen[-1] == (total, total) == (len(ciphertext), len(ciphertext))
    assert [done for done, _ in seen] == sorted({done for done, _ in seen})
    key = open_bidder_envelope(bid.manifest.envelopes.bidder, IDENTITY, BIDDER_KEY)
    opened = open_bid(io.BytesIO(ciphertext), bid.manifest, key, tmp_path / "opened")
    assert [f.path for f in opened.files] == ["bid/方案.bin"]


def test_two_sealings_of_the_same_bid_share_nothing_but_the_layout(bid_folder: Path) -> None:
    first, first_ciphertext = seal(bid_folder)
    second, second_ciphertext = seal(bid_folder)
    assert len(first_ciphertext) == len(second_ciphertext)
    assert first_ciphertext[:40] != second_ciphertext[:40]
    assert first.manifest.kc != second.manifest.kc
