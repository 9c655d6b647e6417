"""The pages write amounts with thousands separators and every moment in one format, in the zone of
``settings.TIME_ZONE`` (config/formatting.py), and hand that zone to the pages' scripts."""

from __future__ import annotations

import datetime as dt
import json
import re

from django.test import override_settings
from django.urls import reverse


def detail_url(tender):
    return reverse("frontend:tender-detail", args=[tender.public_id])


def test_budgets_are_written_with_thousands_separators_on_the_list_and_the_tender_page(client, published_tender):
    budget = f"{published_tender.budget:,.2f}"
    assert "," in budget
    assert budget in client.get(reverse("frontend:tender-list")).text
    page = client.get(detail_url(published_tender)).text
    assert budget in page
    for lot in published_tender.lots.all():
        assert f"{lot.budget:,.2f}" in page


def test_every_moment_on_the_tender_page_is_a_time_element_with_the_zone_name(client, published_tender):
    page = client.get(detail_url(published_tender)).text
    times = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', page)
    assert times, page
    for attribute, text in times:
        assert attribute.endswith("+08:00"), attribute
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d 北京时间", text), text
    # The frozen clock stands at 2026-03-02 09:00 Beijing time; the deadline is 30 days later.
    assert '<time datetime="2026-04-01T09:00+08:00">2026-04-01 09:00 北京时间</time>' in page


def test_the_pages_show_times_and_give_scripts_the_zone_of_the_setting(client, published_tender):
    with override_settings(TIME_ZONE="UTC"):
        page = client.get(detail_url(published_tender)).text
    assert '<time datetime="2026-04-01T01:00+00:00">2026-04-01 01:00 UTC</time>' in page
    config = re.search(r'<script id="platform-format" type="application/json">(.*?)</script>', page).group(1)
    assert json.loads(config) == {"time_zone": "UTC", "zone_label": "UTC"}
    assert "所有时间均为UTC" in page


def test_the_english_pages_name_the_zone_in_english(client, published_tender):
    client.cookies["django_language"] = "en"
    page = client.get(detail_url(published_tender), HTTP_ACCEPT_LANGUAGE="en").text
    config = re.search(r'<script id="platform-format" type="application/json">(.*?)</script>', page).group(1)
    assert json.loads(config) == {"time_zone": "Asia/Shanghai", "zone_label": "Beijing time"}
    assert "2026-04-01 09:00 Beijing time" in page


def test_the_forms_name_and_read_times_in_the_setting_zone(personas, frozen_clock):
    from tendering.models import Tender
    from tests.frontend.conftest import signed_in, tender_form_data

    tenderer = signed_in(personas.tenderer)
    assert "北京时间；不早于投标截止时间" in tenderer.get(reverse("frontend:tender-create")).text
    with override_settings(TIME_ZONE="UTC"):
        assert "UTC；不早于投标截止时间" in tenderer.get(reverse("frontend:tender-create")).text
        data = tender_form_data(
            frozen_clock(), personas.custodians, bid_deadline="2026-04-10T09:30", opening_time="2026-04-10T10:00"
        )
        assert tenderer.post(reverse("frontend:tender-create"), data).status_code == 302
    tender = Tender.objects.get()
    assert tender.bid_deadline == dt.datetime(2026, 4, 10, 9, 30, tzinfo=dt.UTC)
