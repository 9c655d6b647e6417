"""Custody nobody can swap, with the installed ``etender`` against the real platform under Daphne.

Three custodians make their keys with the client, prove possession at
registration, get their signing keys certified by the trading centre's CA
(``key_ca``: the test holds its key, the platform does not) and confirm the
tender on their own machines. The bidder trusts that CA only, by a file it
added by hand. Then the test plays the operator, who has the whole server:
it changes a custodian's key in the database, or registers new keys with only
the custodian's password and points the slot at them. Each time the bidder's
``etender seal`` refuses and names that custodian, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from accounts.models import PublicKey
from tendering.client.keys import local_key
from tendering.models import BidUpload, Tender
from tendering.services import documents, tenders
from tests.client.conftest import KeyCa
from tests.client.test_end_to_end import ETENDER, Bidder, bid_folder
from tests.fixtures.operator import swap_key_in_database
from tests.fixtures.personas import PDF_BYTES, Personas, tender_input

pytestmark = pytest.mark.skipif(
    not ETENDER.exists(), reason=f"{ETENDER} is not installed: run `pip install -e . --no-deps`"
)


def custodian_machine(root: Path, username: str, url: str, key_ca: KeyCa) -> Bidder:
    """A custodian's computer: keys made and registered with proofs, the signing key certified by the CA."""
    machine = Bidder(root / username, url)
    machine.run("login", "--url", url, "--username", username)
    for purpose in ("encryption", "signing"):
        machine.run("keys", "generate", "--purpose", purpose)
        registered = machine.run("keys", "register", "--purpose", purpose)
        assert "proof of possession made here" in registered.stdout
    machine.run("keys", "csr")
    request = x509.load_pem_x509_csr((machine.home / "keys" / "signing-default.csr.pem").read_bytes())
    issued = root / f"{username}.crt.pem"
    issued.write_bytes(key_ca.issue(request).public_bytes(serialization.Encoding.PEM))
    certified = machine.run("keys", "certify", str(issued))
    assert "issued by CN=赣州市数字证书认证中心 (test)" in certified.stdout
    return machine


