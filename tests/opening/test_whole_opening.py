"""A whole opening, in order: keys from a bidder and from the custodians, a custodian's wrong parts named,
a bidder who never decrypts, the worker's decryption, the record confirmed and objected to, closing, the signed PDF."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from accounts.errors import WrongPhase
from archive import cases, signing
from archive.canonical import canonical_json
from archive.dossier import build_dossier
from archive.ledger import verify_ledger
from archive.models import LedgerEntry
from archive.pdf import verify_pdf_signature
from archive.signing import platform_signer
from archive.storage import get_object_store
from archive.verify.dossier import verify_dossier
from tendering.models import BidOpening, BidOpeningState, KeySource, Opening, OpeningEvent, Phase, UnreleasedBidRule
from tendering.services import decryption, opened_files
from tendering.services.opening import admission, conclusion, confirmations, custodian_parts, keys, views
from tendering.services.opening_record import file_record
from tests.opening.conftest import OpeningCase

pytestmark = pytest.mark.django_db


def bid_openings(case: OpeningCase) -> list[BidOpening]:
    return list(BidOpening.objects.filter(opening__tender=case.tender).select_related("bid").order_by("position"))


def run_worker(case: OpeningCase) -> list[str]:
    """What the worker does: every bid with a key, decrypted."""
    return [decryption.decrypt_bid(b.pk) for b in bid_openings(case) if b.state == BidOpeningState.KEY_READY]


def test_a_whole_opening_ends_every_bid_in_exactly_one_state_and_files_a_signed_record(
    opening_case: OpeningCase, tmp_path: Path
) -> None:
    case = opening_case
    a, b, c = case.entries
    tenderer, regulator = case.personas.tenderer, case.personas.regulator
    case.at_opening()
    for person in (tenderer, regulator, a.user, b.user, c.user, *case.custodians):
        admission.sign_in(person, case.tender)
    admission.sign_in(a.user, case.tender)  # twice: once counted

    # Bidder A releases its key; bidder C never does; bidder B neither (its bid is left to the custodians).
    keys.release_key(a.user, case.tender, a.bid.public_id, a.file_key())
    assert run_worker(case) == ["opened"]

    # Custodian 2 (position 2) submits wrong parts; custodian 3's then complete subset {2, 3}:
    # it fails and both are suspects.
    # Parts are checked for every bid, A's too although its bidder released its key (no free option).
    custodian_parts.submit_custodian_parts(case.custodians[1], case.tender, case.parts_of(1, corrupt=True))
    custodian_parts.submit_custodian_parts(case.custodians[2], case.tender, case.parts_of(2))
    failures = [
        json.loads(e.data)
        for e in LedgerEntry.objects.filter(action="tendering.opening.custodian_parts_failed").order_by("seq")
    ]
    assert {f["bid_id"] for f in failures} == {str(a.bid.public_id), str(b.bid.public_id), str(c.bid.public_id)}
    assert all(f["failed_subsets"] == [[2, 3]] and f["suspects"] == [2, 3] for f in failures)
    assert [x.state for x in bid_openings(case)] == ["opened", "awaiting_key", "awaiting_key"]

    # Custodian 1 completes {1, 2} (fails: custodian 2 is the one in every failing subset) and {1, 3} (opens).
    custodian_parts.submit_custodian_parts(case.custodians[0], case.tender, case.parts_of(0))
    failures = [
        json.loads(e.data)
        for e in LedgerEntry.objects.filter(action="tendering.opening.custodian_parts_failed").order_by("seq")
    ][3:]
    assert len(failures) == 3 and all(f["failed_subsets"] == [[1, 2]] and f["suspects"] == [2] for f in failures)
    assert [x.custodian_check for x in bid_openings(case)] == ["matched"] * 3
    named = OpeningEvent.objects.filter(kind="custodian.parts_failed").order_by("-seq").first()
    assert named is not None and named.payload["suspects"] == [{"position": 2, "name": case.custodians[1].display_name}]
    assert [x.state for x in bid_openings(case)] == ["opened", "key_ready", "key_ready"]
    assert [x.key_source for x in bid_openings(case)] == [KeySource.BIDDER, KeySource.CUSTODIANS, KeySource.CUSTODIANS]
    assert run_worker(case) == ["opened", "opened"]

    # Every price summary is read from inside the bids, but nobody sees one before every bid is final.
    prices = [x.price_summary["lots"][0]["price_yuan"] for x in bid_openings(case)]
    assert prices == ["6123456.70", "5980000.00", "6050000.50"]
    for person in (tenderer, regulator, a.user, b.user):
        hidden = views.snapshot(person, case.tender)["bids"]
        assert [(v["state"], v["price_summary"], v["files"]) for v in hidden] == [("opened", None, [])] * 3
    for entry, bo in zip(case.entries, bid_openings(case), strict=True):
        assert bo.plaintext_size and len(bo.files) == 1 and bo.files[0]["path"] == "bid/技术标.pdf"
        assert bo.files[0]["sha256"] == hashlib.sha256(entry.sealed.plaintext).hexdigest()
        # The index: where the file lies in the container, in which segments of the accepted ciphertext.
        assert bo.files[0]["offset"] > 0 and bo.files[0]["segments"][0] == 0 and len(bytes(bo.ciphertext_header)) == 40
    # No second copy: the opening wrote nothing to the store, only the accepted ciphertexts are there.
    stored_keys = {o.key for o in get_object_store().list_versions(f"tenders/{case.tender.public_id}/")}
    assert {k for k in stored_keys if "/documents/" not in k} == {e.bid.object_key for e in case.entries}
    # Before the record is published nobody reads a file of a bid, however it asks.
    refused_read = bid_openings(case)[0]
    with pytest.raises(WrongPhase) as caught:
        opened_files.stream_bid_file(refused_read, refused_read.files[0]["path"])
    assert caught.value.code == "bid_files_not_revealed"

    # The record is published once the decryption is concluded; bidders confirm or object.
    op = Opening.objects.get(tender=case.tender)
    assert op.record_published_at is None
    case.clock.set(op.decryption_ends_at)
    conclusion.conclude_decryption(tenderer, case.tender)
    op.refresh_from_db()
    assert op.record_published_at is not None and op.confirmation_ends_at is not None
    # From now on the evaluation reads each file straight out of the accepted ciphertext, whole or by range.
    for entry, bo in zip(case.entries, bid_openings(case), strict=True):
        assert b"".join(opened_files.stream_bid_file(bo, "bid/技术标.pdf")) == entry.sealed.plaintext
        part = b"".join(opened_files.stream_bid_file(bo, "bid/技术标.pdf", start=7, end=700))
        assert part == entry.sealed.plaintext[7:700]
    shown = views.snapshot(regulator, case.tender)["bids"]
    assert [v["price_summary"]["lots"][0]["price_yuan"] for v in shown] == prices
    revealed = OpeningEvent.objects.get(opening=op, kind="opening.revealed").payload["bids"]
    assert [v["price_summary"]["lots"][0]["price_yuan"] for v in revealed] == prices
    # Before it, no event carried a price or a file name.
    early = OpeningEvent.objects.filter(
        opening=op, seq__lt=OpeningEvent.objects.get(opening=op, kind="opening.revealed").seq
    )
    assert not any(
        "6123456.70" in json.dumps(e.payload) or "技术标" in json.dumps(e.payload, ensure_ascii=False) for e in early
    )
    confirmations.confirm_record(a.user, case.tender)
    objection = confirmations.raise_objection(b.user, case.tender, "第 2 标段工期应为 120 日历天，请核对。")
    with pytest.raises(Exception) as early:
        conclusion.close_opening(tenderer, case.tender)
    assert getattr(early.value, "code", "") == "objections_unanswered"
    confirmations.answer_objection(
        tenderer, case.tender, objection.pk, "经核对开标一览表，工期为 180 日历天，记录无误。"
    )
    with pytest.raises(Exception) as waiting:
        conclusion.close_opening(tenderer, case.tender)
    assert getattr(waiting.value, "code", "") == "confirmation_open"
    case.clock.set(op.confirmation_ends_at)
    conclusion.close_opening(tenderer, case.tender)
    case.tender.refresh_from_db()
    assert case.tender.phase(case.clock()) == Phase.EVALUATION
    confirmed = [(x.confirmed_at is not None, x.confirmed_by_default) for x in bid_openings(case)]
    assert confirmed == [(True, False), (True, True), (True, True)]

    # The signed PDF, filed once.
    assert file_record(op.pk) == "filed"
    assert file_record(op.pk) == "already filed"
    op.refresh_from_db()
    with get_object_store().open(op.record_object_key, op.record_version_id or None) as stored:
        pdf = stored.read()
    report = verify_pdf_signature(pdf, platform_signer().trust_anchors)
    assert report.valid and report.covers_whole_document and report.timestamp_valid, report.problem
    assert hashlib.sha256(pdf).hexdigest() == op.record_sha256
    # The case holds the record and, since the opening started, every accepted bid's ciphertext as signed.
    filed = {f.name: f for f in cases.objects_of(case.tender.case)}
    assert (filed["opening/opening-record.pdf"].sha256, filed["opening/opening-record.pdf"].version_id) == (
        op.record_sha256,
        op.record_version_id,
    )
    for entry in case.entries:
        sealed = filed[f"bids/{entry.bid.public_id}/bid.sealed"]
        assert (sealed.object_key, sealed.sha256, sealed.size) == (
            entry.bid.object_key,
            entry.bid.sha256,
            entry.bid.size,
        )
    # Closed now, the case's dossier verifies offline: the three ciphertexts, the document, the signed record.
    dossier = build_dossier(case.tender.case, tmp_path / "dossier.tar")
    checked = verify_dossier(dossier.path, signing.development_ca()[1].public_bytes(serialization.Encoding.PEM))
    assert checked.ok and checked.objects == 5, checked.reason
    assert "1 PDFs signed by the platform, each signature holding when the dossier was sealed" in checked.passed

    # The ledger tells the opening in order, and verifies.
    actions = [
        e.action
        for e in LedgerEntry.objects.filter(case=case.tender.case, action__startswith="tendering.opening.").order_by(
            "seq"
        )
    ]
    assert actions[0] == "tendering.opening.started"
    assert actions.count("tendering.opening.signed_in") == 8
    assert actions.count("tendering.opening.bid_opened") == 3
    # No price or file name is in the ledger before every bid is final: bid_opened commits to them by hash,
    # and the published record carries them, matching those hashes.
    opened_entries = [
        json.loads(e.data)
        for e in LedgerEntry.objects.filter(case=case.tender.case, action="tendering.opening.bid_opened").order_by(
            "seq"
        )
    ]
    published = json.loads(
        LedgerEntry.objects.get(case=case.tender.case, action="tendering.opening.record_published").data
    )["opened"]
    by_bid = {item["bid_id"]: item for item in published}
    assert len(by_bid) == 3
    for entry in opened_entries:
        assert "price_summary" not in entry and "files" not in entry
        shown = by_bid[entry["bid_id"]]
        assert entry["price_summary_sha256"] == hashlib.sha256(canonical_json(shown["price_summary"])).hexdigest()
        assert entry["files_sha256"] == hashlib.sha256(canonical_json(shown["files"])).hexdigest()
        assert entry["file_count"] == len(shown["files"]) > 0
    assert sorted(p["lots"][0]["price_yuan"] for p in (item["price_summary"] for item in published)) == sorted(prices)
    assert actions.count("tendering.opening.key_ready") == 3
    assert (
        actions.index("tendering.opening.record_published")
        < actions.index("tendering.opening.closed")
        < actions.index("tendering.opening.record_filed")
    )
    assert verify_ledger().ok
    # The hall's events are numbered without gaps.
    seqs = list(OpeningEvent.objects.filter(opening=op).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, op.last_seq + 1))


def test_under_the_revoked_rule_a_bid_not_released_counts_as_revoked(opening_case: OpeningCase) -> None:
    case = opening_case
    type(case.tender).objects.filter(pk=case.tender.pk).update(unreleased_bids=UnreleasedBidRule.REVOKED)
    case.tender.refresh_from_db()
    a = case.entries[0]
    case.at_opening()
    keys.release_key(a.user, case.tender, a.bid.public_id, a.file_key())
    run_worker(case)
    case.clock.set(Opening.objects.get(tender=case.tender).decryption_ends_at)
    conclusion.conclude_decryption(case.personas.tenderer, case.tender)
    assert [(x.state, x.outcome_code) for x in bid_openings(case)] == [
        ("opened", ""),
        ("revoked", "key_not_released"),
        ("revoked", "key_not_released"),
    ]
    assert Opening.objects.get(tender=case.tender).record_published_at is not None


def test_stored_bytes_that_changed_end_the_bid_as_failed_not_as_the_bidders_fault(
    opening_case: OpeningCase, object_store_dir: Path
) -> None:
    case = opening_case
    a = case.entries[0]
    case.at_opening()
    # The object store's copy is damaged after the deadline (a disk fault, or someone with access to the bucket).
    store = get_object_store()
    info = store.stat(a.bid.object_key, a.bid.version_id or None)
    damaged = [p for p in Path(object_store_dir).rglob("*") if p.is_file() and p.stat().st_size == info.size]
    assert damaged, "the stored ciphertext was not found on disk"
    for path in damaged:
        data = bytearray(path.read_bytes())
        data[5000] ^= 0x01
        path.write_bytes(bytes(data))
    keys.release_key(a.user, case.tender, a.bid.public_id, a.file_key())
    # Within the window it is a fault of the platform's: tried again later, with a growing back-off.
    assert run_worker(case) == ["retry scheduled"]
    assert decryption.decrypt_bid(bid_openings(case)[0].pk) == "nothing to do"  # waiting out its back-off
    first = bid_openings(case)[0]
    assert (first.state, first.faults, first.last_fault) == (
        BidOpeningState.KEY_READY,
        1,
        "对象存储返回的密文与投标时受理的密文不一致",
    )
    assert first.retry_at == case.clock() + dt.timedelta(seconds=2)
    case.clock.set(first.retry_at)
    assert run_worker(case) == ["retry scheduled"]
    assert bid_openings(case)[0].retry_at == case.clock() + dt.timedelta(seconds=4)
    # Only a fault at the window's end fails it, and not as the bidder's fault.
    case.clock.set(Opening.objects.get(tender=case.tender).decryption_ends_at)
    assert run_worker(case) == ["failed"]
    first = bid_openings(case)[0]
    assert (first.state, first.outcome_code, first.faults) == (BidOpeningState.FAILED, "stored_ciphertext_differs", 3)
    assert LedgerEntry.objects.filter(action="tendering.opening.decryption_fault").count() == 2
    assert LedgerEntry.objects.filter(action="tendering.opening.bid_not_opened").count() == 1


def test_a_bid_whose_worker_died_is_taken_over_once_its_lease_expires(
    opening_case: OpeningCase, settings: object
) -> None:
    case = opening_case
    a = case.entries[0]
    case.at_opening()
    keys.release_key(a.user, case.tender, a.bid.public_id, a.file_key())
    bo = bid_openings(case)[0]
    # A worker claims it and dies before finishing.
    claimed = decryption._claim(bo.pk, "dead-worker")
    assert claimed is not None and claimed.state == BidOpeningState.DECRYPTING
    op = Opening.objects.get(tender=case.tender)
    assert decryption.stalled(op) == []  # its lease still runs
    assert decryption.decrypt_bid(bo.pk) == "nothing to do"  # a second worker leaves it alone meanwhile
    case.clock.advance(seconds=61)
    assert decryption.stalled(op) == [bo.pk]
    assert decryption.decrypt_bid(bo.pk) == "opened"
    bo.refresh_from_db()
    assert bo.state == BidOpeningState.OPENED and bo.attempts == 2
    assert LedgerEntry.objects.filter(action="tendering.opening.decryption_resumed").count() == 1
    assert LedgerEntry.objects.filter(action="tendering.opening.bid_opened").count() == 1
    # The dead worker, were it to wake up, can no longer keep a result.
    decryption._finish(claimed, "dead-worker", decryption.Decrypted({}, [], 0, b""))
    bo.refresh_from_db()
    assert bo.price_summary["lots"][0]["price_yuan"] == "6123456.70"


def test_a_bid_whose_decryption_kept_dying_ends_as_failed_not_as_the_bidders_fault(
    opening_case: OpeningCase, settings: object
) -> None:
    case = opening_case
    a = case.entries[0]
    case.at_opening()
    keys.release_key(a.user, case.tender, a.bid.public_id, a.file_key())
    bo = bid_openings(case)[0]
    # Workers died on it many times within the window (each left a lease that ran out): none counts against it.
    BidOpening.objects.filter(pk=bo.pk).update(attempts=9, state=BidOpeningState.DECRYPTING, lease_until=case.clock())
    case.clock.advance(seconds=1)
    assert decryption.decrypt_bid(bo.pk) == "opened"
    bo.refresh_from_db()
    assert (bo.state, bo.attempts, bo.faults) == (BidOpeningState.OPENED, 10, 0)


def test_a_bid_whose_worker_died_after_the_window_ends_as_failed_not_as_the_bidders_fault(
    opening_case: OpeningCase,
) -> None:
    case = opening_case
    a = case.entries[0]
    case.at_opening()
    keys.release_key(a.user, case.tender, a.bid.public_id, a.file_key())
    bo = bid_openings(case)[0]
    op = Opening.objects.get(tender=case.tender)
    BidOpening.objects.filter(pk=bo.pk).update(
        attempts=1, state=BidOpeningState.DECRYPTING, lease_until=op.decryption_ends_at
    )
    case.clock.set(op.decryption_ends_at + dt.timedelta(seconds=1))
    assert decryption.decrypt_bid(bo.pk) == "nothing to do"
    bo.refresh_from_db()
    assert (bo.state, bo.outcome_code, bo.faults) == (BidOpeningState.FAILED, "decryption_interrupted", 1)
    assert LedgerEntry.objects.filter(action="tendering.opening.bid_not_opened").count() == 1
