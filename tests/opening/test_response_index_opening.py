"""The response index (评审因素定位) travels inside the ciphertext and comes out at the opening's one pass into
``BidOpening.response_index``; the files placed after it still read back through the checked index, and
``opened_files.response_index`` gives it only as the ledger's ``bid_opened`` entry committed to it."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from accounts.errors import WrongPhase
from archive.canonical import canonical_json
from archive.models import LedgerEntry
from tendering.models import BidOpening, Tender
from tendering.sealing import LotPrice, Pointer, PriceSummary, ResponseIndex, seal_bid
from tendering.services import opened_files
from tests.bids.conftest import BidderKeys, Sealed, keys_for, seal, submit
from tests.fixtures.personas import Personas
from tests.opening.conftest import Entry, OpeningCase
from tests.opening.test_opened_files import decrypt_all, publish_record

pytestmark = pytest.mark.django_db

TECHNICAL = ("第一章 施工组织设计 " * 3000).encode()
LICENCE = b"%PDF-1.7 licence scan"
INDEX = ResponseIndex.of(
    [
        Pointer("T1", "技术/施工组织设计.pdf", 12),
        Pointer("D1", "资格/营业执照.pdf", 1),
        Pointer("T1", "技术/施工组织设计.pdf", 3),
    ]
)


def seal_with_index(tender: Tender, keys: BidderKeys, folder: Path) -> Sealed:
    """A bid of two files with a response index, sealed as the bidder's client does."""
    bid_id = str(uuid.uuid4())
    org = keys.user.organization
    assert org is not None and org.credit_code
    (folder / "技术").mkdir(parents=True)
    (folder / "资格").mkdir()
    (folder / "技术" / "施工组织设计.pdf").write_bytes(TECHNICAL)
    (folder / "资格" / "营业执照.pdf").write_bytes(LICENCE)
    summary = PriceSummary(str(tender.public_id), bid_id, org.credit_code, (LotPrice("1", "6123456.70", 180),))
    custodians = [
        bytes(slot.public_key.spki_der)
        for slot in tender.custodian_slots.select_related("public_key").order_by("position")
    ]
    sink = io.BytesIO()
    sealed = seal_bid(
        str(folder),
        summary,
        str(tender.public_id),
        bid_id,
        org.credit_code,
        keys.signing,
        keys.encryption.public_key(),
        custodians,
        tender.custodian_threshold,
        sink,
        response_index=INDEX,
    )
    return Sealed(sink.getvalue(), sealed, bid_id, TECHNICAL)


@pytest.fixture
def indexed_case(
    personas: Personas, published_tender: Tender, frozen_clock: Any, tmp_path: Path, third_bidder: Any
) -> OpeningCase:
    entries = []
    for number, user in enumerate([personas.bidder_a, personas.bidder_b, third_bidder], 1):
        frozen_clock.advance(minutes=1)
        bidder_keys = keys_for(user)
        if number == 1:
            sealed = seal_with_index(published_tender, bidder_keys, tmp_path / "b1")
        else:
            sealed = seal(published_tender, bidder_keys, tmp_path / f"b{number}")
        entries.append(Entry(bidder_keys, sealed, submit(user, published_tender, sealed)))
    return OpeningCase(published_tender, personas, entries, frozen_clock)


def test_the_index_comes_out_at_the_opening_and_the_ledger_commits_to_it(indexed_case: OpeningCase) -> None:
    assert INDEX.canonical_bytes() not in indexed_case.entries[0].sealed.ciphertext  # inside the ciphertext only
    opened = publish_record(indexed_case)
    with_index, *without = opened
    assert with_index.bid.pk == indexed_case.entries[0].bid.pk
    assert with_index.response_index == INDEX.to_json()
    assert [b.response_index for b in without] == [None, None]
    # The files after the index read back through the index checked against the container's form.
    assert b"".join(opened_files.stream_bid_file(with_index, "bid/技术/施工组织设计.pdf")) == TECHNICAL
    assert b"".join(opened_files.stream_bid_file(with_index, "bid/资格/营业执照.pdf")) == LICENCE
    plaintexts = {e.bid.pk: e.sealed.plaintext for e in indexed_case.entries}
    for other in without:
        assert b"".join(opened_files.stream_bid_file(other, "bid/技术标.pdf")) == plaintexts[other.bid.pk]
    entries = {
        json.loads(e.data)["bid_id"]: json.loads(e.data)
        for e in LedgerEntry.objects.filter(action="tendering.opening.bid_opened")
    }
    first = entries[str(with_index.bid.public_id)]
    assert first["response_index_sha256"] == hashlib.sha256(INDEX.canonical_bytes()).hexdigest()
    assert first["response_index_sha256"] == hashlib.sha256(canonical_json(with_index.response_index)).hexdigest()
    assert all("response_index_sha256" not in entries[str(b.bid.public_id)] for b in without)


def test_the_checked_index_is_the_ledgers_and_an_edit_of_the_same_size_is_refused(indexed_case: OpeningCase) -> None:
    with_index, *without = publish_record(indexed_case)
    assert opened_files.response_index(with_index) == INDEX.to_json()
    assert [opened_files.response_index(b) for b in without] == [None, None]
    edited = INDEX.to_json()
    edited["pointers"][0]["page"] = 99  # pages 1 → 99: still within the same 512 bytes, the files stay in place
    BidOpening.objects.filter(pk=with_index.pk).update(response_index=edited)
    changed = BidOpening.objects.select_related("bid", "opening", "opening__tender").get(pk=with_index.pk)
    opened_files.bid_file_index(changed)  # the files' places do not see it
    with pytest.raises(opened_files.BidIndexInvalid, match="not the one the ledger committed to"):
        opened_files.response_index(changed)
    # An index given to a bid that had none is refused the same way.
    BidOpening.objects.filter(pk=without[0].pk).update(response_index=INDEX.to_json())
    with pytest.raises(opened_files.BidIndexInvalid):
        opened_files.response_index(BidOpening.objects.select_related("bid", "opening").get(pk=without[0].pk))


def test_the_index_is_not_shown_before_the_record_is_published(indexed_case: OpeningCase) -> None:
    with_index = decrypt_all(indexed_case)[0]
    with pytest.raises(WrongPhase):
        opened_files.response_index(BidOpening.objects.select_related("bid", "opening").get(pk=with_index.pk))


def test_a_response_index_removed_in_the_database_stops_the_files_being_served(indexed_case: OpeningCase) -> None:
    # The files' places follow from the index's size (rounded up to 512 bytes); a change within the same size is
    # caught against the ledger's response_index_sha256 instead (the test above).
    with_index = publish_record(indexed_case)[0]
    BidOpening.objects.filter(pk=with_index.pk).update(response_index=None)
    changed = BidOpening.objects.select_related("bid", "opening").get(pk=with_index.pk)
    with pytest.raises(opened_files.BidIndexInvalid):
        opened_files.bid_file_index(changed)