@pytest.fixture
def confirmed_tender(
    transactional_db: Any, personas: Personas, platform_url: str, key_ca: KeyCa, tmp_path: Path
) -> tuple[Tender, list[Bidder]]:
    """A published tender (k = 2 of 3) whose custodians confirmed it with etender on their own machines."""
    machines = [custodian_machine(tmp_path, user.username, platform_url, key_ca) for user in personas.custodians]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    lots = [tenders.LotInput(1, "路面工程", Decimal("6000000.00"))]
    tender = tenders.create_draft(personas.tenderer, tender_input(now, personas.custodians, lots=lots))
    documents.add_document(personas.tenderer, tender, "招标文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
    tender = tenders.publish(personas.tenderer, tender)
    for index, machine in enumerate(machines):
        confirmed = machine.run("custodian", "confirm", str(tender.public_id), "--yes")
        assert f"you are custodian {index + 1} of 3 (index {index}); 2 of 3 open a bid together" in confirmed.stdout
        assert "custody confirmed" in confirmed.stdout
    return tender, machines


def trusting_bidder(root: Path, url: str, key_ca: KeyCa) -> Bidder:
    bidder = Bidder(root / "bidder_a", url)
    bidder.ready("bidder_a")
    added = bidder.run("trust", "add-ca", str(key_ca.path))
    assert "CA added: CN=赣州市数字证书认证中心 (test)" in added.stdout
    return bidder


def seal(bidder: Bidder, tender: Tender, folder: Path, expect: int = 0) -> Any:
    return bidder.run(
        "seal", str(folder), "--tender", str(tender.public_id), "--price", "5123456.70:180", expect=expect
    )


def new_key() -> tuple[bytes, str]:
    der = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return der, PublicKey.fingerprint_of(der)


# --- refusals first ----------------------------------------------------------------------------------------


def test_the_bidder_refuses_to_seal_once_the_operator_changed_a_custodians_key_in_the_database(
    confirmed_tender: tuple[Tender, list[Bidder]], platform_url: str, key_ca: KeyCa, tmp_path: Path
) -> None:
    tender, _ = confirmed_tender
    bidder = trusting_bidder(tmp_path, platform_url, key_ca)
    folder = bid_folder(tmp_path)
    # Before: every confirmation checks out, the bid is sealed and taken.
    sealed = seal(bidder, tender, folder)
    assert "custody of tender" in sealed.stdout and "checked against your trust list (2 of 3)" in sealed.stdout
    assert sealed.stdout.count("signing key trusted by certificate of a trusted CA") == 3
    bid_file = tmp_path / "江西红土建设-投标文件.etb"
    bidder.run("submit", str(bid_file))
    uploads = BidUpload.objects.count()

    # The operator rewrites custodian 2's registered encryption key with one of its own.
    slot = tender.custodian_slots.select_related("user", "public_key").get(position=2)
    genuine, genuine_der = slot.public_key.fingerprint, bytes(slot.public_key.spki_der)
    der, forged = new_key()
    PublicKey.objects.filter(pk=slot.public_key_id).update(spki_der=der, fingerprint=forged)

    refused = seal(bidder, tender, folder, expect=1)
    who = f"custodian 2 ({slot.user}, user {slot.user.username}; index 1)"
    assert f"{who}: the encryption key served for it now ({forged}) is not the key {genuine}" in refused.stderr
    assert "confirmed by custodian(s) 1, 2, 3: the key was changed after they confirmed" in refused.stderr
    assert "custodian 1 (" not in refused.stderr and "custodian 3 (" not in refused.stderr
    assert "Nothing was sealed or sent" in refused.stderr
    assert not (tmp_path / "江西红土建设-投标文件-2.etb").exists() and not list(tmp_path.glob(".*.partial"))
    assert BidUpload.objects.count() == uploads

    # The row put back, the DBA instead points custodian 3's slot at a key row of its own (tests/fixtures/operator.py).
    PublicKey.objects.filter(pk=slot.public_key_id).update(spki_der=genuine_der, fingerprint=genuine)
    swapped = swap_key_in_database(tender, 2)
    refused = seal(bidder, tender, folder, expect=1)
    who = f"custodian 3 ({swapped.custodian}, user {swapped.custodian.username}; index 2)"
    assert f"{who}: the encryption key served for it now ({swapped.operator_fingerprint})" in refused.stderr
    assert f"is not the key {swapped.original_fingerprint} confirmed by custodian(s) 1, 2, 3" in refused.stderr
    assert "custodian 1 (" not in refused.stderr and "custodian 2 (" not in refused.stderr
    assert not (tmp_path / "江西红土建设-投标文件-2.etb").exists()
    assert BidUpload.objects.count() == uploads


def test_the_bidder_refuses_keys_the_operator_registered_with_the_custodians_password(
    confirmed_tender: tuple[Tender, list[Bidder]], platform_url: str, key_ca: KeyCa, tmp_path: Path
) -> None:
    tender, machines = confirmed_tender
    slot = tender.custodian_slots.select_related("user").get(position=2)
    username = slot.user.username
    # The operator, with only custodian 2's password, registers an encryption key and a signing key of its
    # own through the API (the platform's demo CA certifies the signing key: a CA the operator holds).
    operator = Bidder(tmp_path / "operator", platform_url)
    operator.run("login", "--url", platform_url, "--username", username)
    for purpose in ("encryption", "signing"):
        operator.run("keys", "generate", "--purpose", purpose)
        registered = operator.run("keys", "register", "--purpose", purpose)
    assert "certificate: CN=" in registered.stdout  # the demo CA's, at registration
    ours = PublicKey.objects.get(fingerprint=local_key(operator.home, "encryption").fingerprint())
    # ... points the slot at its key in the database, and drops the genuine confirmation.
    tender.custodian_slots.filter(pk=slot.pk).update(
        public_key=ours,
        custody_statement=None,
        custody_signature=None,
        custody_signing_key=None,
        custody_confirmed_at=None,
    )

    # The genuine custodian's etender now refuses to confirm: the tender does not list its key.
    genuine = machines[1].run("custodian", "confirm", str(tender.public_id), "--yes", expect=1)
    assert "which is NOT your local encryption key 'default'" in genuine.stderr
    assert tender.custodian_slots.get(pk=slot.pk).custody_confirmed_at is None

    # The operator confirms in the custodian's name: the platform accepts it (a registered key of that user).
    operator.run("custodian", "confirm", str(tender.public_id), "--yes")
    assert tender.custodian_slots.get(pk=slot.pk).custody_confirmed_at is not None

    bidder = trusting_bidder(tmp_path, platform_url, key_ca)
    refused = seal(bidder, tender, bid_folder(tmp_path), expect=1)
    who = f"custodian 2 ({slot.user}, user {username}; index 1)"
    assert f"{who}: the signing key is not trusted" in refused.stderr
    assert "(certificate_untrusted)" in refused.stderr
    assert f"{who}: the encryption key served for it now ({ours.fingerprint})" in refused.stderr
    assert "confirmed by custodian(s) 1, 3" in refused.stderr
    assert "custodian 1 (" not in refused.stderr and "custodian 3 (" not in refused.stderr

    # A bidder who also trusted the platform's demo CA is still refused: the other custodians confirmed
    # custodian 2's genuine key, not the operator's.
    careless = Bidder(tmp_path / "bidder_b", platform_url)
    careless.ready("bidder_b")
    careless.run("trust", "add-ca", str(key_ca.path))
    listed = careless.run("trust", "list", "--platform").stdout
    assert "informative, NOT trusted from here" in listed and "[not in your list]" in listed
    demo_ca = tmp_path / "demo-ca.pem"
    demo_ca.write_text(_platform_key_cas(platform_url))
    careless.run("trust", "add-ca", str(demo_ca))
    refused = seal(careless, tender, bid_folder(tmp_path / "b"), expect=1)
    assert f"{who}: the encryption key served for it now ({ours.fingerprint})" in refused.stderr
    assert "signing key is not trusted" not in refused.stderr
    assert BidUpload.objects.count() == 0


def test_the_platforms_own_ca_cannot_be_made_a_custody_trust_anchor(
    transactional_db: Any, personas: Personas, platform_url: str, tmp_path: Path
) -> None:
    bidder = Bidder(tmp_path / "bidder_a", platform_url)
    bidder.run("login", "--url", platform_url, "--username", "bidder_a")
    refused = bidder.run("trust", "add-ca", str(bidder.home / "trust.pem"), expect=1)
    assert "is one of the platform's own certificates" in refused.stderr
    assert not (bidder.home / "custody-trust.json").exists()


def _platform_key_cas(url: str) -> str:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{url}/api/pki/key-ca") as response:  # noqa: S310 - the test's own server
        return "".join(json.load(response)["certificates"])
