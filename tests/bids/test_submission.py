"""An accepted bid: receipt, replacement, withdrawal, who sees what, and uploads left unfinished."""

import datetime as dt
import io
import uuid

import pytest

from accounts.errors import Conflict, NotFound, WrongPhase
from archive import signing
from archive.models import LedgerEntry
from archive.verify import verify_receipt
from tendering.models import Bid, BidStatus, BidUpload, BidUploadState
from tendering.sealing import open_bid
from tendering.services import bids
from tests.bids.conftest import seal, submit, upload


def platform_ca_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization

    return signing.platform_signer().chain[-1].public_bytes(serialization.Encoding.PEM)


def test_an_accepted_bid_gets_a_receipt_that_verifies_offline(
    personas, published_tender, bidder_a_keys, tmp_path, frozen_clock
):
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    bid = submit(personas.bidder_a, published_tender, sealed)
    assert (bid.status, bid.sha256, bid.size) == (
        BidStatus.ACCEPTED,
        sealed.sealed.ciphertext_sha256,
        len(sealed.ciphertext),
    )
    result = verify_receipt(bytes(bid.receipt), platform_ca_pem())
    assert result.ok, result.reason
    assert result.subject["ciphertext_sha256"] == sealed.sealed.ciphertext_sha256
    assert result.subject["bid_id"] == sealed.bid_id
    assert result.seq == bid.ledger_seq
    assert result.time == frozen_clock()
    entry = LedgerEntry.objects.get(seq=bid.ledger_seq)
    assert entry.action == "tendering.bid.submitted" and entry.case == published_tender.case


def test_the_stored_ciphertext_opens_with_the_bidders_key_and_gives_back_the_bid(
    personas, published_tender, bidder_a_keys, tmp_path
):
    from archive.storage import get_object_store
    from tendering.sealing import open_bidder_envelope, parse_manifest

    sealed = seal(published_tender, bidder_a_keys, tmp_path, price="7654321.00")
    bid = submit(personas.bidder_a, published_tender, sealed)
    manifest = parse_manifest(bytes(bid.manifest))
    file_key = open_bidder_envelope(manifest.envelopes.bidder, manifest.identity, bidder_a_keys.encryption)
    with get_object_store().open(bid.object_key, bid.version_id or None) as stream:
        out = tmp_path / "opened"
        opened = open_bid(stream, manifest, file_key, out)
    assert opened.price_summary.lots[0].price_yuan == "7654321.00"
    assert (out / "bid" / "技术标.pdf").read_bytes() == sealed.plaintext


def test_a_second_bid_replaces_the_first_which_is_kept(personas, published_tender, bidder_a_keys, tmp_path):
    first = submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path))
    second = submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path, price="1.00"))
    first.refresh_from_db()
    assert (first.status, first.superseded_by) == (BidStatus.SUPERSEDED, second)
    assert second.status == BidStatus.ACCEPTED
    assert Bid.objects.filter(tender=published_tender, status=BidStatus.ACCEPTED).count() == 1
    entry = LedgerEntry.objects.get(seq=second.ledger_seq)
    assert str(first.public_id) in entry.data


def test_a_bid_can_be_withdrawn_before_the_deadline_but_not_after(
    personas, published_tender, bidder_a_keys, bidder_b_keys, tmp_path, frozen_clock
):
    bid_a = submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path))
    bid_b = submit(personas.bidder_b, published_tender, seal(published_tender, bidder_b_keys, tmp_path))
    with pytest.raises(NotFound):
        bids.withdraw(personas.bidder_b, bid_a.public_id)
    bids.withdraw(personas.bidder_a, bid_a.public_id)
    with pytest.raises(Conflict):
        bids.withdraw(personas.bidder_a, bid_a.public_id)
    assert Bid.objects.filter(tender=published_tender, status=BidStatus.ACCEPTED).count() == 1
    frozen_clock.set(published_tender.bid_deadline)
    with pytest.raises(WrongPhase):
        bids.withdraw(personas.bidder_b, bid_b.public_id)
    bid_b.refresh_from_db()
    assert bid_b.status == BidStatus.ACCEPTED
    assert LedgerEntry.objects.filter(action="tendering.bid.withdrawn").count() == 1


