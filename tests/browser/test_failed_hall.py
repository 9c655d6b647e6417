"""A failed tender in the opening hall, in Debian's Chromium: two bids only, so the close fails the tender.

The bidder's and the tenderer's hall pages are open (each connects by itself at the opening time) while the
opening runs in the test process with the real clock (tests/browser/test_expert_draw.py's ``LiveTenderCase``).
At the close the bidder's page shows, without a reload, 招标失败 with the reason, the counts and the re-tender
instruction; the tenderer's page, reloaded, shows the same from its first snapshot.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

import pytest

from tendering.models import Phase
from tendering.services.outcome import FailureReason
from tests.browser.test_expert_draw import LiveTenderCase
from tests.browser.test_opening_hall import off_the_main_thread
from tests.browser.test_publish_and_enquire import Screens
from tests.fixtures.live_platform import requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium]

# From publication to the deadline: two bids sealed and submitted.
LEAD_SECONDS = 10


class FailedHallTest(LiveTenderCase):
    def test_the_hall_shows_the_failure_live_and_after_a_reload(self) -> None:
        shot = Screens("test_failed_hall")
        folder = Path(tempfile.mkdtemp(prefix="etender-failed-bids-"))
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        with self.chromium():
            tenderer = self.browser_of("tenderer")
            bidder = self.browser_of("bidder_a")
            tender = off_the_main_thread(self.publish, LEAD_SECONDS, "RJ-2026-ZJ-002", "瑞金市壬田镇桥梁维修工程")
            sealed = off_the_main_thread(self.bid, tender, folder, 2)
            assert dt.datetime.now(tz=dt.UTC) < tender.bid_deadline, "sealing two bids took longer than LEAD_SECONDS"
            hall_url = f"{self.live_server_url}/tenders/{tender.public_id}/opening/"
            for page in (tenderer, bidder):
                page.goto(hall_url)
            self.wait_for_the_deadline(tender)
            for page in (tenderer, bidder):
                page.wait_for_selector('body[data-hall="live"]')
                assert page.is_hidden("#failed-section")

            failed = off_the_main_thread(self.open_and_close, tender, sealed)
            assert failed.phase(dt.datetime.now(tz=dt.UTC)) == Phase.FAILED

            # Live: the bidder's page, never reloaded.
            bidder.wait_for_selector("#failed-section:not([hidden])")
            shown = bidder.inner_text("#failed-section")
            assert "招标失败" in shown
            assert str(FailureReason.TOO_FEW_OPENED.label) in shown
            assert "开标后有效投标 2 家（共 2 份投标文件）" in shown
            assert "招标人应当依法重新招标" in shown
            assert bidder.inner_text("#hall-phase") == "开标已结束。"
            shot(bidder, "bidder-live")
            # On reload: the tenderer's page from its first snapshot.
            tenderer.reload()
            tenderer.wait_for_selector('body[data-hall="live"]')
            tenderer.wait_for_selector("#failed-section:not([hidden])")
            assert tenderer.inner_text("#failed-section") == shown
            shot(tenderer, "tenderer-reloaded")
