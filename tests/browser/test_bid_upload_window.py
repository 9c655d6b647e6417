"""The bid page's upload in Chromium, on the real platform under Daphne: parts a window at a time.

A bid of three parts (8 MiB each, the last less). The platform takes up to
``part_window`` (4) parts at once, so the page sends all three without waiting
for one to be confirmed before the next. Part 1 is answered 409
``part_in_progress`` (as the platform answers while an earlier request is still
delivering that part) once, and until parts 2 and 3 have been sent: a page that sent the
parts one after another would never get past part 1 and pause the upload.
Part 2's first attempt meets a store outage, 503 with ``Retry-After: 3``: the
page waits those 3 s, not its own 1 s. The page retries both, the bid is
accepted and its receipt verified; the platform stored each part once.

Screenshots go to ``test-output/screenshots/test_bid_upload_window/``.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

from tendering.models import Bid, BidStatus, BidUpload
from tests.browser.test_browser_sealing import CHINESE, BidPageCase
from tests.browser.test_publish_and_enquire import Screens
from tests.fixtures.live_platform import requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium]

IN_PROGRESS = "分片 1 正在接收中，请稍后查询上传状态。"
OUTAGE = "文件存储暂时不可用，请稍后重试。"

# Every text the status line shows, in order: several parts in flight overwrite it quickly.
RECORD_STATUSES = """() => {
  window.__statuses = [];
  const status = document.getElementById("status");
  new MutationObserver(() => window.__statuses.push(status.textContent))
    .observe(status, { childList: true, characterData: true, subtree: true });
}"""


class BidUploadWindowTest(BidPageCase):
    def test_the_page_sends_parts_a_window_at_a_time_and_waits_out_a_part_in_progress_and_an_outage(self) -> None:
        shot = Screens("test_bid_upload_window")
        words = CHINESE
        content = os.urandom(20 * 1024 * 1024)  # three parts of the server's 8 MiB once sealed
        puts: list[str] = []  # the part of every PUT the page sends, in the order it sends them
        refused = {"1": 0, "2": 0}

        def record(request: Any) -> None:
            if request.method == "PUT" and "/parts/" in request.url:
                puts.append(request.url.rsplit("/", 1)[1])

        def refuse(route: Any, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
            route.fulfill(
                status=status,
                headers={"Content-Type": "application/json", **(headers or {})},
                body=json.dumps({"code": code, "message": message}),
            )

        def part_one(route: Any) -> None:
            # "Still being received" at first, and until the page has sent the parts behind it.
            if refused["1"] and "2" in puts and "3" in puts:
                route.continue_()
            else:
                refused["1"] += 1
                refuse(route, 409, "part_in_progress", IN_PROGRESS)

        def part_two(route: Any) -> None:
            if refused["2"]:
                route.continue_()
            else:
                refused["2"] += 1
                refuse(route, 503, "store_unavailable", OUTAGE, {"Retry-After": "3"})

        with self.chromium():
            page = self.new_page(words)
            page.on("request", record)
            self.sign_in(page, words, shot)
            self.open_bid_page(page, words, shot)
            self.make_browser_keys(page, words, shot)
            page.locator("#bid-files").set_input_files(
                files=[{"name": "投标文件.zip", "mimeType": "application/zip", "buffer": content}]
            )
            self.fill_prices(page, {"1": ("5000000.00", "200", "", ""), "2": ("1500000.00", "90", "", "")})
            page.evaluate(RECORD_STATUSES)
            page.route("**/api/bids/uploads/*/parts/1", part_one)
            page.route("**/api/bids/uploads/*/parts/2", part_two)
            page.get_by_role("button", name=words["seal"]).click()
            self.wait_verified(page, words)
            shot(page, "accepted-after-retries")
            statuses: list[str] = page.evaluate("() => window.__statuses")
            assert page.locator("#status").inner_text() == "投标文件已受理。"

        # Parts 2 and 3 went while part 1 was still unconfirmed: sent a window at a time, not one by one.
        assert refused["1"] >= 1 and refused["2"] == 1, refused
        assert puts.count("1") == refused["1"] + 1, puts
        assert puts.count("2") == 2 and puts.count("3") == 1, puts
        last_part_one = len(puts) - 1 - puts[::-1].index("1")
        assert puts.index("2") < last_part_one and puts.index("3") < last_part_one, puts
        # What the page said while it waited: the platform's reason, and the outage's Retry-After, not 1 s.
        assert any("第 1 个分片" in text and IN_PROGRESS in text for text in statuses), statuses
        assert any(re.search(rf"第 2 个分片：{OUTAGE} 3 秒后重试", text) for text in statuses), statuses
        bid = Bid.objects.get(tender__public_id=self.tender_id)
        assert bid.status == BidStatus.ACCEPTED
        upload = BidUpload.objects.get(bid_id=bid.public_id)
        assert upload.expected_parts == 3
        assert upload.received_parts == 3 and upload.parts.count() == 3
        assert upload.received_bytes == bid.size
