"""The opening's own faults and floods (issue 7, items 4 and 6): the window starts at the published time,
wrong keys cannot flood the ledger, a manager retries a decryption the platform's faults held up."""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import pytest

from accounts.errors import Conflict, PermissionDenied
from archive.models import LedgerEntry
from tendering.models import BidOpening, BidOpeningState, Opening
from tendering.services import decryption
from tendering.services.opening import bid_retried, keys
from tests.opening.conftest import OpeningCase
from tests.opening.test_api import b64, client_for, post, url

pytestmark = pytest.mark.django_db


def bid_openings(case: OpeningCase) -> list[BidOpening]:
    return list(BidOpening.objects.filter(opening__tender=case.tender).select_related("bid").order_by("position"))


def ledger(action: str) -> list[dict[str, Any]]:
    return [json.loads(e.data) for e in LedgerEntry.objects.filter(action=action).order_by("seq")]


def test_the_decryption_window_starts_at_the_published_opening_time_not_at_the_hall_s_first_use(
    opening_case: OpeningCase, settings: Any
) -> None:
    case = opening_case
    case.at_opening(minutes=7)  # the first participant enters 7 minutes late
    op = Opening.objects.get(tender=case.tender)
    assert op.started_at == case.tender.opening_time
    assert op.decryption_ends_at == case.tender.opening_time + dt.timedelta(
        minutes=settings.OPENING_DECRYPTION_WINDOW_MINUTES
    )
    assert ledger("tendering.opening.started")[0]["decryption_ends_at"] == op.decryption_ends_at.isoformat()


def test_wrong_keys_are_recorded_up_to_a_cap_then_only_counted_and_throttled(
    opening_case: OpeningCase, settings: Any
) -> None:
    case = opening_case
    case.at_opening()
    first = case.entries[0]
    client = client_for(first.user)
    key_url = url(case, f"/bids/{first.bid.public_id}/key")
    cap, pause = settings.OPENING_KEY_REFUSALS_RECORDED, settings.OPENING_KEY_RETRY_SECONDS
    for _ in range(cap):
        refused = post(client, key_url, {"file_key": b64(os.urandom(32))})
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_input", refused.content
    assert [e["refusal"] for e in ledger("tendering.opening.key_refused")] == list(range(1, cap + 1))
    # A client sending wrong keys in a loop now waits between tries, and the ledger does not grow.
    entries = LedgerEntry.objects.count()
    for _ in range(5):
        throttled = post(client, key_url, {"file_key": b64(os.urandom(32))})
        assert throttled.status_code == 429 and throttled.json()["code"] == "key_release_throttled"
    assert LedgerEntry.objects.count() == entries
    assert bid_openings(case)[0].key_refusals == cap
    # After the pause one more try is taken: refused and counted, not recorded on its own.
    for _ in range(4):
        case.clock.advance(seconds=pause)
        assert post(client, key_url, {"file_key": b64(os.urandom(32))}).status_code == 422
    assert LedgerEntry.objects.count() == entries
    # The right key, after the pause, is taken; the bid's end records how many were refused in all.
    case.clock.advance(seconds=pause)
    assert post(client, key_url, {"file_key": b64(first.file_key())}).status_code == 200
    assert decryption.decrypt_bid(bid_openings(case)[0].pk) == "opened"
    [opened] = ledger("tendering.opening.bid_opened")
    assert opened["key_refusals"] == cap + 4
    assert len(ledger("tendering.opening.key_refused")) == cap


def test_a_manager_retries_a_decryption_held_up_by_the_platform_s_faults(opening_case: OpeningCase) -> None:
    case = opening_case
    case.at_opening()
    first = case.entries[0]
    tenderer, regulator = case.personas.tenderer, case.personas.regulator
    keys.release_key(first.user, case.tender, first.bid.public_id, first.file_key())
    bo = bid_openings(case)[0]
    # Nothing to retry while the decryption has not failed.
    with pytest.raises(Conflict) as early:
        bid_retried.retry_decryption(tenderer, case.tender, first.bid.public_id)
    assert early.value.code == "nothing_to_retry"
    # A store fault: the bid waits out its back-off.
    BidOpening.objects.filter(pk=bo.pk).update(
        faults=3, last_fault="对象存储故障", retry_at=case.clock() + dt.timedelta(seconds=16)
    )
    assert decryption.decrypt_bid(bo.pk) == "nothing to do"
    for other in (regulator, first.user, case.custodians[0]):
        with pytest.raises(PermissionDenied):
            bid_retried.retry_decryption(other, case.tender, first.bid.public_id)
    # Through the API, a manager has it tried now: the worker takes it at once.
    answered = post(client_for(tenderer), url(case, f"/bids/{first.bid.public_id}/retry"), {})
    assert answered.status_code == 200 and answered.json()["state"] == "key_ready", answered.content
    bo.refresh_from_db()
    assert bo.retry_at is None
    assert ledger("tendering.opening.decryption_retried") == [{"bid_id": str(first.bid.public_id), "was": "key_ready"}]
    assert decryption.decrypt_bid(bo.pk) == "opened"
    with pytest.raises(Conflict):
        bid_retried.retry_decryption(tenderer, case.tender, first.bid.public_id)


def test_a_bid_failed_by_the_platform_after_the_window_can_be_retried_until_the_record_is_published(
    opening_case: OpeningCase,
) -> None:
    case = opening_case
    case.at_opening()
    first = case.entries[0]
    keys.release_key(first.user, case.tender, first.bid.public_id, first.file_key())
    op = Opening.objects.get(tender=case.tender)
    bo = bid_openings(case)[0]
    # Its worker died after the window: failed, another cause.
    BidOpening.objects.filter(pk=bo.pk).update(
        state=BidOpeningState.DECRYPTING, lease_until=op.decryption_ends_at, attempts=1
    )
    case.clock.set(op.decryption_ends_at + dt.timedelta(seconds=5))
    assert decryption.decrypt_bid(bo.pk) == "nothing to do"
    bo.refresh_from_db()
    assert (bo.state, bo.outcome_code) == (BidOpeningState.FAILED, "decryption_interrupted")
    # The store is back: the manager retries, and the bid opens after all.
    bid_retried.retry_decryption(case.personas.tenderer, case.tender, first.bid.public_id)
    assert decryption.decrypt_bid(bo.pk) == "opened"
    bo.refresh_from_db()
    assert (bo.state, bo.outcome_code, bo.resolved_at is not None) == (BidOpeningState.OPENED, "", True)
    # A bid the bidder's fault ended is not the platform's to retry.
    BidOpening.objects.filter(pk=bo.pk).update(state=BidOpeningState.REVOKED, outcome_code="bid_not_decryptable")
    with pytest.raises(Conflict):
        bid_retried.retry_decryption(case.personas.tenderer, case.tender, first.bid.public_id)
