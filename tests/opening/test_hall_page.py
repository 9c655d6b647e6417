"""The opening hall's page: who may open it, what its script is given, where it is linked
from; and the browser keys page, which gives a custodian an encryption key only."""

from __future__ import annotations

import json
import re
from typing import Any

from django.urls import reverse

from tests.frontend.conftest import signed_in
from tests.opening.conftest import OpeningCase


def page_config(html: str, element_id: str) -> dict[str, Any]:
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert found, f"no {element_id} on the page"
    config: dict[str, Any] = json.loads(found.group(1))
    return config


def hall_url(case: OpeningCase) -> str:
    return reverse("frontend:opening-hall", args=[case.tender.public_id])


def test_the_hall_page_is_refused_to_anyone_without_a_place_in_the_hall(client, opening_case):
    opening_case.at_opening()
    response = client.get(hall_url(opening_case))
    assert response.status_code == 302 and response["Location"].startswith(reverse("frontend:login"))
    for outsider in (opening_case.personas.expert, opening_case.personas.agent, opening_case.personas.admin):
        assert signed_in(outsider).get(hall_url(opening_case)).status_code == 403


def test_each_participant_gets_its_roles_and_the_halls_addresses(opening_case):
    opening_case.at_opening()
    personas, tender = opening_case.personas, opening_case.tender
    bidder = page_config(signed_in(personas.bidder_a).get(hall_url(opening_case)).text, "hall-config")
    assert bidder["roles"] == ["bidder"] and bidder["custodianPosition"] is None
    assert bidder["me"] == {"name": personas.bidder_a.display_name, "organization": personas.bidder_org_a.name}
    assert bidder["urls"]["socket"] == f"/ws/tenders/{tender.public_id}/hall/"
    assert bidder["urls"]["manifests"] == f"/api/tenders/{tender.public_id}/opening/manifests"
    assert bidder["states"]["awaiting_key"] == "待解密"

    custodian = page_config(signed_in(personas.custodians[1]).get(hall_url(opening_case)).text, "hall-config")
    assert custodian["roles"] == ["custodian"] and custodian["custodianPosition"] == 2

    assert page_config(signed_in(personas.tenderer).get(hall_url(opening_case)).text, "hall-config")["roles"] == [
        "manager"
    ]
    supervisor = signed_in(personas.regulator).get(hall_url(opening_case)).text
    assert page_config(supervisor, "hall-config")["roles"] == ["supervisor"]
    # A supervisor only watches: the page says so before its script runs.
    assert '<p id="read-only-note" class="notice" role="note">' in supervisor
    assert (
        '<p id="read-only-note" class="notice" role="note" hidden>'
        in signed_in(personas.bidder_a).get(hall_url(opening_case)).text
    )


def test_a_bidders_hall_page_has_the_text_for_its_refused_keys_in_chinese_and_in_english(opening_case):
    # The script shows it on the bidder's own bid while the snapshot counts key_refusals on it.
    opening_case.at_opening()
    chinese = page_config(signed_in(opening_case.personas.bidder_a).get(hall_url(opening_case)).text, "hall-config")
    assert chinese["messages"]["key_refused"] == "您提交的密钥已有 %(n)s 次与投标文件的密钥承诺不符。"
    english_client = signed_in(opening_case.personas.bidder_a)
    english_client.cookies["django_language"] = "en"
    english = page_config(english_client.get(hall_url(opening_case)).text, "hall-config")
    assert (
        english["messages"]["key_refused"] == "%(n)s of the keys you released did not match the bid's key commitment."
    )


def test_the_hall_is_linked_for_its_participants_only_once_the_opening_time_has_come(opening_case):
    personas, tender = opening_case.personas, opening_case.tender
    detail = reverse("frontend:tender-detail", args=[tender.public_id])
    before = signed_in(personas.bidder_a)
    assert hall_url(opening_case) not in before.get(detail).text
    assert hall_url(opening_case) not in before.get(reverse("frontend:dashboard")).text
    waiting = before.get(hall_url(opening_case)).text
    assert "开标大厅将于开标时间" in waiting

    opening_case.at_opening()
    for participant in (personas.bidder_a, personas.custodians[0], personas.tenderer, personas.regulator):
        client = signed_in(participant)
        assert hall_url(opening_case) in client.get(detail).text, participant
        assert hall_url(opening_case) in client.get(reverse("frontend:dashboard")).text, participant
    outsider = signed_in(personas.expert)
    assert hall_url(opening_case) not in outsider.get(detail).text
    assert hall_url(opening_case) not in outsider.get(reverse("frontend:dashboard")).text
    assert "开标大厅将于开标时间" not in signed_in(personas.bidder_a).get(hall_url(opening_case)).text


def test_the_browser_keys_page_gives_a_custodian_a_signing_and_an_encryption_key(personas):
    custodian = signed_in(personas.custodians[0]).get(reverse("frontend:browser-keys")).text
    # The signing key confirms custody and signs "does not open" statements; the encryption key opens its parts.
    assert page_config(custodian, "keys-config")["purposes"] == ["signing", "encryption"]
    assert "签名确认您保管的项目" in custodian
    # Custodians find the page in the navigation, as bidders do.
    assert f'href="{reverse("frontend:browser-keys")}"' in custodian
    bidder = signed_in(personas.bidder_a).get(reverse("frontend:browser-keys")).text
    assert page_config(bidder, "keys-config")["purposes"] == ["signing", "encryption"]
    assert (
        f'href="{reverse("frontend:browser-keys")}"'
        not in signed_in(personas.expert).get(reverse("frontend:dashboard")).text
    )
