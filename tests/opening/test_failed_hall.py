"""A failed tender in the opening hall: the close finds two valid bids of three, and every participant hears
``tender.failed`` (reason, counts, when) right after the moments that say the opening closed; the page's reducer
(frontend/js/lib/hall-reducer.js, under Node) turns each old snapshot and those events into the fresh snapshot,
whose ``failure`` a page loaded later shows too. The recording is checked in as
tests/js/fixtures/hall-failed-frames.json (refreshed with ``ETENDER_RECORD_HALL_FRAMES=1``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async

from tendering import hall_protocol
from tendering.models import Opening, Tender
from tendering.services.opening import conclusion, keys
from tendering.services.outcome import FailureReason
from tests.js.conftest import run_node_test
from tests.opening.conftest import OpeningCase
from tests.opening.test_hall_consumer import (
    REDUCER_TEST,
    ROOT,
    Sockets,
    frame,
    hall_case,  # noqa: F401 - the fixture
    hall_state,
    on_the_wire,
    reply_to,
    run_worker,
    snapshot_of,
    sockets,  # noqa: F401 - the fixture
)

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

FAILED_FRAMES = ROOT / "tests" / "js" / "fixtures" / "hall-failed-frames.json"


def release_two_and_reach_the_close(case: OpeningCase) -> None:
    """Bidders a and b release their keys and are opened; the third never does (revoked at the conclusion)."""
    for entry in case.entries[:2]:
        keys.release_key(entry.user, case.tender, entry.bid.public_id, entry.file_key())


@database_sync_to_async
def conclude_when_the_window_ends(case: OpeningCase) -> None:
    opening = Opening.objects.get(tender=case.tender)
    case.clock.set(opening.decryption_ends_at)
    conclusion.conclude_decryption(case.personas.tenderer, case.tender)
    opening.refresh_from_db()
    assert opening.confirmation_ends_at is not None
    case.clock.set(opening.confirmation_ends_at)


async def test_every_participant_hears_the_tender_fail_and_a_later_snapshot_shows_it(
    hall_case: OpeningCase,  # noqa: F811
    sockets: Sockets,  # noqa: F811
    tmp_path: Path,
) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed, so the page's reducer cannot be run")
    case = hall_case
    watchers = {
        "bidder": case.entries[0].user,
        "bidder never released": case.entries[2].user,
        "supervisor": case.personas.regulator,
        "custodian": case.custodians[0],
    }
    listening = {}
    old: dict[str, dict[str, Any]] = {}
    for who, user in watchers.items():
        listening[who], _hello = await sockets.enter(user, case.tender.public_id)
        old[who] = await snapshot_of(listening[who])
        assert old[who]["failure"] is None
    tenderer, _seq = await sockets.following(case.personas.tenderer, case.tender)

    await database_sync_to_async(release_two_and_reach_the_close)(case)
    assert await run_worker(case.tender) == ["opened", "opened"]
    await conclude_when_the_window_ends(case)
    assert await reply_to(tenderer, {"type": "close_opening", "ref": "x"}) == {"type": "ok", "ref": "x"}

    last_seq, _count, states = await hall_state(case.tender)
    assert states == ["opened", "opened", "revoked"]
    tender = await database_sync_to_async(Tender.objects.get)(pk=case.tender.pk)
    assert tender.failed_at is not None and tender.failure_reason == FailureReason.TOO_FEW_OPENED
    expected = {"reason": "too_few_opened", "opened": 2, "bids": 3, "failed_at": on_the_wire(tender.failed_at)}
    recordings = []
    for who, communicator in listening.items():
        events: list[dict[str, Any]] = []
        while not events or events[-1]["seq"] < last_seq:
            events.append(await frame(communicator))
        # The close's moments, then the failure: the last two events every participant hears.
        assert [e["kind"] for e in events[-2:]] == ["opening.moments", "tender.failed"], who
        assert events[-2]["data"]["closed_at"] is not None
        assert events[-1]["data"] == expected, who
        fresh = await snapshot_of(communicator)
        assert fresh["failure"] == expected
        recordings.append({"who": who, "old": old[who], "events": events, "fresh": fresh})

    # A page loaded after the close (a reload) gets the failure in its first snapshot.
    later, _hello = await sockets.enter(case.personas.tenderer, case.tender.public_id)
    assert (await snapshot_of(later))["failure"] == expected

    recorded = tmp_path / "hall-failed-frames.json"
    text = json.dumps({"event_kinds": sorted(hall_protocol.EVENTS), "recordings": recordings}, ensure_ascii=False)
    recorded.write_text(text, encoding="utf-8")
    if os.environ.get("ETENDER_RECORD_HALL_FRAMES"):
        FAILED_FRAMES.write_text(json.dumps(json.loads(text), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    run_node_test(node, REDUCER_TEST, {"HALL_FRAMES": str(recorded)})
