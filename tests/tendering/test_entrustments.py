"""Entrustment (委托, 招标投标法 Art 15):
an agency acts in a tenderer's name only within the tenderer's valid entrustment.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.test import Client

from accounts import credit_code
from accounts.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from accounts.models import Organization, OrganizationKind, Role
from archive.models import LedgerEntry
from tendering import hall, permissions
from tendering.models import Entrustment, Tender
from tendering.services import amendments, documents, entrustments, questions, tenders
from tests.fixtures.personas import PDF_BYTES, make_user, tender_input


@pytest.fixture
def unentrusted(personas):
    """The personas without the standing entrustment: the agency starts with none."""
    Entrustment.objects.all().delete()
    return personas


def ledger_size() -> int:
    return LedgerEntry.objects.count()


def agency_draft(personas, now, **changes) -> Tender:
    tender = tenders.create_draft(
        personas.agent, tender_input(now, personas.custodians, tenderer_id=personas.tenderer_org.pk, **changes)
    )
    documents.add_document(personas.agent, tender, "招标文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
    return tender


def second_org(kind: str, name: str, index: int) -> Organization:
    return Organization.objects.create(name=name, kind=kind, credit_code=credit_code.make(f"91360781MB{index:07d}"))


def test_an_agency_without_an_entrustment_cannot_create_a_tender_in_a_tenderers_name(
    unentrusted, frozen_clock, object_store_dir
):
    before = ledger_size()
    with pytest.raises(PermissionDenied) as refused:
        tenders.create_draft(
            unentrusted.agent,
            tender_input(frozen_clock(), unentrusted.custodians, tenderer_id=unentrusted.tenderer_org.pk),
        )
    assert refused.value.code == "no_entrustment"
    assert "RJ-2026-001" in str(refused.value.message)
    assert not Tender.objects.exists()
    assert ledger_size() == before


def test_a_grant_is_recorded_in_the_ledger_and_lets_the_agency_act_for_that_tender_only(
    unentrusted, frozen_clock, object_store_dir
):
    p = unentrusted
    granted = entrustments.grant(p.tenderer, p.agency_org.pk, tender_number="RJ-2026-001")
    entry = LedgerEntry.objects.filter(action="tendering.entrustment.granted").get()
    assert entry.case == f"organization:{p.tenderer_org.pk}"
    assert json.loads(entry.data) == {
        "entrustment_id": str(granted.public_id),
        "tenderer": p.tenderer_org.name,
        "tenderer_credit_code": p.tenderer_org.credit_code,
        "agency": p.agency_org.name,
        "agency_credit_code": p.agency_org.credit_code,
        "tender_number": "RJ-2026-001",
        "valid_from": None,
        "valid_until": None,
    }
    assert entry.actor_id == p.tenderer.pk

    before = ledger_size()
    with pytest.raises(PermissionDenied) as other_number:
        tenders.create_draft(
            p.agent, tender_input(frozen_clock(), p.custodians, tenderer_id=p.tenderer_org.pk, number="RJ-2026-002")
        )
    assert other_number.value.code == "no_entrustment"
    assert not Tender.objects.exists() and ledger_size() == before

    tender = agency_draft(p, frozen_clock())
    assert (tender.tenderer, tender.agency) == (p.tenderer_org, p.agency_org)
    # The agency cannot rename the draft out of the tender it was entrusted with.
    with pytest.raises(PermissionDenied) as renamed:
        tenders.update_draft(p.agent, tender, tender_input(frozen_clock(), p.custodians, number="RJ-2026-002"))
    assert renamed.value.code == "no_entrustment"
    assert Tender.objects.get(pk=tender.pk).number == "RJ-2026-001"
    published = tenders.publish(p.agent, tender)
    assert published.published_at == frozen_clock()


def test_only_the_tenderers_staff_grant_and_nothing_is_stored_when_they_may_not(unentrusted):
    p = unentrusted
    before = ledger_size()
    for user in (p.agent, p.bidder_a, p.regulator, p.admin, p.custodians[0]):
        with pytest.raises(PermissionDenied) as refused:
            entrustments.grant(user, p.agency_org.pk, tender_number="RJ-2026-001")
        assert refused.value.code == "not_tenderer_staff"
    assert not Entrustment.objects.exists() and ledger_size() == before


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({}, "tender_number"),
        ({"tender_number": "RJ-1", "valid_from": "now", "valid_until": "+1d"}, "tender_number"),
        ({"tender_number": "名称 有空格"}, "tender_number"),
        ({"valid_from": "now"}, "valid_until"),
        ({"valid_from": "now", "valid_until": "now"}, "valid_until"),
        ({"valid_from": "-2d", "valid_until": "-1d"}, "valid_until"),
        ({"valid_from": "naive", "valid_until": "+1d"}, "valid_until"),
    ],
)
def test_a_scope_that_is_neither_one_tender_nor_a_future_period_is_refused(unentrusted, frozen_clock, arguments, field):
    now = frozen_clock()
    moments = {
        "now": now,
        "+1d": now + dt.timedelta(days=1),
        "-1d": now - dt.timedelta(days=1),
        "-2d": now - dt.timedelta(days=2),
    }
    moments["naive"] = now.replace(tzinfo=None)
    values = {k: (moments[v] if k.startswith("valid") else v) for k, v in arguments.items()}
    before = ledger_size()
    with pytest.raises(InvalidInput) as refused:
        entrustments.grant(unentrusted.tenderer, unentrusted.agency_org.pk, **values)
    assert field in refused.value.fields
    assert not Entrustment.objects.exists() and ledger_size() == before


def test_an_unknown_agency_or_one_already_entrusted_with_the_tender_is_refused(unentrusted):
    p = unentrusted
    with pytest.raises(InvalidInput) as unknown:
        entrustments.grant(p.tenderer, p.bidder_org_a.pk, tender_number="RJ-2026-001")
    assert "agency_id" in unknown.value.fields
    entrustments.grant(p.tenderer, p.agency_org.pk, tender_number="RJ-2026-001")
    before = ledger_size()
    with pytest.raises(Conflict) as twice:
        entrustments.grant(p.tenderer, p.agency_org.pk, tender_number="RJ-2026-001")
    assert twice.value.code == "already_entrusted"
    assert Entrustment.objects.count() == 1 and ledger_size() == before


def test_after_revocation_the_agency_can_change_nothing_and_the_tenderer_still_can(
    unentrusted, frozen_clock, object_store_dir
):
    p = unentrusted
    granted = entrustments.grant(p.tenderer, p.agency_org.pk, tender_number="RJ-2026-001")
    tender = tenders.publish(p.agent, agency_draft(p, frozen_clock()))
    question = questions.ask_question(p.bidder_a, tender, "工期可否延长？")
    assert hall.HallRole.MANAGER in hall.hall_roles(p.agent, tender)

    entrustments.revoke(p.tenderer, granted.public_id)
    revoked = LedgerEntry.objects.filter(action="tendering.entrustment.revoked").get()
    assert json.loads(revoked.data)["entrustment_id"] == str(granted.public_id)
    assert not permissions.can_manage(p.agent, tender)
    assert hall.hall_roles(p.agent, tender) == set()

    before = ledger_size()
    attempts = [
        lambda: questions.answer_question(p.agent, question, "可以。"),
        lambda: amendments.issue_amendment(p.agent, tender, "更正工程量清单"),
        lambda: tenders.close_opening(p.agent, tender),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied) as refused:
            attempt()
        assert refused.value.code == "no_entrustment"
    question.refresh_from_db()
    assert question.answered_at is None and not tender.amendments.exists() and ledger_size() == before

    with pytest.raises(Conflict) as again:
        entrustments.revoke(p.tenderer, granted.public_id)
    assert again.value.code == "already_revoked"
    questions.answer_question(p.tenderer, question, "可以。")  # the tenderer is not bound by its agency's entrustment


def test_a_period_entrustment_covers_the_agencys_acts_within_the_period_only(
    unentrusted, frozen_clock, object_store_dir
):
    p = unentrusted
    now = frozen_clock()
    entrustments.grant(p.tenderer, p.agency_org.pk, valid_from=now, valid_until=now + dt.timedelta(days=2))
    tender = agency_draft(p, now, number="RJ-2026-003")
    assert permissions.can_manage(p.agent, tender)
    frozen_clock.set(now + dt.timedelta(days=2))
    assert not permissions.can_manage(p.agent, tender)
    with pytest.raises(PermissionDenied) as refused:
        tenders.publish(p.agent, tender)
    assert refused.value.code == "no_entrustment"
    assert Tender.objects.get(pk=tender.pk).published_at is None


def test_a_second_tenderer_cannot_revoke_and_a_second_agency_cannot_manage(unentrusted, frozen_clock, object_store_dir):
    p = unentrusted
    granted = entrustments.grant(p.tenderer, p.agency_org.pk, tender_number="RJ-2026-001")
    tender = agency_draft(p, frozen_clock())
    other_tenderer = make_user("tenderer2", second_org(OrganizationKind.TENDERER, "瑞金水务", 1), Role.TENDERER_STAFF)
    other_agency_org = second_org(OrganizationKind.AGENCY, "赣州建设咨询", 2)
    other_agent = make_user("agent2", other_agency_org, Role.AGENCY_STAFF)
    # Entrusted by the same tenderer, but for a period: the tender names the first agency,
    # so the second may not manage it.
    entrustments.grant(
        p.tenderer, other_agency_org.pk, valid_from=frozen_clock(), valid_until=frozen_clock() + dt.timedelta(days=90)
    )
    assert not permissions.can_manage(other_agent, tender)
    with pytest.raises(PermissionDenied):
        tenders.publish(other_agent, tender)
    with pytest.raises(NotFound):
        entrustments.revoke(other_tenderer, granted.public_id)
    assert Entrustment.objects.get(pk=granted.pk).revoked_at is None
    assert list(entrustments.visible_entrustments(other_tenderer)) == []
    assert list(entrustments.visible_entrustments(other_agent)) != list(entrustments.visible_entrustments(p.agent))


def bearer(user) -> dict[str, str]:
    from accounts.services import issue_api_token

    return {"HTTP_AUTHORIZATION": "Bearer " + issue_api_token(user, "cli")[0]}


def test_the_api_grants_lists_and_revokes_and_refuses_the_agency_with_no_entrustment(
    unentrusted, frozen_clock, object_store_dir
):
    p = unentrusted
    client = Client()
    body = {"agency_id": p.agency_org.pk, "tender_number": "RJ-2026-001"}
    refused = client.post("/api/entrustments", json.dumps(body), content_type="application/json", **bearer(p.agent))
    assert (refused.status_code, refused.json()["code"]) == (403, "not_tenderer_staff")
    assert not Entrustment.objects.exists()

    tender_body = {
        "number": "RJ-2026-001", "title": "乡村道路提升改造工程", "procedure_type": "open", "budget": "8650000.00",
        "bid_deadline": (frozen_clock() + dt.timedelta(days=30)).isoformat(),
        "opening_time": (frozen_clock() + dt.timedelta(days=30)).isoformat(),
        "enquiry_deadline": (frozen_clock() + dt.timedelta(days=20)).isoformat(),
        "evaluation_method": "comprehensive", "custodian_ids": [c.pk for c in p.custodians], "custodian_threshold": 2,
        "tenderer_id": p.tenderer_org.pk,
    }  # fmt: skip
    agent = bearer(p.agent)
    no_entrustment = client.post("/api/tenders", json.dumps(tender_body), content_type="application/json", **agent)
    assert (no_entrustment.status_code, no_entrustment.json()["code"]) == (403, "no_entrustment")
    assert not Tender.objects.exists()

    granted = client.post("/api/entrustments", json.dumps(body), content_type="application/json", **bearer(p.tenderer))
    assert granted.status_code == 201, granted.content
    shown = granted.json()
    assert (shown["agency"], shown["tender_number"], shown["revoked_at"]) == (p.agency_org.name, "RJ-2026-001", None)
    assert [e["id"] for e in client.get("/api/entrustments", **agent).json()] == [shown["id"]]
    assert client.get("/api/entrustments", **bearer(p.bidder_a)).json() == []
    created = client.post("/api/tenders", json.dumps(tender_body), content_type="application/json", **agent)
    assert created.status_code == 201, created.content

    revoked = client.post(f"/api/entrustments/{shown['id']}/revoke", **bearer(p.tenderer))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    tender_id = created.json()["id"]
    edit = client.put(
        f"/api/tenders/{tender_id}",
        json.dumps({**tender_body, "title": "改名"}),
        content_type="application/json",
        **agent,
    )
    assert (edit.status_code, edit.json()["code"]) == (403, "no_entrustment")
    assert Tender.objects.get().title == "乡村道路提升改造工程"
    again = client.post(f"/api/entrustments/{shown['id']}/revoke", **bearer(p.tenderer))
    assert (again.status_code, again.json()["code"]) == (409, "already_revoked")
