import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import transaction

from accounts.errors import InvalidInput, PermissionDenied, WrongPhase
from accounts.models import KeyPurpose
from accounts.services import revoke_public_key
from archive.models import LedgerEntry
from tendering.models import Phase, Tender
from tendering.services import documents, outcome, tenders
from tests.fixtures.personas import PDF_BYTES, tender_input


def test_a_bidder_a_regulator_and_an_admin_cannot_create_tenders(personas, frozen_clock):
    for user in (personas.bidder_a, personas.regulator, personas.admin, personas.expert):
        with pytest.raises(PermissionDenied):
            tenders.create_draft(user, tender_input(frozen_clock(), personas.custodians))
    assert not Tender.objects.exists()


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        (
            "bid_deadline",
            lambda now: {
                "bid_deadline": now - dt.timedelta(hours=1),
                "opening_time": now,
                "enquiry_deadline": now - dt.timedelta(hours=2),
            },
        ),
        ("opening_time", lambda now: {"opening_time": now + dt.timedelta(days=29)}),
        ("enquiry_deadline", lambda now: {"enquiry_deadline": now + dt.timedelta(days=31)}),
        ("budget", lambda now: {"budget": Decimal("-5")}),
        ("budget", lambda now: {"budget": Decimal("10.001")}),
        ("number", lambda now: {"number": "x"}),
        ("custodian_threshold", lambda now: {"custodian_threshold": 4}),
        ("custodian_threshold", lambda now: {"custodian_threshold": 1}),
        ("lots", lambda now: {"lots": [tenders.LotInput(1, "a", Decimal(1)), tenders.LotInput(1, "b", Decimal(1))]}),
        ("lots", lambda now: {"lots": [tenders.LotInput(1, "a", Decimal("9000000"))]}),
    ],
)
def test_it_refuses_a_draft_that_breaks_a_rule_and_stores_nothing(personas, frozen_clock, field, changes):
    with pytest.raises(InvalidInput) as exc:
        tenders.create_draft(
            personas.tenderer, tender_input(frozen_clock(), personas.custodians, **changes(frozen_clock()))
        )
    assert field in exc.value.fields
    assert not Tender.objects.exists()
    assert not LedgerEntry.objects.filter(action__startswith="tendering.").exists()


def test_custodians_must_have_the_custodian_role(personas, frozen_clock):
    with pytest.raises(InvalidInput) as exc:
        tenders.create_draft(
            personas.tenderer,
            tender_input(frozen_clock(), [personas.bidder_a, personas.custodians[0]], custodian_threshold=2),
        )
    assert "custodian_ids" in exc.value.fields


def test_an_agency_creates_a_tender_for_a_tenderer(personas, frozen_clock):
    with pytest.raises(InvalidInput) as exc:
        tenders.create_draft(personas.agent, tender_input(frozen_clock(), personas.custodians))
    assert "tenderer_id" in exc.value.fields
    tender = tenders.create_draft(
        personas.agent, tender_input(frozen_clock(), personas.custodians, tenderer_id=personas.tenderer_org.pk)
    )
    assert (tender.tenderer, tender.agency) == (personas.tenderer_org, personas.agency_org)


def test_a_draft_is_not_published_twice(personas, draft_tender):
    tenders.publish(personas.tenderer, draft_tender)
    published_at = Tender.objects.get(pk=draft_tender.pk).published_at
    with pytest.raises(WrongPhase) as exc:
        tenders.publish(personas.tenderer, draft_tender)
    assert exc.value.code == "already_published"
    assert Tender.objects.get(pk=draft_tender.pk).published_at == published_at
    assert LedgerEntry.objects.filter(action="tendering.tender.published").count() == 1


def test_only_its_managers_may_publish_a_tender(personas, draft_tender):
    for user in (personas.bidder_a, personas.regulator, personas.admin, personas.agent):
        with pytest.raises(PermissionDenied):
            tenders.publish(user, draft_tender)
    assert Tender.objects.get(pk=draft_tender.pk).published_at is None


def test_publication_needs_a_document(personas, frozen_clock, object_store_dir):
    tender = tenders.create_draft(personas.tenderer, tender_input(frozen_clock(), personas.custodians))
    with pytest.raises(InvalidInput) as exc:
        tenders.publish(personas.tenderer, tender)
    assert "documents" in exc.value.fields


def test_publication_is_refused_while_a_custodian_has_no_encryption_key(personas, draft_tender):
    key = personas.custodians[1].public_keys.get(purpose=KeyPurpose.ENCRYPTION)
    revoke_public_key(personas.custodians[1], key)
    with pytest.raises(InvalidInput) as exc:
        tenders.publish(personas.tenderer, draft_tender)
    assert "custodian_ids" in exc.value.fields
    assert Tender.objects.get(pk=draft_tender.pk).published_at is None


def test_publication_needs_the_minimum_bid_period(personas, frozen_clock, draft_tender):
    frozen_clock.advance(days=11)  # 19 days left; open tendering needs 20
    with pytest.raises(InvalidInput) as exc:
        tenders.publish(personas.tenderer, draft_tender)
    assert "bid_deadline" in exc.value.fields


def test_publication_is_recorded_with_the_custodians_keys_and_document_hashes(personas, draft_tender):
    tender = tenders.publish(personas.tenderer, draft_tender)
    entry = LedgerEntry.objects.get(action="tendering.tender.published")
    assert entry.case == tender.case
    for custodian in personas.custodians:
        assert custodian.public_keys.get(purpose="encryption").fingerprint in entry.data
    assert tender.documents.get().sha256 in entry.data
    assert tender.custodian_slots.filter(public_key__isnull=True).count() == 0


def test_a_published_tender_cannot_be_edited_as_a_draft(personas, frozen_clock, published_tender):
    with pytest.raises(WrongPhase):
        tenders.update_draft(
            personas.tenderer, published_tender, tender_input(frozen_clock(), personas.custodians, title="改")
        )
    with pytest.raises(WrongPhase):
        documents.add_document(personas.tenderer, published_tender, "b.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
    assert Tender.objects.get(pk=published_tender.pk).title == "乡村道路提升改造工程"


def test_the_phase_follows_the_clock_and_the_explicit_transitions(personas, frozen_clock, published_tender):
    tender = published_tender
    assert tender.phase(frozen_clock()) == Phase.OPEN_FOR_BIDS
    with pytest.raises(WrongPhase):
        tenders.close_opening(personas.tenderer, tender)
    frozen_clock.set(tender.bid_deadline)
    assert tender.phase(frozen_clock()) == Phase.OPENING  # opening at the deadline
    with pytest.raises(WrongPhase):
        tenders.award(personas.tenderer, tender)
    with pytest.raises(PermissionDenied):
        tenders.close_opening(personas.bidder_a, tender)
    tenders.close_opening(personas.tenderer, tender)
    with pytest.raises(WrongPhase):  # candidates come from the committee's signed report
        tenders.publish_candidates(personas.tenderer, tender)
    with transaction.atomic():
        outcome.evaluation_reported(tender, None, {})
    tenders.publish_candidates(personas.tenderer, tender)
    tenders.award(personas.tenderer, tender)
    tenders.file_case(personas.tenderer, tender)
    tender.refresh_from_db()
    assert tender.phase(frozen_clock()) == Phase.FILED
    actions = list(LedgerEntry.objects.filter(case=tender.case).values_list("action", flat=True))
    assert actions[-5:] == [
        "tendering.opening.closed",
        "tendering.evaluation.reported",
        "tendering.candidates.published",
        "tendering.tender.awarded",
        "tendering.tender.filed",
    ]
