"""`make run` loads the demo; running it again must neither fail nor duplicate."""

from django.core.management import call_command

from accounts.models import Organization, PublicKey, User
from archive.ledger import verify_ledger
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
    assert counts == (15, 7, 12, 1)  # 15 users: 2 staff, 3 bidders, 5 experts, 3 custodians, regulator, admin
    tender = Tender.objects.get()
    from config import clock

    assert tender.phase(clock.now()) == Phase.OPEN_FOR_BIDS
    assert (tender.custodian_slots.count(), tender.custodian_threshold) == (3, 2)
    # The demo custodians confirmed custody with their demo signing keys: the demo tender takes bids.
    from tendering.services import custody

    assert custody.custody_confirmed(tender) and custody.custody_view(tender)["confirmed"]
    assert all(key.certificate_der for key in PublicKey.objects.all())  # the demo key CA certified every demo key
    assert (settings.DEMO_KEY_CA_DIR / "demo-ca.cert.pem").exists()
    assert TenderDocument.objects.get().size > 0
    assert sorted(p.name for p in (tmp_path / "demo-keys").iterdir())[:2] == [
        "bidder1-encryption.pem",
        "bidder1-signing.pem",
    ]
    assert "Demo-tenderer-2026" in capsys.readouterr().out
    assert verify_ledger().ok
    assert (tmp_path / "pki").is_dir()  # the development PKI, generated on first run
    from archive.models import LedgerCheckpoint

    assert LedgerCheckpoint.objects.count() >= 1
    reset_object_store_cache()
