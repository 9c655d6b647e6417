"""The tender form reports every problem at once (what did not parse, and what the rules say of the rest),
and its default k is a valid one."""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.urls import reverse

from tendering.models import Tender
from tests.frontend.conftest import local, signed_in, tender_form_data
from tests.frontend.test_drafting_pages import field_error, nothing_stored


def test_a_form_with_a_bad_number_a_past_deadline_a_too_large_k_and_a_bad_lot_shows_them_all_at_once(
    personas, frozen_clock
):
    now = frozen_clock()
    data = tender_form_data(
        now,
        personas.custodians[:2],
        budget="三百万",  # does not parse: the form's own error
        enquiry_deadline=local(now - dt.timedelta(days=2)),
        bid_deadline=local(now - dt.timedelta(days=1)),  # parses; the service's rule refuses it
        opening_time=local(now - dt.timedelta(days=1)),
        custodian_threshold="3",  # more than the 2 custodians chosen
        number="x",
        **{"lots-1-number": "2", "lots-1-name": "", "lots-1-budget": "100"},  # a row without its name
    )
    response = signed_in(personas.tenderer).post(reverse("frontend:tender-create"), data)

    assert response.status_code == 200
    page = response.text
    assert field_error(page, "budget")
    assert "投标截止时间已过" in field_error(page, "bid_deadline")
    assert "提问截止时间已过" in field_error(page, "enquiry_deadline")
    assert "开启门限 k" in field_error(page, "custodian_threshold")
    assert "招标编号" in field_error(page, "number")
    assert field_error(page, "lots-1-name")
    nothing_stored()


def test_a_field_that_did_not_parse_shows_only_its_own_error_not_one_about_a_stand_in(personas, frozen_clock):
    data = tender_form_data(frozen_clock(), personas.custodians, bid_deadline="明天")
    page = signed_in(personas.tenderer).post(reverse("frontend:tender-create"), data).text
    errors = re.findall(r'<ul class="errorlist" id="id_(\w+)_error">', page)
    assert errors == ["bid_deadline"]
    assert "投标截止时间已过" not in page and "开标时间不能早于" not in page
    nothing_stored()


def test_lot_rules_are_checked_when_the_tender_fields_have_errors_too(personas, frozen_clock):
    data = tender_form_data(frozen_clock(), personas.custodians, title="", **{"lots-0-budget": "9000000.00"})
    page = signed_in(personas.tenderer).post(reverse("frontend:tender-create"), data).text
    assert field_error(page, "title")
    assert "各标段预算之和不能超过项目预算" in page
    nothing_stored()


def test_the_default_k_is_the_least_allowed_and_a_draft_with_it_and_that_many_custodians_is_saved(
    personas, frozen_clock
):
    tenderer = signed_in(personas.tenderer)
    form = tenderer.get(reverse("frontend:tender-create")).text
    field = re.search(r'<input[^>]*name="custodian_threshold"[^>]*>', form).group(0)
    least = settings.CUSTODIAN_THRESHOLD_MIN
    assert f'value="{least}"' in field
    assert f'min="{least}"' in field and f'max="{settings.CUSTODIANS_MAX}"' in field

    data = tender_form_data(frozen_clock(), personas.custodians[:least], custodian_threshold=str(least))
    assert tenderer.post(reverse("frontend:tender-create"), data).status_code == 302
    assert Tender.objects.get().custodian_threshold == least
