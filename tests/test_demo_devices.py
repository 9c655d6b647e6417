"""`manage.py play_demo --everyone` runs the demo's opening to its end over the platform's API, against the real
platform under Daphne, with a background worker beside it as `make run` has one."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.db import connections
from django.test import override_settings

from archive.ledger import verify_ledger
from archive.models import LedgerEntry
from frontend.demo import DEMO_BIDS, live_demo_opening, load_demo
from frontend.demo_devices import play
from tendering.models import BidOpening, BidOpeningState, Opening
from tendering.services import decryption
from tests.fixtures.live_platform import PlatformLiveServerTestCase


class Worker(threading.Thread):
    """What `manage.py db_worker` does for the opening, in this process: decrypt each bid whose key is ready
    (tendering.tasks.decrypt_bid), until stopped. (db_worker itself installs signal handlers: main thread only.)"""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopped = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopped.is_set():
                ready = BidOpening.objects.filter(state=BidOpeningState.KEY_READY).values_list("pk", flat=True)
                for pk in list(ready):
                    decryption.decrypt_bid(pk)
                time.sleep(0.3)
        except BaseException as exc:
            self.failure = exc
            raise
        finally:
            connections.close_all()


class PlayDemoTest(PlatformLiveServerTestCase):
    def setUp(self) -> None:
        super().setUp()
        var = tempfile.mkdtemp(prefix="etender-demo-var-")
        self.addCleanup(shutil.rmtree, var, ignore_errors=True)
        demo_var = override_settings(VAR_DIR=Path(var))
        demo_var.enable()
        self.addCleanup(demo_var.disable)
        load_demo()

    def test_the_demo_devices_open_every_bid_and_close_the_opening_through_the_api(self) -> None:
        tender = live_demo_opening()
        assert tender is not None
        worker = Worker()
        worker.start()
        said: list[str] = []
        try:
            hall = play(self.live_server_url, tender, pause=0, everyone=True, wait=120, say=said.append)
        finally:
            worker.stopped.set()
            worker.join(timeout=60)
        assert worker.failure is None, worker.failure
        assert [b["state"] for b in hall["bids"]] == ["opened"] * len(DEMO_BIDS), (hall["bids"], said)
        assert hall["moments"]["closed_at"] is not None, said
        assert "  bidder2: released the key of bid 2" in said
        assert any(line.startswith("  custodian2: submitted") for line in said), said
        assert not [line for line in said if "refused" in line], said
        opening = Opening.objects.get(tender=tender)
        assert opening.attendance.count() >= 6
        actions = set(LedgerEntry.objects.filter(case=tender.case).values_list("action", flat=True))
        assert {
            "tendering.opening.key_ready",
            "tendering.opening.custodian_parts_submitted",
            "tendering.opening.closed",
        } <= actions, actions
        assert verify_ledger().ok

    def test_play_demo_refuses_without_a_demo_opening(self) -> None:
        from django.core.management.base import CommandError

        Opening.objects.all().delete()
        tender = live_demo_opening()
        assert tender is not None
        tender.number = "RJ-2026-OTHER"
        tender.save(update_fields=["number"])
        out = StringIO()
        try:
            call_command("play_demo", "--room", "hall", "--url", self.live_server_url, stdout=out)
        except CommandError as exc:
            assert "load_demo" in str(exc)
        else:
            raise AssertionError("play_demo ran without a demo opening")
