"""The opening record refuses what comes too early, too late, twice, malformed or from the wrong role."""

from __future__ import annotations

import pytest

from accounts.errors import Conflict, InvalidInput, NotFound, PermissionDenied, WrongPhase
from tendering.models import BidOpening, Opening, RecordObjection
from tendering.services import decryption
from tendering.services.opening import conclusion, confirmations, custodian_parts, keys
from tests.opening.conftest import OpeningCase

pytestmark = pytest.mark.django_db


def publish_record(case: OpeningCase) -> Opening:
    """Every bidder releases its key, the worker opens the bids, two custodians' parts check out,
    the tenderer ends the decryption.
    """
    case.at_opening()
    for entry in case.entries:
        keys.release_key(entry.user, case.tender, entry.bid.public_id, entry.file_key())
    for bid_opening in BidOpening.objects.filter(opening__tender=case.tender):
        decryption.decrypt_bid(bid_opening.pk)
    # Under the rule `custodians` every bid's parts are checked too before the decryption may end early.
    for index in (0, 1):
        custodian_parts.submit_custodian_parts(case.custodians[index], case.tender, case.parts_of(index))
    conclusion.conclude_decryption(case.personas.tenderer, case.tender)
    return Opening.objects.get(tender=case.tender)


def test_nothing_is_confirmed_objected_or_closed_before_the_record_is_published(opening_case: OpeningCase) -> None:
    case = opening_case
    case.at_opening()
    first = case.entries[0]
    for act in (
        lambda: confirmations.confirm_record(first.user, case.tender),
        lambda: confirmations.raise_objection(first.user, case.tender, "报价有误"),
        lambda: conclusion.close_opening(case.personas.tenderer, case.tender),
    ):
        with pytest.raises(WrongPhase) as refused:
            act()
        assert refused.value.code == "record_not_published"
    assert not RecordObjection.objects.exists()
    assert not BidOpening.objects.filter(confirmed_at__isnull=False).exists()


def test_a_confirmation_comes_once_and_only_from_a_bidder(opening_case: OpeningCase) -> None:
    case = opening_case
    publish_record(case)
    first = case.entries[0]
    for other in (case.personas.tenderer, case.personas.regulator, case.custodians[0]):
        with pytest.raises(PermissionDenied):
            confirmations.confirm_record(other, case.tender)
    confirmations.confirm_record(first.user, case.tender)
    confirmed_at = BidOpening.objects.get(bid=first.bid).confirmed_at
    with pytest.raises(Conflict) as refused:
        confirmations.confirm_record(first.user, case.tender)
    assert refused.value.code == "already_confirmed"
    assert BidOpening.objects.get(bid=first.bid).confirmed_at == confirmed_at


def test_objections_that_are_empty_too_long_or_hold_control_characters_are_refused(
    opening_case: OpeningCase, settings: object
) -> None:
    case = opening_case
    publish_record(case)
    first = case.entries[0]
    for bad in ("", "   ", "x" * 2001, "报价\x00有误"):
        with pytest.raises(InvalidInput):
            confirmations.raise_objection(first.user, case.tender, bad)
    with pytest.raises(PermissionDenied):
        confirmations.raise_objection(case.personas.regulator, case.tender, "报价有误")
    assert not RecordObjection.objects.exists()


def test_an_objection_is_answered_once_by_the_tenderer_only(opening_case: OpeningCase) -> None:
    case = opening_case
    publish_record(case)
    objection = confirmations.raise_objection(case.entries[0].user, case.tender, "第 1 标段报价读错")
    for other in (case.personas.regulator, case.entries[1].user):
        with pytest.raises(PermissionDenied):
            confirmations.answer_objection(other, case.tender, objection.pk, "已核对")
    with pytest.raises(NotFound):
        confirmations.answer_objection(case.personas.tenderer, case.tender, objection.pk + 1000, "已核对")
    confirmations.answer_objection(case.personas.tenderer, case.tender, objection.pk, "经核对，报价无误。")
    with pytest.raises(Conflict) as refused:
        confirmations.answer_objection(case.personas.tenderer, case.tender, objection.pk, "改口")
    assert refused.value.code == "already_answered"
    assert RecordObjection.objects.get(pk=objection.pk).answer == "经核对，报价无误。"


def test_after_the_window_and_after_closing_the_record_changes_no_more(opening_case: OpeningCase) -> None:
    case = opening_case
    op = publish_record(case)
    first = case.entries[0]
    with pytest.raises(PermissionDenied):
        conclusion.close_opening(case.personas.regulator, case.tender)
    assert op.confirmation_ends_at is not None
    case.clock.set(op.confirmation_ends_at)
    with pytest.raises(WrongPhase) as late:
        confirmations.confirm_record(first.user, case.tender)
    assert late.value.code == "confirmation_closed"
    with pytest.raises(WrongPhase):
        confirmations.raise_objection(first.user, case.tender, "迟到的异议")
    conclusion.close_opening(case.personas.tenderer, case.tender)
    for act in (
        lambda: conclusion.close_opening(case.personas.tenderer, case.tender),
        lambda: keys.release_key(first.user, case.tender, first.bid.public_id, first.file_key()),
        lambda: custodian_parts.submit_custodian_parts(case.custodians[0], case.tender, case.parts_of(0)),
    ):
        with pytest.raises(WrongPhase) as closed:
            act()
        assert closed.value.code == "opening_closed"
    assert not RecordObjection.objects.exists()
    assert all(b.confirmed_by_default for b in BidOpening.objects.all())
