"""Parts of one bid arrive a few at a time: in any order within the window, stored concurrently, never twice.

Real PostgreSQL (row locks, one connection per thread) and the session's S3 server.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
import uuid

import pytest
from django.db import connections

from accounts.errors import Conflict, InvalidInput
from archive.models import LedgerEntry
from archive.storage import StoreUnavailable, get_object_store
from config import clock
from tendering.models import Bid, BidUpload, BidUploadPart, BidUploadState
from tendering.services import bids
from tests.bids.conftest import seal

CONTENT = bytes(range(256)) * (24 * 1024 * 2)  # 12 MiB of plaintext: three parts of ciphertext at 5 MiB


@pytest.fixture
def five_mib_parts(settings):
    settings.BID_PART_SIZE = 5 * 1024 * 1024
    return settings.BID_PART_SIZE


def parts_of(ciphertext: bytes, part_size: int) -> dict[int, bytes]:
    return {n: ciphertext[o : o + part_size] for n, o in enumerate(range(0, len(ciphertext), part_size), start=1)}


def send(user, upload_id, number: int, data: bytes):
    return bids.upload_part(user, upload_id, number, io.BytesIO(data), len(data))


def state_of(upload: BidUpload) -> tuple[int, int, list[tuple[int, str]]]:
    upload.refresh_from_db()
    rows = sorted(BidUploadPart.objects.filter(upload=upload).values_list("number", "sha256"))
    return upload.received_parts, upload.received_bytes, rows


def test_parts_within_the_window_arrive_in_any_order_and_the_bid_is_accepted(
    personas, published_tender, bidder_a_keys, tmp_path, five_mib_parts
):
    sealed = seal(published_tender, bidder_a_keys, tmp_path, content=CONTENT)
    started = bids.start_upload(personas.bidder_a, published_tender, uuid.UUID(sealed.bid_id), len(sealed.ciphertext))
    parts = parts_of(sealed.ciphertext, started.part_size)
    assert len(parts) == 3 <= bids.PART_WINDOW
    send(personas.bidder_a, started.public_id, 3, parts[3])
    assert state_of(started)[:2] == (0, len(parts[3]))  # confirmed, but not yet part of the prefix
    send(personas.bidder_a, started.public_id, 1, parts[1])
    assert state_of(started)[:2] == (1, len(parts[1]) + len(parts[3]))
    with pytest.raises(Conflict) as exc:
        bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    assert exc.value.code == "upload_incomplete"
    send(personas.bidder_a, started.public_id, 2, parts[2])
    assert state_of(started)[:2] == (3, len(sealed.ciphertext))
    bid = bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    assert bid.sha256 == sealed.sealed.ciphertext_sha256
    with get_object_store().open(bid.object_key, bid.version_id) as stored:
        assert stored.read() == sealed.ciphertext


def test_a_part_past_the_window_or_already_confirmed_is_refused_and_changes_nothing(
    personas, published_tender, five_mib_parts
):
    size = (bids.PART_WINDOW + 2) * five_mib_parts
    started = bids.start_upload(personas.bidder_a, published_tender, uuid.uuid4(), size)
    part = b"\x28" * five_mib_parts
    with pytest.raises(Conflict) as exc:
        send(personas.bidder_a, started.public_id, bids.PART_WINDOW + 1, part)
    assert exc.value.code == "part_out_of_order"
    assert state_of(started) == (0, 0, [])
    assert get_object_store().list_parts(started.object_key, started.store_upload_id) == []
    confirmed = send(personas.bidder_a, started.public_id, 2, part)
    before = state_of(started)
    for number in (2, 1):
        if number == 1:
            send(personas.bidder_a, started.public_id, 1, part)
            before = state_of(started)
        with pytest.raises(Conflict) as exc:
            send(personas.bidder_a, started.public_id, number, b"\x29" * five_mib_parts)
        assert exc.value.code == "part_duplicated"
        assert state_of(started) == before
    assert before[:2] == (2, 2 * five_mib_parts)
    stored = {p.part_number: p.etag for p in get_object_store().list_parts(started.object_key, started.store_upload_id)}
    assert stored[2] == confirmed.etag  # the refused duplicate never reached the store


def test_a_part_of_the_wrong_length_or_a_body_that_ends_early_frees_its_number(
    personas, published_tender, five_mib_parts
):
    started = bids.start_upload(personas.bidder_a, published_tender, uuid.uuid4(), 2 * five_mib_parts)
    with pytest.raises(InvalidInput) as exc:
        send(personas.bidder_a, started.public_id, 1, b"\x28" * 100)
    assert "part" in exc.value.fields
    with pytest.raises(InvalidInput) as exc:
        # The header promises the whole part; the body stops short (a dropped connection).
        bids.upload_part(personas.bidder_a, started.public_id, 1, io.BytesIO(b"\x28" * 1000), five_mib_parts)
    assert "part" in exc.value.fields
    assert state_of(started) == (0, 0, [])
    send(personas.bidder_a, started.public_id, 1, b"\x28" * five_mib_parts)
    assert state_of(started)[:2] == (1, five_mib_parts)


def test_a_store_outage_frees_the_part_for_a_retry_and_costs_the_bidder_nothing(
    personas, published_tender, bidder_a_keys, tmp_path, five_mib_parts, monkeypatch
):
    sealed = seal(published_tender, bidder_a_keys, tmp_path, content=CONTENT)
    started = bids.start_upload(personas.bidder_a, published_tender, uuid.UUID(sealed.bid_id), len(sealed.ciphertext))
    parts = parts_of(sealed.ciphertext, started.part_size)
    store = get_object_store()
    real = store.upload_part
    failures = {"left": 0}

    def flaky(*args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise StoreUnavailable("upload part: ServiceUnavailable: the store is restarting")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "upload_part", flaky)
    send(personas.bidder_a, started.public_id, 1, parts[1])
    failures["left"] = 2
    for _ in range(2):
        with pytest.raises(StoreUnavailable):  # the API answers it 503 with Retry-After
            send(personas.bidder_a, started.public_id, 2, parts[2])
        assert state_of(started)[:2] == (1, len(parts[1]))
        assert [n for n, _ in state_of(started)[2]] == [1]
    for number in (2, 3):
        send(personas.bidder_a, started.public_id, number, parts[number])
    bid = bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    assert bid.sha256 == sealed.sealed.ciphertext_sha256


def test_a_store_outage_at_finalize_leaves_the_upload_open_and_a_lost_answer_is_found_again(
    personas, published_tender, bidder_a_keys, tmp_path, monkeypatch
):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    started = bids.start_upload(personas.bidder_a, published_tender, uuid.UUID(sealed.bid_id), len(sealed.ciphertext))
    send(personas.bidder_a, started.public_id, 1, sealed.ciphertext)
    store = get_object_store()
    real = store.complete_multipart

    def completed_but_answer_lost(*args, **kwargs):
        real(*args, **kwargs)
        raise StoreUnavailable("complete upload: the connection was reset")

    monkeypatch.setattr(store, "complete_multipart", completed_but_answer_lost)
    with pytest.raises(StoreUnavailable):
        bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    started.refresh_from_db()
    assert started.state == BidUploadState.OPEN
    assert not Bid.objects.exists()
    monkeypatch.setattr(store, "complete_multipart", real)
    # The store no longer knows the upload id: finalize finds the version it assembled from these parts.
    bid = bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    assert bid.sha256 == sealed.sealed.ciphertext_sha256
    assert LedgerEntry.objects.filter(action="tendering.bid.submitted").count() == 1


def test_a_number_held_by_a_request_that_died_is_taken_over_after_the_reservation_time(
    personas, published_tender, five_mib_parts
):
    started = bids.start_upload(personas.bidder_a, published_tender, uuid.uuid4(), 2 * five_mib_parts)
    part = b"\x28" * five_mib_parts
    held = BidUploadPart.objects.create(
        upload=started, number=1, size=five_mib_parts, etag="", sha256="", received_at=clock.now()
    )
    with pytest.raises(Conflict) as exc:
        send(personas.bidder_a, started.public_id, 1, part)
    assert exc.value.code == "part_in_progress"
    assert state_of(started) == (0, 0, [(1, "")])
    old = dt.timedelta(seconds=bids.PART_RESERVATION_SECONDS + 1)
    BidUploadPart.objects.filter(pk=held.pk).update(received_at=held.received_at - old)
    confirmed = send(personas.bidder_a, started.public_id, 1, part)
    assert confirmed.pk == held.pk and confirmed.etag
    assert state_of(started)[:2] == (1, five_mib_parts)


class Gate:
    """A body that stops after ``before`` bytes until ``go`` is set, as a slow network does."""

    def __init__(self, data: bytes, before: int) -> None:
        self.data, self.position, self.before = data, 0, before
        self.waiting, self.go = threading.Event(), threading.Event()

    def read(self, size: int = -1) -> bytes:
        if self.position >= self.before and not self.go.is_set():
            self.waiting.set()
            assert self.go.wait(timeout=60)
        end = len(self.data) if size < 0 else self.position + size
        if not self.go.is_set():
            end = min(end, self.before)
        chunk = self.data[self.position : end]
        self.position += len(chunk)
        return chunk


@pytest.mark.django_db(transaction=True)
def test_parts_are_stored_concurrently_and_a_part_in_flight_is_not_taken_twice(
    personas, published_tender, bidder_a_keys, tmp_path, five_mib_parts
):
    if connections["default"].vendor != "postgresql":
        pytest.skip("concurrent requests are proved on PostgreSQL")
    sealed = seal(published_tender, bidder_a_keys, tmp_path, content=CONTENT)
    started = bids.start_upload(personas.bidder_a, published_tender, uuid.UUID(sealed.bid_id), len(sealed.ciphertext))
    parts = parts_of(sealed.ciphertext, started.part_size)
    slow = Gate(parts[1], before=1024 * 1024)
    outcome: dict[str, object] = {}

    def first_part() -> None:
        try:
            outcome["part"] = bids.upload_part(personas.bidder_a, started.public_id, 1, slow, len(parts[1]))
        except Exception as exc:  # reported to the test below
            outcome["error"] = exc
        finally:
            connections.close_all()

    worker = threading.Thread(target=first_part)
    worker.start()
    try:
        assert slow.waiting.wait(timeout=60)  # part 1 is half-way through its body, its number reserved
        with pytest.raises(Conflict) as exc:
            send(personas.bidder_a, started.public_id, 1, parts[1])
        assert exc.value.code == "part_in_progress"
        # Parts 2 and 3 are stored while part 1 is still arriving: no lock is held during a store write.
        send(personas.bidder_a, started.public_id, 3, parts[3])
        send(personas.bidder_a, started.public_id, 2, parts[2])
        assert state_of(started)[:2] == (0, len(parts[2]) + len(parts[3]))
    finally:
        slow.go.set()
        worker.join(timeout=120)
    assert "error" not in outcome, outcome.get("error")
    assert state_of(started)[:2] == (3, len(sealed.ciphertext))
    bid = bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    assert bid.sha256 == sealed.sealed.ciphertext_sha256


def test_the_upload_status_names_the_window_and_every_confirmed_part_and_an_outage_answers_503(
    personas, published_tender, five_mib_parts, monkeypatch
):
    from django.test import Client

    from accounts.services import issue_api_token

    client = Client(HTTP_AUTHORIZATION="Bearer " + issue_api_token(personas.bidder_a, "cli")[0])
    started = bids.start_upload(personas.bidder_a, published_tender, uuid.uuid4(), 3 * five_mib_parts)
    part = b"\x28" * five_mib_parts
    url = f"/api/bids/uploads/{started.public_id}"
    answer = client.put(f"{url}/parts/2", data=part, content_type="application/octet-stream")
    assert answer.status_code == 200, answer.json()
    status = client.get(url).json()
    assert (status["received_parts"], status["received_bytes"], status["part_window"]) == (0, len(part), 4)
    assert status["part_sha256"] == []
    assert status["confirmed_parts"] == [{"number": 2, "size": len(part), "sha256": answer.json()["sha256"]}]
    store = get_object_store()

    def down(*args, **kwargs):
        raise StoreUnavailable("upload part: ServiceUnavailable")

    monkeypatch.setattr(store, "upload_part", down)
    refused = client.put(f"{url}/parts/1", data=part, content_type="application/octet-stream")
    assert refused.status_code == 503 and refused["Retry-After"]
    assert refused.json()["code"] == "store_unavailable"
    assert client.get(url).json() == status  # nothing changed: part 1 is free for the retry
