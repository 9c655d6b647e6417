"""An object store that fails the opening's reads for about 20 s, then recovers: every bid opens (issue 7, item 4),
one of them through custodians one of whom found a garbage part in it (item 3).

The real worker (``manage.py db_worker``, its own process) decrypts real bids; the filesystem object store
cannot find the bids' ciphertexts (each one's folder moved aside, as a lost volume would answer) until the test
puts the folders back. The opening writes nothing to the store (no second copy), so reading is what can fail.
Faults of the platform's own are retried with back-off
until the decryption window ends; none counts against a bid.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from archive.models import LedgerEntry
from archive.storage import get_object_store
from archive.storage.filesystem import FilesystemObjectStore
from config import clock
from tendering.models import BidOpening, BidOpeningState, Tender
from tendering.services.opening import admission, keys
from tests.fixtures.personas import Personas
from tests.opening.conftest import OpeningCase, make_case
from tests.opening.test_worker_crash import Workers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

OUTAGE_SECONDS = 20


@pytest.fixture
def worker_processes(tmp_path: Path) -> Any:
    started = Workers(tmp_path)
    try:
        yield started
    finally:
        started.kill_all()  # before the test database is flushed


@pytest.fixture
def one_garbage_part(
    personas: Personas, published_tender: Tender, frozen_clock: Any, tmp_path: Path, third_bidder: User
) -> OpeningCase:
    # Bidder B spoiled custodian 1's (index 0) part of subset [0, 1].
    return make_case(
        personas,
        published_tender,
        frozen_clock,
        tmp_path,
        third_bidder,
        {2: lambda members, j: members == (0, 1) and j == 0},
    )


def test_a_store_that_refuses_writes_for_20_s_then_recovers_leaves_every_bid_opened(
    one_garbage_part: OpeningCase, worker_processes: Workers, settings: Any
) -> None:
    case, workers = one_garbage_part, worker_processes
    store = get_object_store()
    assert isinstance(store, FilesystemObjectStore), "the worker shares this test's filesystem store"
    offset = math.ceil((case.tender.opening_time + dt.timedelta(minutes=1) - dt.datetime.now(dt.UTC)).total_seconds())
    with clock.use_clock(clock.system_now):
        settings.CLOCK_OFFSET_SECONDS = offset
        op = admission.ensure_opening(case.tender)
        # The store breaks: each bid's ciphertext is out of its reach.
        blocked: list[tuple[Path, Path]] = []
        for entry in case.entries:
            folder = store._key_dir(entry.bid.object_key)
            aside = folder.with_name(folder.name + ".unreachable")
            folder.rename(aside)
            blocked.append((folder, aside))
        # A and C release their keys; B's bid (one garbage part in it) is left to the custodians' own clients,
        # which send a signed statement for that part and every other part at once.
        for entry in (case.entries[0], case.entries[2]):
            keys.release_key(entry.user, case.tender, entry.bid.public_id, entry.file_key())
        assert len(case.submit_as_client(0).refusals) == 1
        assert len(case.submit_as_client(2).refusals) == 0
        assert [b.key_source for b in BidOpening.objects.filter(opening=op).order_by("position")] == [
            "bidder",
            "custodians",
            "bidder",
        ]
        workers.start(offset)
        started = time.monotonic()
        workers.wait_for(
            "every bid to meet the broken store twice",
            lambda: BidOpening.objects.filter(opening=op, faults__gte=2).count() == 3,
        )
        workers.wait_for("the outage to last its 20 s", lambda: time.monotonic() - started >= OUTAGE_SECONDS, pause=0.5)
        during = list(BidOpening.objects.filter(opening=op).order_by("position"))
        assert all(b.state in (BidOpeningState.KEY_READY, BidOpeningState.DECRYPTING) for b in during), [
            b.state for b in during
        ]
        assert all(b.faults >= 3 for b in during), [b.faults for b in during]
        # The store recovers.
        for folder, aside in blocked:
            aside.rename(folder)
        workers.wait_for(
            "every bid to open",
            lambda: BidOpening.objects.filter(opening=op, state=BidOpeningState.OPENED).count() == 3,
        )
    found = list(BidOpening.objects.filter(opening=op).order_by("position"))
    assert [b.state for b in found] == [BidOpeningState.OPENED] * 3
    assert [b.price_summary["lots"][0]["price_yuan"] for b in found] == ["6123456.70", "5980000.00", "6050000.50"]
    faults = [
        json.loads(e.data)
        for e in LedgerEntry.objects.filter(action="tendering.opening.decryption_fault").order_by("seq")
    ]
    assert {f["bid_id"] for f in faults} == {str(b.bid.public_id) for b in found}
    assert all(f["fault"] == "decryption_faults" for f in faults)
    # Each bid's faults were retried with a growing back-off, never past the window, and none ended it.
    for bid in found:
        retries = [dt.datetime.fromisoformat(f["retry_at"]) for f in faults if f["bid_id"] == str(bid.bid.public_id)]
        assert len(retries) == bid.faults >= 3 and all(r <= op.decryption_ends_at for r in retries)
    assert not LedgerEntry.objects.filter(action="tendering.opening.bid_not_opened").exists()
