"""The entrustment page: the tenderer's staff entrust an agency and revoke it; the agency reads what it holds."""

from __future__ import annotations

import pytest
from django.urls import reverse

from archive.models import LedgerEntry
from tendering.models import Entrustment, Tender
from tests.frontend.conftest import local, signed_in, tender_form_data


@pytest.fixture
def unentrusted(personas):
    Entrustment.objects.all().delete()
    return personas


def test_the_tenderer_entrusts_an_agency_with_one_tender_and_revokes_it(unentrusted, frozen_clock):
    p = unentrusted
    page = signed_in(p.tenderer)
    url = reverse("frontend:entrustments")
    assert 'name="agency"' in page.get(url).content.decode()

    granted = page.post(url, {"agency": p.agency_org.pk, "scope": "tender", "tender_number": "RJ-2026-001"})
    assert granted.status_code == 302
    entrustment = Entrustment.objects.get()
    assert (entrustment.agency, entrustment.tender_number, entrustment.granted_by) == (
        p.agency_org,
        "RJ-2026-001",
        p.tenderer,
    )
    listing = page.get(url).content.decode()
    assert "RJ-2026-001" in listing and reverse("frontend:entrustment-revoke", args=[entrustment.public_id]) in listing

    assert page.post(reverse("frontend:entrustment-revoke", args=[entrustment.public_id])).status_code == 302
    entrustment.refresh_from_db()
    assert entrustment.revoked_at == frozen_clock() and entrustment.revoked_by == p.tenderer
    assert LedgerEntry.objects.filter(action__startswith="tendering.entrustment.").count() == 2


def test_a_period_is_read_in_beijing_time_and_a_bad_one_is_shown_on_the_form_and_not_stored(unentrusted, frozen_clock):
    import datetime as dt

    p = unentrusted
    page = signed_in(p.tenderer)
    url = reverse("frontend:entrustments")
    now = frozen_clock()
    backwards = {
        "agency": p.agency_org.pk,
        "scope": "period",
        "valid_from": local(now + dt.timedelta(days=2)),
        "valid_until": local(now),
    }
    refused = page.post(url, backwards)
    assert refused.status_code == 200 and "委托截止时间必须晚于起始时间" in refused.content.decode()
    assert not Entrustment.objects.exists()

    period = {
        "agency": p.agency_org.pk,
        "scope": "period",
        "valid_from": local(now),
        "valid_until": local(now + dt.timedelta(days=30)),
    }
    assert page.post(url, period).status_code == 302
    assert Entrustment.objects.get().valid_until == now + dt.timedelta(days=30)


def test_the_agency_reads_its_entrustments_without_a_form_and_others_are_refused(unentrusted):
    p = unentrusted
    url = reverse("frontend:entrustments")
    signed_in(p.tenderer).post(url, {"agency": p.agency_org.pk, "scope": "tender", "tender_number": "RJ-2026-001"})
    agency_page = signed_in(p.agent)
    shown = agency_page.get(url).content.decode()
    assert "RJ-2026-001" in shown and 'name="agency"' not in shown and "撤销委托" not in shown
    assert (
        agency_page.post(
            url, {"agency": p.agency_org.pk, "scope": "tender", "tender_number": "RJ-2026-009"}
        ).status_code
        == 403
    )
    entrustment = Entrustment.objects.get()
    assert agency_page.post(reverse("frontend:entrustment-revoke", args=[entrustment.public_id])).status_code == 403
    assert Entrustment.objects.get().revoked_at is None and Entrustment.objects.count() == 1
    for outsider in (p.bidder_a, p.regulator):
        assert signed_in(outsider).get(url).status_code == 403


def test_the_agencys_tender_form_offers_only_tenderers_that_entrust_it_and_refuses_without_one(
    unentrusted, frozen_clock
):
    p = unentrusted
    agent = signed_in(p.agent)
    form = agent.get(reverse("frontend:tender-create")).content.decode()
    assert p.tenderer_org.name not in form
    data = tender_form_data(frozen_clock(), p.custodians, tenderer=p.tenderer_org.pk)
    assert agent.post(reverse("frontend:tender-create"), data).status_code == 200  # not a choice: shown on the form
    assert not Tender.objects.exists()

    signed_in(p.tenderer).post(
        reverse("frontend:entrustments"), {"agency": p.agency_org.pk, "scope": "tender", "tender_number": "RJ-2026-077"}
    )
    assert p.tenderer_org.name in agent.get(reverse("frontend:tender-create")).content.decode()
    # Entrusted with RJ-2026-077 only: another number is refused with the reason.
    refused = agent.post(reverse("frontend:tender-create"), {**data, "number": "RJ-2026-078"})
    assert refused.status_code == 403 and "未委托" in refused.content.decode()
    assert not Tender.objects.exists()
    assert agent.post(reverse("frontend:tender-create"), {**data, "number": "RJ-2026-077"}).status_code == 302