def test_a_bidder_sees_only_its_own_bids(personas, published_tender, bidder_a_keys, bidder_b_keys, tmp_path):
    bid_a = submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path))
    submit(personas.bidder_b, published_tender, seal(published_tender, bidder_b_keys, tmp_path))
    assert list(bids.own_bids(personas.bidder_a)) == [bid_a]
    assert list(bids.own_bids(personas.tenderer)) == []
    with pytest.raises(NotFound):
        bids.own_bid(personas.bidder_b, bid_a.public_id)


def test_an_upload_not_finalized_by_the_deadline_counts_as_not_submitted(
    personas, published_tender, bidder_a_keys, tmp_path, frozen_clock
):
    from tendering.tasks import expire_bid_uploads

    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    started = upload(personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id)
    assert expire_bid_uploads.call(published_tender.pk) == 0  # before the deadline: nothing to do
    frozen_clock.set(published_tender.bid_deadline + dt.timedelta(seconds=1))
    with pytest.raises(WrongPhase):
        bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    assert expire_bid_uploads.call(published_tender.pk) == 1
    started.refresh_from_db()
    assert started.state == BidUploadState.EXPIRED
    assert LedgerEntry.objects.filter(action="tendering.bid.upload_expired").count() == 1
    assert expire_bid_uploads.call(published_tender.pk) == 0  # idempotent
    assert not Bid.objects.exists()


def test_expired_upload_parts_are_removed_from_the_store(
    personas, published_tender, bidder_a_keys, tmp_path, frozen_clock, django_capture_on_commit_callbacks
):
    from archive.storage import UploadNotFound, get_object_store

    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    started = upload(personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id)
    frozen_clock.set(published_tender.bid_deadline)
    with django_capture_on_commit_callbacks(execute=True):
        bids.expire_uploads(published_tender.pk)
    with pytest.raises(UploadNotFound):
        get_object_store().list_parts(started.object_key, started.store_upload_id)


def test_an_interrupted_upload_resumes_from_the_last_confirmed_part(
    personas, published_tender, bidder_a_keys, tmp_path, settings
):
    settings.BID_PART_SIZE = 5 * 1024 * 1024
    content = bytes(range(256)) * (24 * 1024 * 2)  # 12 MiB of plaintext: three parts of ciphertext
    sealed = seal(published_tender, bidder_a_keys, tmp_path, content=content)
    started = bids.start_upload(personas.bidder_a, published_tender, uuid.UUID(sealed.bid_id), len(sealed.ciphertext))
    part_size = started.part_size
    first = sealed.ciphertext[:part_size]
    bids.upload_part(personas.bidder_a, started.public_id, 1, io.BytesIO(first), len(first))
    # The connection drops; the client asks where the upload stands and continues.
    status = bids.upload_status(personas.bidder_a, started.public_id)
    assert (status.received_parts, status.expected_parts) == (1, 3)
    for number in range(status.received_parts + 1, status.expected_parts + 1):
        chunk = sealed.ciphertext[(number - 1) * part_size : number * part_size]
        bids.upload_part(personas.bidder_a, started.public_id, number, io.BytesIO(chunk), len(chunk))
    bid = bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    assert bid.sha256 == sealed.sealed.ciphertext_sha256
    assert BidUpload.objects.get().state == BidUploadState.FINALIZED


def test_a_failing_time_stamp_authority_delays_the_receipt_not_the_acceptance(
    personas, published_tender, bidder_a_keys, tmp_path, monkeypatch
):
    from archive.receipts import issue_receipt

    def unavailable(*args, **kwargs):
        raise ConnectionError("the time-stamp authority does not answer")

    monkeypatch.setattr(bids, "issue_receipt", unavailable)
    bid = submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path))
    assert bid.status == BidStatus.ACCEPTED and bytes(bid.receipt) == b""
    monkeypatch.setattr(bids, "issue_receipt", issue_receipt)
    again = bids.own_bid(personas.bidder_a, bid.public_id)
    assert verify_receipt(bytes(again.receipt), platform_ca_pem()).ok
