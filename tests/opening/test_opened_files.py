"""An opened bid's files read straight out of the accepted ciphertext through the index the opening built
(``tendering.services.opened_files``): no second copy, only the segments that hold the bytes asked for."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.errors import InvalidInput, NotFound, WrongPhase
from accounts.models import User
from archive.storage import get_object_store, reset_object_store_cache
from archive.storage.filesystem import FilesystemObjectStore
from tendering.models import BidOpening, BidOpeningState, Opening, Tender
from tendering.sealing import SealingError
from tendering.sealing.stream import SEGMENT_SIZE, layout_for_ciphertext, segment_span
from tendering.services import decryption, opened_files
from tendering.services.opening import conclusion, keys
from tests.bids.conftest import keys_for, seal, submit
from tests.fixtures.personas import Personas
from tests.opening.conftest import Entry, OpeningCase

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024
PATH = "bid/技术标.pdf"


@pytest.fixture
def s3_platform(object_store_dir: Any, s3_server: Any, settings: Any) -> Any:
    """The platform's object store on the session's S3 server (a bucket of its own) instead of the filesystem
    folder the tender's fixtures would use (set up first, so that this overrides it)."""
    settings.S3_ENDPOINT = s3_server.endpoint
    settings.S3_ACCESS_KEY = s3_server.access_key
    settings.S3_SECRET_KEY = s3_server.secret_key
    settings.S3_SECURE = s3_server.secure
    settings.S3_REGION = s3_server.region
    settings.S3_BUCKET = f"etender-opened-{secrets.token_hex(6)}"
    reset_object_store_cache()
    get_object_store().ensure_bucket()
    yield
    reset_object_store_cache()


@pytest.fixture
def s3_sized_case(
    s3_platform: Any,
    personas: Personas,
    published_tender: Tender,
    frozen_clock: Any,
    tmp_path: Path,
    third_bidder: User,
) -> OpeningCase:
    """The same three bids, sealed into and opened from a bucket of the S3 server."""
    return sized_bids(personas, published_tender, frozen_clock, tmp_path, third_bidder)


@pytest.fixture
def sized_case(
    personas: Personas, published_tender: Tender, frozen_clock: Any, tmp_path: Path, third_bidder: User
) -> OpeningCase:
    return sized_bids(personas, published_tender, frozen_clock, tmp_path, third_bidder)


def sized_bids(
    personas: Personas, published_tender: Tender, frozen_clock: Any, tmp_path: Path, third_bidder: User
) -> OpeningCase:
    """Three bids of 3 MiB + 5, 20 bytes and 9 MiB of random content."""
    entries = []
    sizes = [3 * MiB + 5, 20, 9 * MiB]
    for number, (user, size) in enumerate(
        zip([personas.bidder_a, personas.bidder_b, third_bidder], sizes, strict=True), 1
    ):
        frozen_clock.advance(minutes=1)
        bidder_keys = keys_for(user)
        sealed = seal(published_tender, bidder_keys, tmp_path / f"b{number}", content=os.urandom(size))
        entries.append(Entry(bidder_keys, sealed, submit(user, published_tender, sealed)))
    return OpeningCase(published_tender, personas, entries, frozen_clock)


def decrypt_all(case: OpeningCase) -> list[BidOpening]:
    case.at_opening()
    for entry in case.entries:
        keys.release_key(entry.user, case.tender, entry.bid.public_id, entry.file_key())
    for pk in (
        BidOpening.objects.filter(state=BidOpeningState.KEY_READY).order_by("position").values_list("pk", flat=True)
    ):
        assert decryption.decrypt_bid(pk) == "opened"
    return list(BidOpening.objects.filter(opening__tender=case.tender).select_related("bid", "opening"))


def publish_record(case: OpeningCase) -> list[BidOpening]:
    opened = decrypt_all(case)
    op = Opening.objects.get(tender=case.tender)
    case.clock.set(op.decryption_ends_at)
    conclusion.conclude_decryption(case.personas.tenderer, case.tender)
    return [BidOpening.objects.select_related("bid", "opening").get(pk=bo.pk) for bo in opened]


def read(bid_opening: BidOpening, **kwargs: Any) -> bytes:
    return b"".join(opened_files.stream_bid_file(bid_opening, PATH, **kwargs))


