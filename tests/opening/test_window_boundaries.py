"""The opening's windows at their exact edges: the hall opens at the opening time (inclusive) and the decryption
window is [opening time, decryption_ends_at): a key released at decryption_ends_at itself is too late."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.errors import WrongPhase
from archive.models import LedgerEntry
from tendering.models import BidOpening, Opening, OpeningAttendance
from tendering.services.opening import admission, keys
from tests.opening.conftest import OpeningCase

pytestmark = pytest.mark.django_db
TICK = dt.timedelta(microseconds=1)


def states(case: OpeningCase) -> list[str]:
    return [b.state for b in BidOpening.objects.filter(opening__tender=case.tender).order_by("position")]


def test_the_hall_opens_exactly_at_the_opening_time(opening_case: OpeningCase) -> None:
    case = opening_case
    bidder = case.entries[0].user
    case.clock.set(case.tender.opening_time - TICK)
    with pytest.raises(WrongPhase) as refused:
        admission.sign_in(bidder, case.tender)
    assert refused.value.code == "hall_not_open"
    assert not Opening.objects.filter(tender=case.tender).exists()

    case.clock.set(case.tender.opening_time)
    attendance = admission.sign_in(bidder, case.tender)
    assert attendance.signed_in_at == case.tender.opening_time
    # The window starts at the published opening time, whenever the hall is first used.
    assert Opening.objects.get(tender=case.tender).started_at == case.tender.opening_time


def test_a_key_released_one_microsecond_before_the_window_ends_is_taken_and_at_its_end_refused(
    opening_case: OpeningCase,
) -> None:
    case = opening_case
    case.at_opening()
    ends = Opening.objects.get(tender=case.tender).decryption_ends_at
    assert ends > case.tender.opening_time
    first, second = case.entries[0], case.entries[1]

    case.clock.set(ends - TICK)
    keys.release_key(first.user, case.tender, first.bid.public_id, first.file_key())
    assert states(case) == ["key_ready", "awaiting_key", "awaiting_key"]

    case.clock.set(ends)
    ledger_before = LedgerEntry.objects.count()
    with pytest.raises(WrongPhase) as refused:
        keys.release_key(second.user, case.tender, second.bid.public_id, second.file_key())
    assert refused.value.code == "decryption_window_closed"
    assert states(case) == ["key_ready", "awaiting_key", "awaiting_key"]
    assert bytes(BidOpening.objects.get(bid=second.bid).sealed_file_key) == b""
    assert LedgerEntry.objects.count() == ledger_before
    assert not OpeningAttendance.objects.filter(user=second.user).exists()
