"""A tender takes bids (start of upload and finalize) only once every custodian has confirmed custody."""

from __future__ import annotations

import pytest

from accounts.errors import Conflict
from archive.models import LedgerEntry
from tendering.models import Bid, BidUpload, TenderCustodian
from tendering.own_device import confirm_custody_as
from tendering.services import bids
from tests.bids.conftest import seal, upload
from tests.frontend.conftest import signed_in


def test_bids_are_refused_until_every_custodian_confirmed_and_nothing_is_stored(
    personas, unconfirmed_tender, bidder_a_keys, tmp_path
):
    for i in (0, 1):
        confirm_custody_as(
            personas.custodians[i], unconfirmed_tender, personas.custodian_signing_keys[i], personas.custodian_keys[i]
        )
    sealed = seal(unconfirmed_tender, bidder_a_keys, tmp_path)
    with pytest.raises(Conflict) as exc:
        upload(personas.bidder_a, unconfirmed_tender, sealed.ciphertext, sealed.bid_id)
    assert (exc.value.code, exc.value.status) == ("custody_not_confirmed", 409)
    assert "2/3" in str(exc.value.message)
    assert not BidUpload.objects.exists()
    assert not LedgerEntry.objects.filter(action="tendering.bid.upload_started").exists()


def test_the_api_refuses_an_upload_into_an_unconfirmed_tender_with_409(personas, unconfirmed_tender):
    response = signed_in(personas.bidder_a).post(
        f"/api/tenders/{unconfirmed_tender.public_id}/bids/uploads",
        {"bid_id": "5f0c7a51-6d1c-4f53-9a35-1b7c1e0f9a11", "size": 4096},
        content_type="application/json",
    )
    assert response.status_code == 409 and response.json()["code"] == "custody_not_confirmed"
    assert not BidUpload.objects.exists()


def test_finalize_is_refused_once_a_confirmation_is_erased_in_the_database(
    personas, published_tender, bidder_a_keys, tmp_path
):
    """The operator wipes a confirmation after an upload started: the bid is not accepted."""
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    started = upload(personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id)
    TenderCustodian.objects.filter(tender=published_tender, position=2).update(custody_confirmed_at=None)
    with pytest.raises(Conflict) as exc:
        bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
    assert exc.value.code == "custody_not_confirmed"
    assert not Bid.objects.exists()
    started.refresh_from_db()
    assert started.state == "open"
