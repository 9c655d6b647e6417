"""The bid API over HTTP, as the bidder's client and the browser use it."""

import base64
import datetime as dt
import json

from django.test import Client

from accounts.services import issue_api_token
from archive.models import LedgerEntry
from archive.verify import verify_receipt
from tendering.models import Bid, BidUpload, BidUploadPart
from tests.bids.conftest import seal
from tests.bids.test_submission import platform_ca_pem


def bearer(user):
    return {"HTTP_AUTHORIZATION": "Bearer " + issue_api_token(user, "cli")[0]}


def post_json(client, url, body, **extra):
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def start(client, tender, sealed, auth):
    return post_json(
        client,
        f"/api/tenders/{tender.public_id}/bids/uploads",
        {"bid_id": sealed.bid_id, "size": len(sealed.ciphertext)},
        **auth,
    )


def finalize_body(sealed):
    return {
        "manifest": base64.b64encode(sealed.sealed.manifest_bytes).decode(),
        "signature": base64.b64encode(sealed.sealed.signature).decode(),
    }


def test_a_forged_token_or_another_bidders_upload_gets_nothing(personas, published_tender, bidder_a_keys, tmp_path):
    client = Client()
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    assert start(client, published_tender, sealed, {"HTTP_AUTHORIZATION": "Bearer etk_forged"}).status_code == 401
    assert not BidUpload.objects.exists()
    upload_id = start(client, published_tender, sealed, bearer(personas.bidder_a)).json()["upload_id"]
    before = BidUpload.objects.values().get(public_id=upload_id)
    other = bearer(personas.bidder_b)
    assert client.get(f"/api/bids/uploads/{upload_id}", **other).status_code == 404
    response = client.put(
        f"/api/bids/uploads/{upload_id}/parts/1", sealed.ciphertext, content_type="application/octet-stream", **other
    )
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert (
        post_json(client, f"/api/bids/uploads/{upload_id}/finalize", finalize_body(sealed), **other).status_code == 404
    )
    # The refused part and finalize changed nothing: no part stored, the upload as it was, no bid, nothing recorded.
    assert BidUpload.objects.values().get(public_id=upload_id) == before
    assert not BidUploadPart.objects.exists()
    assert not Bid.objects.exists()
    assert not LedgerEntry.objects.filter(action="tendering.bid.submitted").exists()


def test_malformed_finalize_input_is_refused_with_field_errors(personas, published_tender, bidder_a_keys, tmp_path):
    client = Client()
    auth = bearer(personas.bidder_a)
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    upload_id = start(client, published_tender, sealed, auth).json()["upload_id"]
    client.put(
        f"/api/bids/uploads/{upload_id}/parts/1", sealed.ciphertext, content_type="application/octet-stream", **auth
    )
    response = post_json(
        client, f"/api/bids/uploads/{upload_id}/finalize", {"manifest": "%%%", "signature": "AA=="}, **auth
    )
    assert response.status_code == 422
    assert "manifest" in response.json()["fields"]
    assert not Bid.objects.exists()


def test_a_bid_goes_through_the_api_and_its_receipt_verifies(personas, published_tender, bidder_a_keys, tmp_path):
    client = Client()
    auth = bearer(personas.bidder_a)
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    started = start(client, published_tender, sealed, auth)
    assert started.status_code == 201, started.content
    upload_id = started.json()["upload_id"]
    part = client.put(
        f"/api/bids/uploads/{upload_id}/parts/1", sealed.ciphertext, content_type="application/octet-stream", **auth
    )
    assert part.status_code == 200, part.content
    again = client.put(
        f"/api/bids/uploads/{upload_id}/parts/1", sealed.ciphertext, content_type="application/octet-stream", **auth
    )
    assert again.status_code == 409 and again.json()["code"] == "part_duplicated"
    assert client.get(f"/api/bids/uploads/{upload_id}", **auth).json()["received_parts"] == 1
    accepted = post_json(client, f"/api/bids/uploads/{upload_id}/finalize", finalize_body(sealed), **auth)
    assert accepted.status_code == 201, accepted.content
    receipt = base64.b64decode(accepted.json()["receipt"])
    assert verify_receipt(receipt, platform_ca_pem()).ok
    replay = post_json(client, f"/api/bids/uploads/{upload_id}/finalize", finalize_body(sealed), **auth)
    assert replay.status_code == 409 and replay.json()["code"] == "already_finalized"
    mine = client.get("/api/bids", **auth).json()
    assert [b["bid_id"] for b in mine] == [sealed.bid_id]
    assert client.get("/api/bids", **bearer(personas.bidder_b)).json() == []


