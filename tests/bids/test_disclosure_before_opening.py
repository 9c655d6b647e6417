"""招标投标法 Art 22: before the opening nobody learns how many bid, or who, or how many took the documents.

Every surface the tenderer, its agency, the regulator and the platform's staff
can reach is read before anyone takes part and again after one bidder submitted
a bid, a second started an upload and downloaded the documents: each answer
must be the same. From the opening time the number and the names are shown.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from tendering.models import Bid, BidStatus, DocumentDownload
from tendering.services import bids, documents, tenders
from tests.bids.conftest import seal, submit
from tests.fixtures.personas import PDF_BYTES, confirm_custody, tender_input

# What changes from one rendering to the next whatever the bids: CSRF tokens and CSP nonces.
VOLATILE = [
    (re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"'), 'name="csrfmiddlewaretoken" value=""'),
    (re.compile(r'nonce="[^"]+"'), 'nonce=""'),
    (re.compile(r'"csrfToken": ?"[^"]+"'), '"csrfToken": ""'),
]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def surfaces(tender) -> list[str]:
    """Every page and endpoint that could show a tender's bids, uploads or downloads
    to someone who is not the bidder.
    """
    page = {"public_id": tender.public_id}
    api = f"/api/tenders/{tender.public_id}"
    document = tender.documents.get()
    return [
        reverse("frontend:tender-list"),
        reverse("frontend:tender-detail", kwargs=page),
        reverse("frontend:tender-documents", kwargs=page),
        reverse("frontend:tender-questions", kwargs=page),
        reverse("frontend:opening-hall", kwargs=page),
        reverse("frontend:my-tenders"),
        reverse("frontend:supervision"),
        reverse("frontend:dashboard"),
        "/api/tenders",
        "/api/tenders?mine=true",
        api,
        f"{api}/bids/count",
        f"{api}/opening",
        f"{api}/opening/manifests",
        f"{api}/documents/{document.public_id}/download",
        "/api/notifications",
        "/api/bids",
        "/api/bids/uploads",
        "/admin/",
        "/admin/tendering/tender/",
        "/admin/tendering/tenderdocument/",
    ]


def read_all(client: Client, urls: list[str]) -> dict[str, tuple[int, str]]:
    seen = {}
    for url in urls:
        response = client.get(url)
        body = (
            b"".join(response.streaming_content).decode("latin-1") if response.streaming else response.content.decode()
        )
        for pattern, replacement in VOLATILE:
            body = pattern.sub(replacement, body)
        seen[url] = (response.status_code, body)
    return seen


def take_part(personas, tender, bidder_a_keys, bidder_b_keys, tmp_path) -> Bid:
    """Bidder A submits a bid; bidder B downloads the documents (page and API)
    and starts an upload it never finishes.
    """
    bid = submit(personas.bidder_a, tender, seal(tender, bidder_a_keys, tmp_path / "a"))
    downloader = signed_in(personas.bidder_b)
    document = tender.documents.get()
    assert (
        downloader.get(reverse("frontend:document-download", args=[tender.public_id, document.public_id])).status_code
        == 200
    )
    assert downloader.get(f"/api/tenders/{tender.public_id}/documents/{document.public_id}/download").status_code == 200
    sealed_b = seal(tender, bidder_b_keys, tmp_path / "b")
    bids.start_upload(personas.bidder_b, tender, uuid.UUID(sealed_b.bid_id), len(sealed_b.ciphertext))
    assert DocumentDownload.objects.filter(user=personas.bidder_b).count() == 2
    return bid


@pytest.fixture
def published_tender(personas, frozen_clock, object_store_dir):
    """Drafted and published by the agency in the tenderer's name (under the personas' entrustment),
    so both manage it.
    """
    tender = tenders.create_draft(
        personas.agent, tender_input(frozen_clock(), personas.custodians, tenderer_id=personas.tenderer_org.pk)
    )
    documents.add_document(personas.agent, tender, "招标文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
    tender = confirm_custody(tenders.publish(personas.agent, tender), personas)
    assert (tender.tenderer, tender.agency) == (personas.tenderer_org, personas.agency_org)
    return tender


@pytest.fixture
def watchers(personas):
    personas.admin.is_staff = personas.admin.is_superuser = True
    personas.admin.save()
    return {
        "tenderer": personas.tenderer,
        "agency": personas.agent,
        "regulator": personas.regulator,
        "platform admin": personas.admin,
    }


def test_nothing_a_tenderer_agency_regulator_or_admin_sees_changes_when_bidders_take_part(
    personas, published_tender, bidder_a_keys, bidder_b_keys, tmp_path, watchers
):
    urls = surfaces(published_tender)
    clients = {name: signed_in(user) for name, user in watchers.items()}
    before = {name: read_all(client, urls) for name, client in clients.items()}

    take_part(personas, published_tender, bidder_a_keys, bidder_b_keys, tmp_path)

    for name, client in clients.items():
        after = read_all(client, urls)
        changed = [url for url in urls if after[url] != before[name][url]]
        assert changed == [], f"{name} sees a change at {changed}"
    # The surfaces were really read: the managers reached their pages and the count endpoint answered them.
    assert before["tenderer"][reverse("frontend:my-tenders")][0] == 200
    assert before["agency"][f"/api/tenders/{published_tender.public_id}/bids/count"][0] == 200
    assert before["regulator"][reverse("frontend:supervision")][0] == 200
    assert "开标后公布" in before["regulator"][reverse("frontend:supervision")][1]


def test_a_bidder_still_sees_its_own_bid_and_no_one_elses(
    personas, published_tender, bidder_a_keys, bidder_b_keys, tmp_path
):
    bid = take_part(personas, published_tender, bidder_a_keys, bidder_b_keys, tmp_path)
    own = signed_in(personas.bidder_a).get("/api/bids", {"tender": published_tender.public_id}).json()
    assert [b["bid_id"] for b in own] == [str(bid.public_id)]
    assert signed_in(personas.bidder_b).get("/api/bids", {"tender": published_tender.public_id}).json() == []
    assert signed_in(personas.bidder_b).get(f"/api/tenders/{published_tender.public_id}/bids/count").status_code == 403


def test_the_number_and_the_names_appear_at_the_opening_time_and_not_a_moment_before(
    personas, published_tender, bidder_a_keys, bidder_b_keys, tmp_path, frozen_clock
):
    take_part(personas, published_tender, bidder_a_keys, bidder_b_keys, tmp_path)
    count_url = f"/api/tenders/{published_tender.public_id}/bids/count"
    viewers = {"tenderer": personas.tenderer, "agency": personas.agent, "regulator": personas.regulator}
    list_page = {
        "tenderer": "frontend:my-tenders",
        "agency": "frontend:my-tenders",
        "regulator": "frontend:supervision",
    }

    frozen_clock.set(published_tender.opening_time - dt.timedelta(microseconds=1))
    for name, user in viewers.items():
        client = signed_in(user)
        assert client.get(count_url).json()["accepted_bids"] is None, name
        assert "开标后公布" in client.get(reverse(list_page[name])).content.decode(), name

    frozen_clock.set(published_tender.opening_time)
    standing = Bid.objects.filter(tender=published_tender, status=BidStatus.ACCEPTED).count()
    assert standing == 1
    for name, user in viewers.items():
        client = signed_in(user)
        shown = client.get(count_url).json()
        assert (shown["accepted_bids"], shown["bidders"]) == (standing, [personas.bidder_org_a.name]), name
        page = client.get(reverse(list_page[name])).content.decode()
        shown_on_page = re.findall(r'<td class="num" data-label="已受理投标">([^<]*)</td>', page)
        assert "开标后公布" not in page and shown_on_page == [str(standing)], name


def test_the_bid_count_service_says_nothing_before_the_opening(
    personas, published_tender, bidder_a_keys, bidder_b_keys, tmp_path, frozen_clock
):
    take_part(personas, published_tender, bidder_a_keys, bidder_b_keys, tmp_path)
    assert (bids.bid_count(published_tender), bids.standing_bidders(published_tender)) == (None, None)
    frozen_clock.set(published_tender.opening_time)
    assert (bids.bid_count(published_tender), bids.standing_bidders(published_tender)) == (
        1,
        [personas.bidder_org_a.name],
    )


def test_the_back_office_lists_no_bids_uploads_or_downloads():
    from django.contrib import admin

    from tendering.models import BidUpload

    for model in (Bid, BidUpload, DocumentDownload):
        assert not admin.site.is_registered(model), model


def test_a_download_is_recorded_for_amendment_notices_but_shown_to_nobody_but_its_downloader(
    personas, published_tender
):
    document = published_tender.documents.get()
    documents.record_download(personas.bidder_b, document)
    dashboard = signed_in(personas.bidder_b).get(reverse("frontend:dashboard")).content.decode()
    assert document.sha256 in dashboard
    for watcher in (personas.tenderer, personas.agent, personas.regulator, personas.bidder_a):
        assert document.sha256 not in signed_in(watcher).get(reverse("frontend:dashboard")).content.decode()
