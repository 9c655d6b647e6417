"""A withdrawal gets a signed, time-stamped receipt like a submission, checked offline the same way."""

import base64
import json
import subprocess

import pytest
from django.test import Client

from accounts.errors import Conflict, WrongPhase
from archive.models import LedgerEntry
from archive.verify import verify_receipt
from tendering.models import Bid, BidStatus
from tendering.services import bids
from tests.bids.conftest import seal, submit
from tests.bids.test_api import bearer
from tests.bids.test_submission import platform_ca_pem
from tests.receipts.test_offline_verifier import REPO
from tests.receipts.test_offline_verifier import run as run_verifier


def test_a_withdrawn_bid_gets_a_receipt_for_its_withdrawal_that_verifies_offline(
    personas, published_tender, bidder_a_keys, tmp_path, frozen_clock
):
    accepted = submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path))
    withdrawn = bids.withdraw(personas.bidder_a, accepted.public_id)
    assert withdrawn.status == BidStatus.WITHDRAWN and withdrawn.withdrawal_ledger_seq is not None
    result = verify_receipt(bytes(withdrawn.withdrawal_receipt), platform_ca_pem(), action="tendering.bid.withdrawn")
    assert result.ok, result.reason
    assert result.subject == {
        "tender_id": str(published_tender.public_id),
        "bid_id": str(accepted.public_id),
        "bidder": personas.bidder_a.organization.credit_code,
        "ciphertext_sha256": accepted.sha256,
        "withdrawn_at": frozen_clock().isoformat(),
    }
    assert result.seq == withdrawn.withdrawal_ledger_seq > accepted.ledger_seq
    assert result.time == frozen_clock()
    entry = LedgerEntry.objects.get(seq=withdrawn.withdrawal_ledger_seq)
    assert (entry.action, entry.case) == ("tendering.bid.withdrawn", published_tender.case)
    # The submission's receipt is kept beside it and still verifies.
    assert verify_receipt(bytes(withdrawn.receipt), platform_ca_pem(), action="tendering.bid.submitted").ok


def test_a_submission_receipt_is_refused_where_a_withdrawal_receipt_is_expected(
    personas, published_tender, bidder_a_keys, tmp_path
):
    accepted = submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path))
    result = verify_receipt(bytes(accepted.receipt), platform_ca_pem(), action="tendering.bid.withdrawn")
    assert not result.ok
    assert result.reason == "the receipt is for a 'tendering.bid.submitted' entry, not 'tendering.bid.withdrawn'"


def test_the_offline_command_checks_a_withdrawal_receipt_and_its_action(
    personas, published_tender, bidder_a_keys, tmp_path
):
    accepted = submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path))
    withdrawn = bids.withdraw(personas.bidder_a, accepted.public_id)
    (tmp_path / "receipt.json").write_bytes(bytes(withdrawn.withdrawal_receipt))
    (tmp_path / "ca.pem").write_bytes(platform_ca_pem())

    def run(action: str) -> subprocess.CompletedProcess[str]:
        files = [str(tmp_path / "receipt.json"), "--ca", str(tmp_path / "ca.pem"), "--action", action]
        return run_verifier(REPO, tmp_path, "receipt", *files)

    ok = run("tendering.bid.withdrawn")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"(tendering.bid.withdrawn, case {published_tender.case})" in ok.stdout.splitlines()[0]
    assert f'"withdrawn_at": "{withdrawn.withdrawn_at.isoformat()}"' in ok.stdout
    refused = run("tendering.bid.submitted")
    assert refused.returncode == 1
    assert refused.stdout.strip() == (
        "FAILED: the receipt is for a 'tendering.bid.withdrawn' entry, not 'tendering.bid.submitted'"
    )


def test_a_refused_withdrawal_gets_no_receipt_and_changes_nothing(
    personas, published_tender, bidder_a_keys, tmp_path, frozen_clock
):
    accepted = submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path))
    frozen_clock.set(published_tender.bid_deadline)
    before = Bid.objects.values().get(pk=accepted.pk)
    entries = LedgerEntry.objects.count()
    with pytest.raises(WrongPhase):
        bids.withdraw(personas.bidder_a, accepted.public_id)
    assert Bid.objects.values().get(pk=accepted.pk) == before
    assert LedgerEntry.objects.count() == entries


def test_withdrawing_twice_is_refused_and_keeps_the_first_receipt(personas, published_tender, bidder_a_keys, tmp_path):
    accepted = submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path))
    first = bids.withdraw(personas.bidder_a, accepted.public_id)
    with pytest.raises(Conflict) as refused:
        bids.withdraw(personas.bidder_a, accepted.public_id)
    assert refused.value.code == "not_withdrawable"
    again = Bid.objects.get(pk=accepted.pk)
    assert bytes(again.withdrawal_receipt) == bytes(first.withdrawal_receipt)
    assert LedgerEntry.objects.filter(action="tendering.bid.withdrawn").count() == 1


def test_a_failing_time_stamp_authority_delays_the_withdrawal_receipt_not_the_withdrawal(
    personas, published_tender, bidder_a_keys, tmp_path, monkeypatch
):
    from archive.receipts import issue_receipt

    accepted = submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path))

    def unavailable(*args, **kwargs):
        raise ConnectionError("the time-stamp authority does not answer")

    monkeypatch.setattr(bids, "issue_receipt", unavailable)
    withdrawn = bids.withdraw(personas.bidder_a, accepted.public_id)
    assert withdrawn.status == BidStatus.WITHDRAWN and bytes(withdrawn.withdrawal_receipt) == b""
    monkeypatch.setattr(bids, "issue_receipt", issue_receipt)
    again = bids.own_bid(personas.bidder_a, accepted.public_id)
    assert verify_receipt(bytes(again.withdrawal_receipt), platform_ca_pem(), action="tendering.bid.withdrawn").ok


def test_the_api_answers_a_withdrawal_with_its_receipt(personas, published_tender, bidder_a_keys, tmp_path):
    accepted = submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path))
    client = Client()
    auth = bearer(personas.bidder_a)
    listed = client.get(f"/api/bids?tender={published_tender.public_id}", **auth).json()
    assert [(b["status"], b["withdrawal_ledger_seq"], b["withdrawal_receipt"]) for b in listed] == [
        ("accepted", None, "")
    ]
    # Another bidder cannot withdraw it: nothing changes, no receipt.
    refused = client.post(f"/api/bids/{accepted.public_id}/withdraw", **bearer(personas.bidder_b))
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    assert Bid.objects.get(pk=accepted.pk).status == BidStatus.ACCEPTED
    response = client.post(f"/api/bids/{accepted.public_id}/withdraw", **auth)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "withdrawn"
    receipt = base64.b64decode(body["withdrawal_receipt"])
    result = verify_receipt(receipt, platform_ca_pem(), action="tendering.bid.withdrawn")
    assert result.ok, result.reason
    assert result.seq == body["withdrawal_ledger_seq"]
    assert json.loads(receipt)["subject"]["bid_id"] == str(accepted.public_id)
    assert (
        client.get(f"/api/bids/{accepted.public_id}", **auth).json()["withdrawal_receipt"] == body["withdrawal_receipt"]
    )
