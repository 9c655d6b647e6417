"""The opening with the installed ``etender``: a bidder releases its key, two custodians open the other bid.

The platform runs under Daphne (``platform_url``, conftest.py) with the real
clock. The tender is published 30 days ahead, bids are submitted, then its
deadline and opening time are moved into the past in the shared database, as
the server reads them at every request. No worker runs: a bid with its key
stays ``key_ready`` until the test decrypts it in-process, as the worker would
(both processes read the same data key file and object store).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from accounts.models import Role
from tendering.client.keys import local_key
from tendering.models import BidOpening, Tender
from tendering.own_device import confirm_custody_as
from tendering.sealing import parse_manifest
from tendering.services import decryption, documents, tenders
from tendering.services.opening import conclusion
from tests.bids.conftest import keys_for, seal, submit
from tests.client.test_end_to_end import ETENDER, Bidder, bid_folder
from tests.fixtures.personas import PDF_BYTES, Personas, make_user, tender_input

pytestmark = pytest.mark.skipif(
    not ETENDER.exists(), reason=f"{ETENDER} is not installed: run `pip install -e . --no-deps`"
)


def test_a_bidder_releases_its_key_and_two_custodians_open_the_other_bid(
    transactional_db: Any, personas: Personas, platform_url: str, tmp_path: Path
) -> None:
    # Custodians make and register their keys with the client before the tender names them;
    # one has no organization (so no credit code). `Bidder` is any user's machine running etender.
    solo = make_user("custodian_solo", None, Role.CUSTODIAN)
    custodians = {name: Bidder(tmp_path / name, platform_url) for name in ("custodian_solo", "custodian2")}
    for username, machine in custodians.items():
        login = machine.run("login", "--url", platform_url, "--username", username)
        assert "as a custodian you need an encryption key and a signing key" in login.stderr
        assert "no bidder role" not in login.stderr
        for purpose in ("encryption", "signing"):
            machine.run("keys", "generate", "--purpose", purpose)
            registered = machine.run("keys", "register", "--purpose", purpose)
            assert f"{purpose} key 'default' registered" in registered.stdout

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    lots = [tenders.LotInput(1, "路面工程", Decimal("6000000.00"))]
    order = [solo, personas.custodians[1], personas.custodians[2]]
    tender = tenders.create_draft(personas.tenderer, tender_input(now, order, lots=lots))
    documents.add_document(personas.tenderer, tender, "招标文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
    tender = tenders.publish(personas.tenderer, tender)
    tender_id = str(tender.public_id)
    # Each custodian confirms the tender on its own machine (the third in-process, as its device would).
    for machine in custodians.values():
        machine.run("custodian", "confirm", tender_id, "--yes")
    confirm_custody_as(personas.custodians[2], tender, personas.custodian_signing_keys[2], personas.custodian_keys[2])

    bidder = Bidder(tmp_path / "bidder_a", platform_url)
    bidder.ready("bidder_a")
    bidder.pin(
        [(name, local_key(machine.home, "signing").public_key()) for name, machine in custodians.items()]
        + [(personas.custodians[2].username, personas.custodian_signing_keys[2])]
    )
    # The bidder's response index (评审因素定位) goes inside the ciphertext and comes out at the opening.
    index_file = tmp_path / "response-index.json"
    pointers = [{"item": "T1", "path": "技术标.pdf", "page": 7}, {"item": "D1", "path": "资格/营业执照.pdf", "page": 1}]
    index_file.write_text(json.dumps({"format": "etender-response-index-v1", "pointers": pointers}), encoding="utf-8")
    bidder.run(
        "seal",
        str(bid_folder(tmp_path)),
        "--tender",
        tender_id,
        "--price",
        "5123456.7:180",
        "--response-index",
        str(index_file),
    )
    bid_file = tmp_path / "江西红土建设-投标文件.etb"
    bidder.run("submit", str(bid_file))
    own_bid = parse_manifest(bid_file.with_name(bid_file.name + ".manifest").read_bytes()).bid
    # The other bidder seals in-process and never releases its key: only the custodians can open its bid.
    other_keys = keys_for(personas.bidder_b)
    other_bid = str(
        submit(personas.bidder_b, tender, seal(tender, other_keys, tmp_path / "b", price="5980000.00")).public_id
    )

    early = bidder.run("open", "release", tender_id, expect=1)
    assert "开标大厅将于开标时间" in early.stderr and "[hall_not_open, HTTP 409]" in early.stderr

    now = dt.datetime.now(dt.UTC)
    Tender.objects.filter(pk=tender.pk).update(
        enquiry_deadline=now - dt.timedelta(minutes=3),
        bid_deadline=now - dt.timedelta(minutes=2),
        opening_time=now - dt.timedelta(minutes=1),
    )
    for machine in (bidder, *custodians.values()):
        machine.forget_opening_times()

    refused = custodians["custodian_solo"].run("open", "release", tender_id, expect=1)
    assert "you are not a bidder in the opening" in refused.stderr

    released = bidder.run("open", "release", tender_id)
    assert f"bid 1 ({own_bid}): released (key_ready)" in released.stdout
    states = {str(b.bid.public_id): (b.state, b.key_source) for b in BidOpening.objects.select_related("bid")}
    assert states == {own_bid: ("key_ready", "bidder"), other_bid: ("awaiting_key", "")}

    first = custodians["custodian_solo"].run("custodian", "open", tender_id)
    assert "you are custodian 1 (Custodian_Solo) of 3 (k = 2)" in first.stdout
    # In each of the two bids, custodian 1 is in 2 of the 3 subsets of 2 of 3.
    assert '4 part(s) and 0 signed "does not open" statement(s) submitted for 2 bid(s)' in first.stdout
    assert f"bid 2 ({other_bid}): awaiting its key" in first.stdout
    assert "open: 2 bids in" in first.stderr
    second = custodians["custodian2"].run("custodian", "open", tender_id)
    assert f"bid 2 ({other_bid}): key ready (from the custodians)" in second.stdout
    states = {str(b.bid.public_id): (b.state, b.key_source) for b in BidOpening.objects.select_related("bid")}
    assert states == {own_bid: ("key_ready", "bidder"), other_bid: ("key_ready", "custodians")}

    again = custodians["custodian2"].run("custodian", "open", tender_id)
    assert "submitted your parts at" in again.stdout and "nothing to do" in again.stdout
    released_again = bidder.run("open", "release", tender_id)
    assert f"bid 1 ({own_bid}): already released (released by the bidder; key_ready)" in released_again.stdout
    # The worker's part, done here; the tenderer then ends the decryption, every bid being final, and only
    # now does the status show what was opened (no price before: docs/opening.md §3).
    for bid_opening in BidOpening.objects.all():
        assert decryption.decrypt_bid(bid_opening.pk) == "opened"
    indexes = {str(b.bid.public_id): b.response_index for b in BidOpening.objects.select_related("bid")}
    assert indexes == {
        own_bid: {"format": "etender-response-index-v1", "pointers": sorted(pointers, key=lambda p: p["item"])},
        other_bid: None,
    }
    assert "withheld until every bid is final" in bidder.run("open", "status", tender_id).stdout
    conclusion.conclude_decryption(personas.tenderer, Tender.objects.get(pk=tender.pk))  # its times as moved above
    status = bidder.run("open", "status", tender_id).stdout
    assert "your roles           bidder" in status
    rows = {
        line.split()[0]: line for line in status.splitlines() if line.startswith(("  1  红土建设", "  2  宏达路桥"))
    }
    assert rows["1"].split()[2:5] == ["*", "opened", "bidder"] and "lot 1: 5123456.70 yuan, 180 days" in rows["1"]
    assert rows["2"].split()[2:4] == ["opened", "custodians"] and "lot 1: 5980000.00 yuan, 180 days" in rows["2"]
    assert "  1  Custodian_Solo  submitted" in status and "  3  Custodian3      -" in status
