"""Keys and parts that the opening refuses: each with a clear error, and nothing stored changed."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from accounts.errors import Conflict, InvalidInput, NotFound, PermissionDenied, WrongPhase
from archive.models import LedgerEntry
from tendering.models import BidOpening, BidOpeningState, CustodianSubmission, Opening, UnreleasedBidRule
from tendering.services.opening import admission, conclusion, custodian_parts, keys, views
from tests.opening.conftest import OpeningCase

pytestmark = pytest.mark.django_db


def states(case: OpeningCase) -> list[str]:
    return [b.state for b in BidOpening.objects.filter(opening__tender=case.tender).order_by("position")]


def test_nobody_enters_the_hall_before_the_opening_time(opening_case: OpeningCase) -> None:
    case = opening_case
    first = case.entries[0]
    with pytest.raises(WrongPhase) as refused:
        keys.release_key(first.user, case.tender, first.bid.public_id, first.file_key())
    assert refused.value.code == "hall_not_open"
    with pytest.raises(WrongPhase):
        custodian_parts.submit_custodian_parts(case.custodians[0], case.tender, case.parts_of(0))
    assert not Opening.objects.exists()
    assert not LedgerEntry.objects.filter(action__startswith="tendering.opening.").exists()


def test_people_outside_the_procedure_are_not_let_in(opening_case: OpeningCase) -> None:
    case = opening_case
    case.at_opening()
    for outsider in (case.personas.expert, case.personas.admin):
        with pytest.raises(PermissionDenied) as refused:
            views.snapshot(outsider, case.tender)
        assert refused.value.code == "not_in_hall"


def test_a_bidder_cannot_release_another_bidders_key(opening_case: OpeningCase) -> None:
    case = opening_case
    case.at_opening()
    first, second = case.entries[0], case.entries[1]
    with pytest.raises(NotFound):
        keys.release_key(second.user, case.tender, first.bid.public_id, first.file_key())
    assert states(case) == ["awaiting_key"] * 3


def test_only_bidders_release_keys_and_only_custodians_submit_parts(opening_case: OpeningCase) -> None:
    case = opening_case
    case.at_opening()
    first = case.entries[0]
    for other in (case.personas.tenderer, case.personas.regulator, case.custodians[0]):
        with pytest.raises(PermissionDenied):
            keys.release_key(other, case.tender, first.bid.public_id, first.file_key())
    for other in (case.personas.tenderer, case.personas.regulator, first.user):
        with pytest.raises(PermissionDenied):
            custodian_parts.submit_custodian_parts(other, case.tender, case.parts_of(0))
    assert states(case) == ["awaiting_key"] * 3
    assert not CustodianSubmission.objects.exists()


def test_a_malformed_key_is_refused(opening_case: OpeningCase) -> None:
    case = opening_case
    case.at_opening()
    first = case.entries[0]
    for bad in (b"", b"\x00" * 31, b"\x00" * 33):
        with pytest.raises(InvalidInput):
            keys.release_key(first.user, case.tender, first.bid.public_id, bad)
    assert states(case) == ["awaiting_key"] * 3


def test_a_key_that_fails_the_commitment_is_refused_and_the_refusal_recorded(opening_case: OpeningCase) -> None:
    case = opening_case
    case.at_opening()
    first = case.entries[0]
    with pytest.raises(InvalidInput) as refused:
        keys.release_key(first.user, case.tender, first.bid.public_id, os.urandom(32))
    assert "密钥承诺" in str(refused.value)
    assert states(case) == ["awaiting_key"] * 3
    refusal = LedgerEntry.objects.get(action="tendering.opening.key_refused")
    assert first.bid.public_id.hex in refusal.data.replace("-", "")
    # The right key still opens it afterwards.
    released = keys.release_key(first.user, case.tender, first.bid.public_id, first.file_key())
    assert released.state == BidOpeningState.KEY_READY


def test_a_key_released_twice_is_refused_the_second_time(opening_case: OpeningCase) -> None:
    case = opening_case
    case.at_opening()
    first = case.entries[0]
    keys.release_key(first.user, case.tender, first.bid.public_id, first.file_key())
    before = BidOpening.objects.get(bid=first.bid)
    with pytest.raises(Conflict) as refused:
        keys.release_key(first.user, case.tender, first.bid.public_id, first.file_key())
    assert refused.value.code == "key_already_ready"
    after = BidOpening.objects.get(bid=first.bid)
    assert bytes(after.sealed_file_key) == bytes(before.sealed_file_key)


def test_a_key_after_the_decryption_window_is_refused(opening_case: OpeningCase, settings: object) -> None:
    case = opening_case
    case.at_opening()
    admission.ensure_opening(case.tender)
    window = Opening.objects.get(tender=case.tender).decryption_ends_at
    case.clock.set(window + dt.timedelta(seconds=1))
    first = case.entries[0]
    with pytest.raises(WrongPhase) as refused:
        keys.release_key(first.user, case.tender, first.bid.public_id, first.file_key())
    assert refused.value.code == "decryption_window_closed"
    assert states(case) == ["awaiting_key"] * 3


def test_a_custodians_parts_must_be_complete_well_formed_and_sent_once(opening_case: OpeningCase) -> None:
    case = opening_case
    case.at_opening()
    custodian = case.custodians[0]
    parts = case.parts_of(0)
    with pytest.raises(InvalidInput):
        custodian_parts.submit_custodian_parts(custodian, case.tender, parts[:-1])  # one missing
    with pytest.raises(InvalidInput):
        custodian_parts.submit_custodian_parts(custodian, case.tender, [*parts, parts[0]])  # one twice
    with pytest.raises(InvalidInput):
        custodian_parts.submit_custodian_parts(custodian, case.tender, case.parts_of(2))  # subsets of another custodian
    short = [custodian_parts.SubmittedPart(p.bid, p.members, p.part[:16]) for p in parts]
    with pytest.raises(InvalidInput):
        custodian_parts.submit_custodian_parts(custodian, case.tender, short)
    assert not CustodianSubmission.objects.exists()
    custodian_parts.submit_custodian_parts(custodian, case.tender, parts)
    with pytest.raises(Conflict) as refused:
        custodian_parts.submit_custodian_parts(custodian, case.tender, parts)
    assert refused.value.code == "parts_already_submitted"
    assert CustodianSubmission.objects.count() == 1


def test_parts_after_the_decryption_is_concluded_are_refused(opening_case: OpeningCase) -> None:
    case = opening_case
    case.at_opening()
    admission.ensure_opening(case.tender)
    case.clock.set(Opening.objects.get(tender=case.tender).decryption_ends_at)
    conclusion.conclude_decryption(case.personas.tenderer, case.tender)
    with pytest.raises(WrongPhase) as refused:
        custodian_parts.submit_custodian_parts(case.custodians[0], case.tender, case.parts_of(0))
    assert refused.value.code == "decryption_concluded"
    assert states(case) == ["revoked"] * 3


def test_parts_are_refused_where_the_tender_has_bidders_decrypt_alone(opening_case: OpeningCase) -> None:
    case = opening_case
    type(case.tender).objects.filter(pk=case.tender.pk).update(unreleased_bids=UnreleasedBidRule.REVOKED)
    case.tender.refresh_from_db()
    case.at_opening()
    with pytest.raises(WrongPhase) as refused:
        custodian_parts.submit_custodian_parts(case.custodians[0], case.tender, case.parts_of(0))
    assert refused.value.code == "custodians_not_used"


def test_the_decryption_cannot_be_concluded_early_or_by_others(opening_case: OpeningCase) -> None:
    case = opening_case
    case.at_opening()
    with pytest.raises(WrongPhase) as refused:
        conclusion.conclude_decryption(case.personas.tenderer, case.tender)
    assert refused.value.code == "decryption_window_open"
    for other in (case.personas.regulator, case.entries[0].user, case.custodians[0]):
        with pytest.raises(PermissionDenied):
            conclusion.conclude_decryption(other, case.tender)
    assert Opening.objects.get(tender=case.tender).decryption_concluded_at is None
