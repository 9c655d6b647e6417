"""Resumable submission with an in-memory platform: interrupted, resumed, refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tendering.client.transport import ClientError
from tendering.client.upload import RateLimiter, ReceiptPending, Uploader, receipt_subject_problem
from tendering.sealing import parse_manifest
from tests.client.fakes import FakePlatform, make_sealed_bid

PART = 64 * 1024


@pytest.fixture(params=[1, 2], ids=["one part at a time", "two parts in flight"])
def depth(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def uploader(depth: int):
    """An uploader on the fake platform, with ``depth`` parts in flight (each on a connection of its own)."""

    def make(platform: FakePlatform, bid: Path, **options: object) -> Uploader:
        options.setdefault("retries", 0)
        options.setdefault("say", lambda text: None)
        options.setdefault("sleep", lambda seconds: None)
        return Uploader(platform, bid, connect=lambda: platform, pipeline=depth, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def sealed(tmp_path: Path):
    return make_sealed_bid(tmp_path)


# --- refusals first -------------------------------------------------------------------------------------


def test_a_resumed_upload_refuses_a_local_file_that_differs_from_the_confirmed_parts(sealed, uploader) -> None:
    platform = FakePlatform(PART)
    platform.fail_part = 3
    with pytest.raises(ClientError, match=r"Run `etender submit .*` again to resume"):
        uploader(platform, sealed.bid).submit()
    data = bytearray(sealed.bid.read_bytes())
    data[PART + 10] ^= 1  # a byte of part 2, which the platform has confirmed
    sealed.bid.write_bytes(bytes(data))
    platform.fail_part = None
    sent_before = len(platform.puts())
    with pytest.raises(ClientError, match=r"part 2 .* differs from the part the platform confirmed"):
        uploader(platform, sealed.bid).submit()
    assert len(platform.puts()) == sent_before  # nothing sent after the refusal
    assert not platform.finalized
    assert sealed.state.exists()


def test_a_file_changed_after_sealing_is_not_finalized(sealed, uploader) -> None:
    data = bytearray(sealed.bid.read_bytes())
    data[-5] ^= 1  # same size, other bytes: only the SHA-256 can tell
    sealed.bid.write_bytes(bytes(data))
    platform = FakePlatform(PART)
    with pytest.raises(ClientError, match="does not have the SHA-256 its manifest names"):
        uploader(platform, sealed.bid).submit()
    assert not platform.finalized


def test_a_file_of_another_size_than_its_manifest_is_refused_before_any_upload(sealed, uploader) -> None:
    with open(sealed.bid, "ab") as f:
        f.write(b"x")
    platform = FakePlatform(PART)
    with pytest.raises(ClientError, match="its manifest says"):
        uploader(platform, sealed.bid).submit()
    assert platform.calls == []


def test_a_state_file_of_another_bid_is_refused(sealed, uploader) -> None:
    sealed.state.write_text(json.dumps({"upload_id": "0b5e2a8c-8f0e-4b8e-9d7a-3c1f2e4d5a6b", "bid_id": "another"}))
    platform = FakePlatform(PART)
    with pytest.raises(ClientError, match="belongs to bid another"):
        uploader(platform, sealed.bid).submit()
    assert platform.calls == []


def test_an_upload_unknown_to_the_platform_is_explained(sealed, uploader) -> None:
    manifest = parse_manifest(sealed.manifest.read_bytes())
    sealed.state.write_text(json.dumps({"upload_id": "0b5e2a8c-8f0e-4b8e-9d7a-3c1f2e4d5a6b", "bid_id": manifest.bid}))
    with pytest.raises(ClientError, match="does not know the upload"):
        uploader(FakePlatform(PART), sealed.bid).submit()


def test_retries_are_bounded(sealed, uploader) -> None:
    platform = FakePlatform(PART)
    platform.fail_part = 2
    delays: list[float] = []
    with pytest.raises(ClientError, match="attempt 4 of 4; giving up"):
        uploader(platform, sealed.bid, sleep=delays.append, retries=3).submit()
    assert delays == [1.0, 2.0, 4.0]
    assert platform.puts().count(2) == 4 and platform.uploads.popitem()[1].out()["received_parts"] == 1


def test_a_receipt_naming_another_bid_is_detected(sealed, uploader) -> None:
    platform = FakePlatform(PART)
    submitted = uploader(platform, sealed.bid).submit()
    other = json.loads(submitted.receipt)
    other["subject"]["ciphertext_sha256"] = "0" * 64
    manifest_bytes = sealed.manifest.read_bytes()
    problem = receipt_subject_problem(json.dumps(other).encode(), parse_manifest(manifest_bytes), manifest_bytes)
    assert problem and "ciphertext_sha256" in problem


# --- what works -------------------------------------------------------------------------------------------


def test_an_interrupted_upload_resumes_from_the_last_confirmed_part(sealed, uploader) -> None:
    platform = FakePlatform(PART)
    platform.fail_part = 2
    with pytest.raises(ClientError):
        uploader(platform, sealed.bid).submit()
    state = json.loads(sealed.state.read_text())
    assert len(platform.uploads[state["upload_id"]].parts) == 1
    first_run = platform.puts()
    assert first_run[:2] == [1, 2]  # (with two in flight, part 3 may have been sent and refused as out of order)
    platform.fail_part = None
    submitted = uploader(platform, sealed.bid).submit()
    assert submitted.resumed_at_part == 2
    assert submitted.upload_id == state["upload_id"]
    assert len(platform.uploads) == 1  # continued, not restarted
    expected = platform.uploads[state["upload_id"]].out()["expected_parts"]
    assert expected >= 4
    assert platform.puts()[len(first_run) :] == list(range(2, expected + 1))
    assert sealed.receipt.exists() and not sealed.state.exists()
    assert json.loads(sealed.receipt.read_bytes())["ledger"]["seq"] == 42


def test_a_broken_connection_is_retried_with_backoff(sealed, uploader) -> None:
    platform = FakePlatform(PART)
    platform.fail_part, platform.fail_times = 2, 2
    delays: list[float] = []
    submitted = uploader(platform, sealed.bid, sleep=delays.append, retries=5).submit()
    assert delays == [1.0, 2.0]
    assert submitted.resumed_at_part is None and platform.finalized


def test_a_part_whose_answer_was_lost_is_not_sent_twice(sealed, uploader) -> None:
    platform = FakePlatform(PART)
    platform.lose_answer_of = 2
    notes: list[str] = []
    uploader(platform, sealed.bid, say=notes.append, retries=3).submit()
    assert platform.puts().count(2) == 1
    assert "part 2 had arrived; continuing" in notes
    assert platform.finalized


def test_submitting_again_after_the_platform_finalized_fetches_the_receipt(sealed, uploader) -> None:
    platform = FakePlatform(PART)
    uploader(platform, sealed.bid).submit()
    manifest = parse_manifest(sealed.manifest.read_bytes())
    upload_id = platform.finalized[0]
    # As if the finalize answer had been lost: the state file is still there, the receipt not.
    sealed.state.write_text(json.dumps({"upload_id": upload_id, "bid_id": manifest.bid}))
    sealed.receipt.unlink()
    puts = len(platform.puts())
    submitted = uploader(platform, sealed.bid).submit()
    assert len(platform.puts()) == puts and len(platform.finalized) == 1
    assert json.loads(submitted.receipt)["subject"]["bid_id"] == manifest.bid


def test_an_accepted_bid_whose_receipt_is_delayed_gets_it_on_the_next_submit(sealed, uploader) -> None:
    platform = FakePlatform(PART)
    platform.receipts_pending = True
    with pytest.raises(ReceiptPending, match=r"ACCEPTED .* Run `etender submit .*` again later"):
        uploader(platform, sealed.bid).submit()
    assert sealed.state.exists() and not sealed.receipt.exists()
    puts = len(platform.puts())
    platform.receipts_pending = False
    submitted = uploader(platform, sealed.bid).submit()
    assert len(platform.puts()) == puts and len(platform.finalized) == 1
    assert sealed.receipt.read_bytes() == submitted.receipt and not sealed.state.exists()


def test_the_rate_limit_paces_the_upload() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(1000, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.consume(500)
    assert now[0] == pytest.approx(2.0)
