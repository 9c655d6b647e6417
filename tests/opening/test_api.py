"""The opening's API for programs: refusals first, then what each role gets."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from tendering.models import BidOpening, CustodianSubmission, Opening
from tests.opening.conftest import OpeningCase

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(case: OpeningCase, rest: str = "") -> str:
    return f"/api/tenders/{case.tender.public_id}/opening{rest}"


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_the_api_refuses_strangers_and_early_callers(opening_case: OpeningCase) -> None:
    case = opening_case
    first = case.entries[0]
    assert Client().get(url(case)).status_code == 401
    early = post(
        client_for(first.user), url(case, f"/bids/{first.bid.public_id}/key"), {"file_key": b64(first.file_key())}
    )
    assert early.status_code == 409 and early.json()["code"] == "hall_not_open"
    assert not Opening.objects.filter(tender=case.tender).exists()  # not even the hall was made
    case.at_opening()
    stranger = client_for(case.personas.expert).get(url(case))
    assert stranger.status_code == 403 and stranger.json()["code"] == "not_in_hall"
    assert client_for(case.personas.tenderer).get(url(case, "/manifests")).status_code == 403


def test_malformed_keys_and_parts_are_refused_with_the_field_named(opening_case: OpeningCase) -> None:
    case = opening_case
    case.at_opening()
    first = case.entries[0]
    bidder = client_for(first.user)
    for bad in ("not base64!", b64(b"short"), b64(b"\x00" * 40)):
        refused = post(bidder, url(case, f"/bids/{first.bid.public_id}/key"), {"file_key": bad})
        assert refused.status_code == 422, refused.content
        assert "file_key" in refused.json()["fields"]
    wrong = post(bidder, url(case, f"/bids/{first.bid.public_id}/key"), {"file_key": b64(bytes(32))})
    assert wrong.status_code == 422 and "密钥承诺" in wrong.json()["message"]
    custodian = client_for(case.custodians[0])
    parts = [{"bid": str(p.bid), "members": list(p.members), "part": b64(p.part)} for p in case.parts_of(0)]
    parts[0]["part"] = "@@@"
    refused = post(custodian, url(case, "/custodian-parts"), {"parts": parts})
    assert refused.status_code == 422 and "parts.0.part" in refused.json()["fields"]
    assert not CustodianSubmission.objects.exists()
    assert {b.state for b in BidOpening.objects.all()} == {"awaiting_key"}


def test_bidders_get_their_own_manifest_and_custodians_every_one(opening_case: OpeningCase) -> None:
    case = opening_case
    case.at_opening()
    first = case.entries[0]
    own = client_for(first.user).get(url(case, "/manifests")).json()
    assert [m["bid"] for m in own] == [str(first.bid.public_id)]
    assert base64.b64decode(own[0]["manifest"]) == first.sealed.sealed.manifest_bytes
    every = client_for(case.custodians[0]).get(url(case, "/manifests")).json()
    assert [m["bid"] for m in every] == [str(e.bid.public_id) for e in case.entries]


def test_a_bidder_and_the_custodians_open_bids_through_the_api(opening_case: OpeningCase) -> None:
    case = opening_case
    case.at_opening()
    first, second = case.entries[0], case.entries[1]
    released = post(
        client_for(first.user), url(case, f"/bids/{first.bid.public_id}/key"), {"file_key": b64(first.file_key())}
    )
    assert released.status_code == 200, released.content
    assert released.json() == {
        "bid": str(first.bid.public_id),
        "position": 1,
        "state": "key_ready",
        "key_source": "bidder",
    }
    for index in (0, 1):
        parts = [{"bid": str(p.bid), "members": list(p.members), "part": b64(p.part)} for p in case.parts_of(index)]
        answered = post(client_for(case.custodians[index]), url(case, "/custodian-parts"), {"parts": parts})
        assert answered.status_code == 200 and answered.json() == {"parts": len(parts), "refusals": 0}
    states = {str(b.bid.public_id): (b.state, b.key_source) for b in BidOpening.objects.select_related("bid")}
    assert states[str(first.bid.public_id)] == ("key_ready", "bidder")
    assert states[str(second.bid.public_id)] == ("key_ready", "custodians")
    snapshot = client_for(case.personas.regulator).get(url(case)).json()
    assert snapshot["type"] == "snapshot" and [b["state"] for b in snapshot["bids"]] == ["key_ready"] * 3
    assert [c["submitted_at"] is not None for c in snapshot["custodians"]] == [True, True, False]
    # The supervisor watches and changes nothing.
    refused = post(client_for(case.personas.regulator), url(case, "/conclude"), {})
    assert refused.status_code == 403
    missing = client_for(case.personas.regulator).get(url(case, "/record.pdf"))
    assert missing.status_code == 404