def test_the_opening_writes_no_second_copy_and_a_file_reads_back_from_only_its_segments(
    sized_case: OpeningCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = get_object_store()
    before = [(o.key, o.version_id) for o in store.list_versions()]
    opened = publish_record(sized_case)
    assert [(o.key, o.version_id) for o in store.list_versions()][: len(before)] == before
    assert not [o for o in store.list_versions() if "/opened/" in o.key]
    ranges: list[tuple[int, int]] = []
    real = type(store).open_range

    def spy(self: Any, key: str, version_id: str | None, offset: int, length: int) -> Any:
        ranges.append((offset, length))
        return real(self, key, version_id, offset, length)

    monkeypatch.setattr(type(store), "open_range", spy)
    for entry, bo in zip(sized_case.entries, opened, strict=True):
        content = entry.sealed.plaintext
        assert bo.files[0]["sha256"] == hashlib.sha256(content).hexdigest()
        ranges.clear()
        assert read(bo) == content
        first, last = bo.files[0]["segments"]
        start, end = segment_span(layout_for_ciphertext(bo.bid.size), first, last)
        assert ranges == [(start, end - start)]  # the segments from the file's first to its last, no more
        for start, end in [(0, 1), (len(content) - 1, len(content)), (len(content) // 2, len(content) // 2 + 70_000)]:
            end = min(end, len(content))
            ranges.clear()
            assert read(bo, start=start, end=end) == content[start:end]
            # Only the segments holding those bytes: at most two for a range this short.
            assert len(ranges) == 1 and ranges[0][1] <= 2 * SEGMENT_SIZE


@pytest.mark.s3
def test_on_the_s3_server_a_file_and_a_range_read_back_with_one_range_request_each(
    s3_sized_case: OpeningCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = get_object_store()
    assert not isinstance(store, FilesystemObjectStore)
    opened = publish_record(s3_sized_case)
    assert not [o for o in store.list_versions() if "/opened/" in o.key]
    requests: list[tuple[int, int]] = []
    real = type(store).open_range

    def spy(self: Any, key: str, version_id: str | None, offset: int, length: int) -> Any:
        requests.append((offset, length))
        return real(self, key, version_id, offset, length)

    monkeypatch.setattr(type(store), "open_range", spy)
    for entry, bo in zip(s3_sized_case.entries, opened, strict=True):
        content = entry.sealed.plaintext
        requests.clear()
        assert read(bo) == content and len(requests) == 1
        middle, end = len(content) // 2, min(len(content) // 2 + 1_500_000, len(content))
        requests.clear()
        assert read(bo, start=middle, end=end) == content[middle:end] and len(requests) == 1
        assert requests[0][1] <= end - middle + 2 * SEGMENT_SIZE


def test_a_decryption_takes_the_same_sql_statements_whatever_the_bids_size(
    sized_case: OpeningCase, settings: Any
) -> None:
    settings.OPENING_LEASE_SECONDS, settings.OPENING_PROGRESS_SECONDS = 3600, 600
    sized_case.at_opening()
    for entry in sized_case.entries:
        keys.release_key(entry.user, sized_case.tender, entry.bid.public_id, entry.file_key())
    counts = []
    for bo in BidOpening.objects.filter(opening__tender=sized_case.tender).order_by("position"):
        with CaptureQueriesContext(connection) as queries:
            assert decryption.decrypt_bid(bo.pk) == "opened"
        counts.append(len(queries))
    # 3 MiB, 20 bytes and 9 MiB: the same statements (no lease renewal within the interval, no copy to record).
    assert counts == [counts[0]] * 3, counts
    # The claim and the finish, each a transaction: the rows, the ledger entry, the two hall events. Nothing per MiB.
    assert counts[0] <= 20, counts


def test_nothing_of_a_bid_is_read_before_the_record_is_published(sized_case: OpeningCase) -> None:
    opened = decrypt_all(sized_case)
    with pytest.raises(WrongPhase) as caught:
        opened_files.stream_bid_file(opened[0], PATH)
    assert caught.value.code == "bid_files_not_revealed"


def test_a_path_not_in_the_bid_or_a_range_outside_the_file_is_refused_and_nothing_is_read(
    sized_case: OpeningCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    bo = publish_record(sized_case)[0]
    store = get_object_store()
    monkeypatch.setattr(type(store), "open_range", lambda *a, **k: pytest.fail("nothing may be read"))
    with pytest.raises(NotFound) as missing:
        opened_files.stream_bid_file(bo, "bid/没有.pdf")
    assert missing.value.code == "no_such_file"
    size = bo.files[0]["size"]
    for start, end in [(-1, 10), (10, 5), (0, size + 1), (size + 1, None)]:
        with pytest.raises(InvalidInput) as caught:
            opened_files.stream_bid_file(bo, PATH, start=start, end=end)
        assert caught.value.code == "invalid_input" and "range" in caught.value.fields


def test_an_index_that_is_not_the_containers_form_is_never_used(sized_case: OpeningCase) -> None:
    bo = publish_record(sized_case)[0]
    for change in ({"offset": bo.files[0]["offset"] + 512}, {"segments": [1, 3]}, {"size": 7}):
        spoiled = BidOpening.objects.get(pk=bo.pk)
        spoiled.files = [{**bo.files[0], **change}]
        with pytest.raises(opened_files.BidIndexInvalid):
            opened_files.stream_bid_file(spoiled, PATH)
    assert BidOpening.objects.get(pk=bo.pk).files == bo.files  # checking changed nothing


def test_a_stored_ciphertext_changed_after_the_opening_does_not_read(sized_case: OpeningCase) -> None:
    bo = publish_record(sized_case)[2]
    store = get_object_store()
    assert isinstance(store, FilesystemObjectStore)
    version = store._key_dir(bo.bid.object_key) / "v" / bo.bid.version_id
    data = bytearray(version.read_bytes())
    data[5 * SEGMENT_SIZE + 10] ^= 1
    version.chmod(0o644)
    version.write_bytes(bytes(data))
    assert read(bo, start=0, end=1000)  # the segments before it still read
    with pytest.raises(SealingError):
        read(bo, start=5 * SEGMENT_SIZE, end=5 * SEGMENT_SIZE + 10)
