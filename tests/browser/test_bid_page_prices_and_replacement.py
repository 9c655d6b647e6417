"""The bid page as a bidder meets it, in Chromium at desktop width, on the real platform under Daphne.

(a) Prices are read as the CLI reads them: a price with separators is refused, a
    whole-yuan and a one-decimal price are taken; a bidder prices one lot of the
    two and leaves the other blank. The form is empty after the acceptance.
(b) Submitting again asks first, naming the standing bid and the prices this
    browser sealed into it; "no" submits nothing, "yes" replaces it. The
    withdrawal then gets its own receipt, checked in the page, and what the page
    showed of the submission (progress, receipt) is gone.
(c) A bid larger than the platform takes is refused before sealing starts, with one message.
(d) A failed upload says the bid was not submitted; at the deadline the page closes
    itself (no form, no withdrawal, no resume) and points to the opening hall.

Screenshots of every step go to ``test-output/screenshots/<test>/``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import pytest
from django.db import connection

from tendering.models import Bid, BidStatus, BidUpload, Tender
from tests.browser.test_browser_sealing import CHINESE, BidPageCase
from tests.browser.test_publish_and_enquire import Screens
from tests.fixtures.live_platform import requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium]

MAX_BID_BYTES = 3 * 1024 * 1024


class BidPagePricesAndReplacementTest(BidPageCase):
    # Small enough for a test file to exceed; fixed before the server's fork.
    extra_settings: ClassVar[dict[str, Any]] = {"BID_MAX_BYTES": MAX_BID_BYTES}

    def db(self, query: Callable[[], Any]) -> Any:
        """Runs ``query`` in a thread of its own: while Playwright's sync API runs, this thread counts as async."""

        def run() -> Any:
            try:
                return query()
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=1) as thread:
            return thread.submit(run).result()

    def uploads(self) -> int:
        return int(self.db(BidUpload.objects.count))

    def ready_page(self, shot: Screens) -> Any:
        page = self.new_page(CHINESE)
        self.sign_in(page, CHINESE, shot)
        self.open_bid_page(page, CHINESE, shot)
        self.make_browser_keys(page, CHINESE, shot)
        return page

    def choose(self, page: Any, name: str, size: int = 4096) -> None:
        page.locator("#bid-files").set_input_files(
            files=[{"name": name, "mimeType": "application/pdf", "buffer": os.urandom(size)}]
        )

    def seal(self, page: Any) -> None:
        page.get_by_role("button", name=CHINESE["seal"]).click()

    def opened_lots(self, bid_id: str) -> list[tuple[str, str, int, dict[str, str]]]:
        with tempfile.TemporaryDirectory() as folder:
            _, opened = self.open_stored_bid(Path(folder) / "opened", bid_id)
        return [(lot.lot, lot.price_yuan, lot.schedule_days, dict(lot.declared)) for lot in opened.price_summary.lots]

    # --- (a) and (b) ----------------------------------------------------------------------------------------

    def test_cli_prices_one_lot_a_confirmed_replacement_and_a_withdrawal_receipt(self) -> None:
        shot = Screens("test_bid_page_prices_and_replacement")
        with self.chromium():
            page = self.ready_page(shot)
            self.choose(page, "技术标.pdf")
            # Refused as the CLI refuses it: separators. Nothing is sealed.
            page.locator("#price-1").fill("3,050,000")
            self.seal(page)
            assert "不带逗号" in page.locator("#price-1-error").inner_text()
            assert page.locator("#price-2").get_attribute("aria-invalid") is None  # a blank lot is not bid for
            assert page.locator("#progress-section").is_hidden()
            shot(page, "separators-refused")
            # One decimal, no schedule (0 days, as the CLI's default), lot 2 left blank.
            page.locator("#price-1").fill("3050000.5")
            self.seal(page)
            self.wait_verified(page, CHINESE)
            shot(page, "one-lot-one-decimal-accepted")
            first = page.locator("#bids-body tr").first.get_attribute("data-bid")
            # The form is empty again: a second click cannot submit the same bid once more.
            assert page.locator("#price-1").input_value() == ""
            assert page.locator("#file-list li").count() == 0
            assert self.dialogs == []  # nothing stood before: nothing asked
            self.seal(page)
            assert "请至少选择一个文件" in page.locator("#bid-files-error").inner_text()
            assert self.uploads() == 1

            # A whole-yuan price for lot 2 only. The page asks first, naming the standing bid and its price.
            self.choose(page, "技术标-修订.pdf")
            page.locator("#price-2").fill("3050000")
            page.locator("#days-2").fill("90")
            self.answer_no = 1
            self.seal(page)
            page.wait_for_function(
                "text => document.getElementById('status').textContent === text", arg="未提交：现有的投标文件保持不变。"
            )
            assert len(self.dialogs) == 1
            question = self.dialogs[0]
            assert first in question and "标段 1 3,050,000.50 元" in question and "替换" in question
            assert self.uploads() == 1  # "no": nothing sealed, nothing sent
            shot(page, "replacement-declined")
            self.seal(page)  # the form kept its values after the "no"; this time "yes"
            page.wait_for_function("() => document.querySelectorAll('#bids-body tr').length === 2")
            self.wait_verified(page, CHINESE)
            assert len(self.dialogs) == 2 and first in self.dialogs[1]
            shot(page, "replaced")
            rows = page.locator("#bids-body tr")
            second = rows.first.get_attribute("data-bid")
            assert [rows.nth(i).get_attribute("data-status") for i in range(2)] == ["accepted", "superseded"]

            # The withdrawal: its own receipt, and nothing left of the submission's progress or receipt.
            rows.first.locator("button.withdraw").click()
            page.wait_for_selector("#receipt-verdict[data-receipt=withdrawal][data-verified=true]")
            assert page.locator("#receipt-heading").inner_text() == "撤回回执"
            assert page.locator("#receipt-checks .check-failed").count() == 0
            assert page.locator("#receipt-checks .check-ok").count() == 7
            assert "已撤回" in page.locator("#receipt-facts").inner_text()
            assert page.locator("#status").inner_text() == f"投标文件 {second} 已撤回。"
            assert page.locator("#upload-progress-text").inner_text() == ""
            assert page.locator("#seal-progress-text").inner_text() == ""
            assert page.locator("#receipt-download").get_attribute("download") == f"withdrawal-receipt-{second}.json"
            withdrawn_row = page.locator(f"#bids-body tr[data-bid='{second}']")
            assert withdrawn_row.get_attribute("data-status") == "withdrawn"
            assert withdrawn_row.locator("button.withdraw").count() == 0
            shot(page, "withdrawn-with-receipt")
            # The submission's receipt of the same bid is still there to check, beside the withdrawal's.
            withdrawn_row.locator("button.verify").click()
            page.wait_for_selector("#receipt-verdict[data-receipt=bid][data-verified=true]")
            withdrawn_row.locator("button.verify-withdrawal").click()
            page.wait_for_selector("#receipt-verdict[data-receipt=withdrawal][data-verified=true]")

        assert self.opened_lots(first) == [("1", "3050000.50", 0, {})]
        assert self.opened_lots(second) == [("2", "3050000.00", 90, {})]
        statuses = dict(Bid.objects.values_list("public_id", "status"))
        assert {str(k): v for k, v in statuses.items()} == {first: BidStatus.SUPERSEDED, second: BidStatus.WITHDRAWN}

    # --- (c) ------------------------------------------------------------------------------------------------

    def test_an_oversized_bid_is_refused_before_sealing_with_one_message(self) -> None:
        shot = Screens("test_bid_page_oversized")
        with self.chromium():
            page = self.ready_page(shot)
            sealing: list[str] = []
            page.on("worker", lambda worker: sealing.append(worker.url))
            self.choose(page, "图纸.pdf", MAX_BID_BYTES + 200 * 1024)
            page.locator("#price-1").fill("1200000")
            self.seal(page)
            message = page.locator("#bid-files-error")
            message.wait_for()
            assert re.match(
                r"投标文件过大：所选文件密封后共 3\.\d\d MiB，超过平台上限 3\.00 MiB。", message.inner_text()
            )
            assert page.locator(".errorlist:not([hidden])").count() == 1  # one message, nothing else
            assert page.locator("#progress-section").is_hidden()
            assert sealing == []  # no sealing worker started
            shot(page, "oversized-refused")
        assert not BidUpload.objects.exists() and not Bid.objects.exists()

    # --- (d) ------------------------------------------------------------------------------------------------

    def test_a_failed_upload_and_the_deadline_leave_no_stale_status(self) -> None:
        shot = Screens("test_bid_page_stale_status")
        with self.chromium():
            page = self.ready_page(shot)
            self.choose(page, "技术标.pdf")
            page.locator("#price-1").fill("2000000")
            self.seal(page)
            self.wait_verified(page, CHINESE)
            # The next submission's finalize is refused by the platform.
            refuse = {"on": True}

            def finalize(route: Any) -> None:
                if refuse["on"]:
                    route.fulfill(
                        status=409,
                        content_type="application/json",
                        body='{"code": "upload_incomplete", "message": "尚未收到全部分片。"}',
                    )
                else:
                    route.continue_()

            page.route("**/api/bids/uploads/*/finalize", finalize)
            self.choose(page, "技术标-修订.pdf")
            page.locator("#price-1").fill("1900000")
            self.seal(page)
            page.wait_for_selector("#error:not([hidden])")
            assert "尚未收到全部分片" in page.locator("#error").inner_text()
            assert page.locator("#status").inner_text() == "上传未完成，投标文件未提交。"
            assert page.locator("#receipt-section").is_hidden()  # no receipt of the earlier bid beside it
            shot(page, "upload-failed")
            refuse["on"] = False

            # The deadline comes while the page is open (the platform's clock decides).
            deadline = dt.datetime.now(tz=dt.UTC) + dt.timedelta(seconds=15)
            self.db(
                lambda: Tender.objects.filter(public_id=self.tender_id).update(
                    enquiry_deadline=deadline - dt.timedelta(days=1), bid_deadline=deadline, opening_time=deadline
                )
            )
            page.reload()
            page.wait_for_selector("body[data-bid-page=ready]")
            assert page.locator("#resume").is_visible()  # still offered before the deadline
            assert page.locator("#bids-body button.withdraw").count() == 1
            page.wait_for_selector("#deadline-state[data-closed=true]", timeout=45_000)
            note = page.locator("#deadline-state").inner_text()
            assert "截止" in note and "开标已开始" in note
            hall = page.locator("#hall-link")
            assert hall.get_attribute("href") == f"/tenders/{self.tender_id}/opening/"
            assert page.locator("#bid-form").is_hidden()
            assert page.locator("#resume").is_hidden()
            assert page.locator("#bids-body button.withdraw").count() == 0
            assert page.locator("#bids-body tr").first.get_attribute("data-status") == "accepted"
            shot(page, "closed-at-the-deadline")
        assert Bid.objects.filter(status=BidStatus.ACCEPTED).count() == 1
