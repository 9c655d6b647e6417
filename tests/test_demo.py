"""`make run` loads the demo; running it again must neither fail nor duplicate."""

import datetime as dt

from django.core.management import call_command

from accounts.models import Organization, PublicKey, User
from archive.ledger import verify_ledger
from frontend.demo import DEMO_TENDER_NUMBER
from tendering.models import Phase, Tender, TenderDocument


def test_the_demo_loads_twice_without_duplicates(db, tmp_path, settings, capsys):
    from archive.storage import reset_object_store_cache

    settings.VAR_DIR = tmp_path
    settings.DEVELOPMENT_PKI_DIR = tmp_path / "pki"
    settings.OBJECT_STORE_ROOT = tmp_path / "objects"
    settings.S3_ENDPOINT = ""
    reset_object_store_cache()
    call_command("load_demo")
    counts = (User.objects.count(), Organization.objects.count(), PublicKey.objects.count(), Tender.objects.count())
    call_command("load_demo")
    assert (
        User.objects.count(),
        Organization.objects.count(),
        PublicKey.objects.count(),
        Tender.objects.count(),
    ) == counts
    # 17 users: 2 staff, 3 bidders, 5 experts, 3 custodians, regulator, admin, and the pool's two experts the
    # evaluation's draw excludes; 22 keys: a signing and an encryption key of each bidder, custodian and expert;
    # 3 tenders: open for bids, at its opening, in evaluation.
    assert counts == (17, 7, 22, 3)
    tender = Tender.objects.get(number=DEMO_TENDER_NUMBER)
    from config import clock

    assert tender.phase(clock.now()) == Phase.OPEN_FOR_BIDS
    assert (tender.custodian_slots.count(), tender.custodian_threshold) == (3, 2)
    # The demo custodians confirmed custody with their demo signing keys: the demo tender takes bids.
    from tendering.services import custody

    assert custody.custody_confirmed(tender) and custody.custody_view(tender)["confirmed"]
    assert all(key.certificate_der for key in PublicKey.objects.all())  # the demo key CA certified every demo key
    assert (settings.DEMO_KEY_CA_DIR / "demo-ca.cert.pem").exists()
    assert TenderDocument.objects.get(tender=tender).size > 0
    assert sorted(p.name for p in (tmp_path / "demo-keys").iterdir())[:2] == [
        "bidder1-encryption.pem",
        "bidder1-signing.pem",
    ]
    out = capsys.readouterr().out
    assert "Demo-tenderer-2026" in out
    # The tenders of README's walk-through, with their addresses, and how to play the other devices.
    assert f"{DEMO_TENDER_NUMBER}  /tenders/{tender.public_id}/" in out
    assert "RJ-2026-KB-001  /tenders/" in out and "make play-demo" in out
    assert verify_ledger().ok
    assert (tmp_path / "pki").is_dir()  # the development PKI, generated on first run
    from archive.models import LedgerCheckpoint

    assert LedgerCheckpoint.objects.count() >= 1
    reset_object_store_cache()


def test_the_demo_has_a_tender_at_its_opening_with_a_sealed_bid_from_each_demo_bidder(db, tmp_path, settings):
    from archive.storage import reset_object_store_cache
    from config import clock
    from frontend.demo import DEMO_BIDS, DEMO_OPENING_PREFIX, live_demo_opening, load_demo
    from tendering.models import Bid, BidStatus
    from tendering.services import custody

    settings.VAR_DIR = tmp_path
    settings.DEVELOPMENT_PKI_DIR = tmp_path / "pki"
    settings.OBJECT_STORE_ROOT = tmp_path / "objects"
    settings.S3_ENDPOINT = ""
    reset_object_store_cache()
    load_demo()
    opening = live_demo_opening()
    assert opening is not None and opening.number == f"{DEMO_OPENING_PREFIX}001"
    # load_demo returns once the opening time has come: the hall is open.
    assert opening.phase(clock.now()) == Phase.OPENING
    assert opening.opening_time <= clock.now()
    assert custody.custody_confirmed(opening)
    bids = Bid.objects.filter(tender=opening, status=BidStatus.ACCEPTED).select_related("bidder")
    bidders = sorted(User.objects.get(username=name).organization.name for name in DEMO_BIDS)
    assert sorted(b.bidder.name for b in bids) == bidders
    # The legal bid period is bent for this tender only, in load_demo's process.
    assert settings.BID_PERIOD_MIN_DAYS["open"] == 20
    load_demo()  # the opening is still live: nothing new
    assert Tender.objects.filter(number__startswith=DEMO_OPENING_PREFIX).count() == 1
    # Once its decryption window has passed, the next load_demo makes a new one.
    later = clock.now() + dt.timedelta(minutes=settings.OPENING_DECRYPTION_WINDOW_MINUTES + 1)
    with clock.frozen(later):
        assert live_demo_opening() is None
    reset_object_store_cache()


def test_play_demo_refuses_to_run_in_production_and_acts_for_nobody(db, settings):
    import pytest
    from django.core.management.base import CommandError

    from accounts.models import ApiToken

    settings.ETENDER_ENV = "production"
    with pytest.raises(CommandError, match="production"):
        call_command("play_demo")
    assert not ApiToken.objects.exists()
