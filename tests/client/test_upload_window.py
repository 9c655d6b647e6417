"""Parts a window at a time: as many in flight as the platform takes, retried and resumed without sending twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tendering.client.transport import ClientError
from tendering.client.upload import Uploader
from tests.client.fakes import WindowedPlatform, make_sealed_bid

PART = 64 * 1024


@pytest.fixture
def sealed(tmp_path: Path):
    return make_sealed_bid(tmp_path)


def uploader(platform: WindowedPlatform, bid: Path, **options: object) -> Uploader:
    options.setdefault("retries", 0)
    options.setdefault("say", lambda text: None)
    options.setdefault("sleep", lambda seconds: None)
    return Uploader(platform, bid, connect=lambda: platform, **options)  # type: ignore[arg-type]


def test_as_many_parts_are_in_flight_as_the_platforms_window(sealed) -> None:
    platform = WindowedPlatform(PART, window=3, store_seconds=0.05)
    submitted = uploader(platform, sealed.bid).submit()
    assert submitted.parts >= 4
    assert platform.most_in_flight == 3  # never more than the window, and the window used
    assert sorted(platform.puts()) == list(range(1, submitted.parts + 1))  # each part sent once
    assert platform.finalized == [submitted.upload_id]


def test_sequential_sends_one_part_at_a_time_even_with_a_wider_window(sealed) -> None:
    platform = WindowedPlatform(PART, window=4, store_seconds=0.02)
    uploader(platform, sealed.bid, pipeline=1).submit()
    assert platform.most_in_flight == 1
    assert platform.finalized


def test_a_part_the_platform_is_still_receiving_is_waited_for_with_backoff(sealed) -> None:
    platform = WindowedPlatform(PART, window=3)
    platform.busy_part = 2
    delays: list[float] = []
    submitted = uploader(platform, sealed.bid, sleep=delays.append, retries=3).submit()
    assert delays == [1.0]
    assert platform.finalized == [submitted.upload_id]


def interrupted_at_part_2(platform: WindowedPlatform, sealed) -> str:
    """A first run that broke at part 2; the platform has parts 3 and 4 all the same (they were in flight beside it)."""
    platform.fail_part = 2
    with pytest.raises(ClientError, match="again to resume"):
        uploader(platform, sealed.bid).submit()
    platform.fail_part = None
    upload_id = json.loads(sealed.state.read_text())["upload_id"]
    local = sealed.bid.read_bytes()
    for number in (3, 4):  # whether or not they had arrived before the connections were cut
        platform.data[upload_id][number] = local[(number - 1) * PART : number * PART]
    assert sorted(platform.data[upload_id]) == [1, 3, 4]
    return upload_id


def test_parts_confirmed_past_a_failed_one_are_checked_locally_and_not_sent_again(sealed) -> None:
    platform = WindowedPlatform(PART, window=4, store_seconds=0.02)
    upload_id = interrupted_at_part_2(platform, sealed)
    first_run = len(platform.puts())
    submitted = uploader(platform, sealed.bid).submit()
    again = platform.puts()[first_run:]
    assert sorted(again) == [2, *range(5, submitted.parts + 1)]  # only what was missing went again
    assert submitted.resumed_at_part == 2 and platform.finalized == [upload_id]


def test_a_part_confirmed_past_the_prefix_that_differs_from_the_local_file_stops_the_upload(sealed) -> None:
    platform = WindowedPlatform(PART, window=4, store_seconds=0.02)
    upload_id = interrupted_at_part_2(platform, sealed)
    platform.data[upload_id][3] = b"\x00" + platform.data[upload_id][3][1:]  # the platform has other bytes
    first_run = len(platform.puts())
    with pytest.raises(ClientError, match="confirmed a part 3 that is not the local file's"):
        uploader(platform, sealed.bid).submit()
    assert not platform.finalized
    assert 3 not in platform.puts()[first_run:] and sealed.state.exists()