def test_the_bid_count_is_hidden_before_the_opening_time_and_refused_to_bidders(
    personas, published_tender, bidder_a_keys, tmp_path
):
    from tests.bids.conftest import submit

    submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path))
    client = Client()
    url = f"/api/tenders/{published_tender.public_id}/bids/count"
    assert client.get(url, **bearer(personas.bidder_b)).status_code == 403
    counted = client.get(url, **bearer(personas.tenderer))
    assert counted.json() == {
        "tender_id": str(published_tender.public_id),
        "disclosed_from": published_tender.opening_time.isoformat().replace("+00:00", "Z"),
        "accepted_bids": None,
        "bidders": None,
    }
    assert personas.bidder_org_a.name not in counted.content.decode()
    assert client.get(url, **bearer(personas.regulator)).json()["accepted_bids"] is None


def test_the_trust_anchors_are_public_and_verify_a_receipt(personas, published_tender, bidder_a_keys, tmp_path):
    from tests.bids.conftest import submit

    bid = submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path))
    trust = Client().get("/api/archive/trust").json()
    assert trust["development"] is True
    anchors = "".join(trust["trust_anchors"]).encode()
    assert verify_receipt(bytes(bid.receipt), anchors).ok


def test_the_number_and_the_names_of_the_bidders_appear_at_the_opening_time(
    personas, published_tender, bidder_a_keys, tmp_path, frozen_clock
):
    from tests.bids.conftest import submit

    submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path))
    client = Client()
    url = f"/api/tenders/{published_tender.public_id}/bids/count"
    auth = bearer(personas.tenderer)
    frozen_clock.set(published_tender.opening_time - dt.timedelta(microseconds=1))
    assert client.get(url, **auth).json()["accepted_bids"] is None
    frozen_clock.set(published_tender.opening_time)
    shown = client.get(url, **auth).json()
    assert (shown["accepted_bids"], shown["bidders"]) == (1, [personas.bidder_org_a.name])


def test_the_tenderers_list_shows_neither_how_many_bids_stand_nor_whose_before_the_opening(
    personas, published_tender, bidder_a_keys, tmp_path
):
    from django.urls import reverse

    from tests.bids.conftest import submit
    from tests.fixtures.personas import PASSWORD

    submit(personas.bidder_a, published_tender, seal(published_tender, bidder_a_keys, tmp_path))
    client = Client()
    client.login(username="tenderer", password=PASSWORD)
    page = client.get(reverse("frontend:my-tenders")).content.decode()
    assert "开标后公布" in page
    assert personas.bidder_org_a.name not in page


def test_a_client_that_lost_its_state_finds_its_upload_by_bid_id_and_nobody_elses(
    personas, published_tender, bidder_a_keys, tmp_path
):
    client = Client()
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    upload_id = start(client, published_tender, sealed, bearer(personas.bidder_a)).json()["upload_id"]
    found = client.get("/api/bids/uploads", {"bid_id": sealed.bid_id}, **bearer(personas.bidder_a)).json()
    assert [u["upload_id"] for u in found] == [upload_id]
    assert client.get("/api/bids/uploads", {"bid_id": sealed.bid_id}, **bearer(personas.bidder_b)).json() == []
    assert client.get("/api/bids/uploads", **bearer(personas.tenderer)).status_code == 403
