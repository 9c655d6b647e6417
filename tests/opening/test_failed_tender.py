"""Fewer than three bids opened: closing the opening fails the tender (招标投标法 Art 28), recorded, and the
tenderer is told to tender again; three opened bids move on to the evaluation."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.test import Client

from archive.models import LedgerEntry
from config import clock as platform_clock
from tendering.models import BidOpening, BidOpeningState, Notification, NotificationKind, Opening, Phase, Tender
from tendering.sealing import open_bidder_envelope, parse_manifest
from tendering.services import decryption
from tendering.services.opening import admission, conclusion, keys
from tests.bids.conftest import keys_for, seal, submit
from tests.evaluation.factories import PRICES, _bidder
from tests.fixtures.personas import Personas


def close_with(
    personas: Personas, tender: Tender, clock: platform_clock.FrozenClock, folder: Path, n_bids: int, released: int
) -> Tender:
    """``n_bids`` sealed, ``released`` of them released and opened (the rest revoked), the opening closed."""
    users = [personas.bidder_a, personas.bidder_b, *(_bidder(tender, i) for i in range(3, n_bids + 1))][:n_bids]
    entries = []
    for number, user in enumerate(users, start=1):
        clock.advance(minutes=1)
        bidder_keys = keys_for(user)
        sealed = seal(tender, bidder_keys, folder / f"bidder{number}", price=PRICES[number - 1])
        entries.append((bidder_keys, sealed, submit(user, tender, sealed)))
    clock.set(tender.opening_time + dt.timedelta(minutes=1))
    admission.ensure_opening(tender)
    for bidder_keys, sealed, bid in entries[:released]:
        manifest = parse_manifest(sealed.sealed.manifest_bytes)
        file_key = open_bidder_envelope(manifest.envelopes.bidder, manifest.identity, bidder_keys.encryption)
        keys.release_key(bidder_keys.user, tender, bid.public_id, file_key)
    for bo in BidOpening.objects.filter(opening__tender=tender, state=BidOpeningState.KEY_READY):
        decryption.decrypt_bid(bo.pk)
    opening = Opening.objects.get(tender=tender)
    clock.set(opening.decryption_ends_at)
    conclusion.conclude_decryption(personas.tenderer, tender)
    opening.refresh_from_db()
    assert opening.confirmation_ends_at is not None
    clock.set(opening.confirmation_ends_at)
    conclusion.close_opening(personas.tenderer, tender)
    return Tender.objects.get(pk=tender.pk)


def test_two_opened_bids_fail_the_tender_and_the_tenderer_is_told(
    personas: Personas, published_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> None:
    # Three bids stood at the deadline; one was not released, so only two are valid.
    tender = close_with(personas, published_tender, frozen_clock, tmp_path, n_bids=3, released=2)

    assert tender.phase(frozen_clock()) == Phase.FAILED
    assert tender.failure_reason == "too_few_opened"
    failed = [json.loads(e.data) for e in LedgerEntry.objects.filter(action="tendering.tender.failed")]
    assert [(f["reason"], f["opened"], f["bids"]) for f in failed] == [("too_few_opened", 2, 3)]
    closed = LedgerEntry.objects.get(action="tendering.opening.closed")
    assert LedgerEntry.objects.get(action="tendering.tender.failed").seq > closed.seq
    notices = list(Notification.objects.filter(tender=tender))
    assert [(n.recipient, n.kind) for n in notices] == [(personas.tenderer, NotificationKind.TENDER_FAILED)]
    assert "招标失败，请依法重新招标" in notices[0].message
    assert not Notification.objects.filter(recipient__in=[personas.bidder_a, personas.bidder_b]).exists()


def test_the_tender_page_says_it_failed_and_why(
    personas: Personas,
    published_tender: Tender,
    frozen_clock: platform_clock.FrozenClock,
    tmp_path: Path,
) -> None:
    tender = close_with(personas, published_tender, frozen_clock, tmp_path, n_bids=2, released=2)
    page = Client().get(f"/tenders/{tender.public_id}/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "招标失败，请依法重新招标" in text
    assert "开标后有效投标不足三家" in text


def test_three_opened_bids_move_on_to_the_evaluation(
    personas: Personas, published_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> None:
    tender = close_with(personas, published_tender, frozen_clock, tmp_path, n_bids=3, released=3)

    assert tender.phase(frozen_clock()) == Phase.EVALUATION
    assert not LedgerEntry.objects.filter(action="tendering.tender.failed").exists()
    assert not Notification.objects.filter(kind=NotificationKind.TENDER_FAILED).exists()
