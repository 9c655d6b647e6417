"""At the deadline one instant has one answer: acceptance is decided under the tender's row lock.

PostgreSQL only (SQLite serializes whole-database writes, which proves nothing here).
"""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from accounts.errors import WrongPhase
from tendering.models import Bid, BidUploadState, Tender
from tendering.services import bids
from tests.bids.conftest import seal, upload

pytestmark = pytest.mark.django_db(transaction=True)


def waiting_for_a_lock() -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return bool(cursor.fetchone()[0])


def test_a_finalize_waiting_on_the_lock_when_the_deadline_passes_is_refused(
    personas, published_tender, bidder_a_keys, tmp_path, frozen_clock
):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are proved on PostgreSQL")
    sealed = seal(published_tender, bidder_a_keys, tmp_path)
    started = upload(personas.bidder_a, published_tender, sealed.ciphertext, sealed.bid_id)
    lock_taken = threading.Event()
    release = threading.Event()
    outcome: dict[str, object] = {}

    def hold_the_tender_lock() -> None:
        # Another finalize (or withdrawal) of this tender holds the row lock.
        try:
            with transaction.atomic():
                Tender.objects.select_for_update().get(pk=published_tender.pk)
                lock_taken.set()
                release.wait(timeout=30)
                frozen_clock.set(published_tender.bid_deadline)  # the deadline passes while it is held
        finally:
            connections.close_all()

    def finalize() -> None:
        try:
            bids.finalize(personas.bidder_a, started.public_id, sealed.sealed.manifest_bytes, sealed.sealed.signature)
            outcome["result"] = "accepted"
        except WrongPhase as exc:
            outcome["result"] = exc.code
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_tender_lock)
    holder.start()
    assert lock_taken.wait(timeout=30)
    finalizer = threading.Thread(target=finalize)
    finalizer.start()
    for _ in range(300):  # until the finalize waits on the lock (bounded)
        if waiting_for_a_lock():
            break
        time.sleep(0.05)
    else:
        release.set()
        pytest.fail("the finalize never waited on the tender's lock")
    release.set()
    holder.join(timeout=30)
    finalizer.join(timeout=60)
    assert outcome["result"] == "deadline_passed"
    started.refresh_from_db()
    assert started.state == BidUploadState.EXPIRED
    assert not Bid.objects.exists()
