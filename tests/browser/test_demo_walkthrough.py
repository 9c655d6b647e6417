"""A visitor walks through the demo in Debian's Chromium, as README's "A demo to walk through" tells it.

The demo as ``make run`` loads it (``load_demo``): the visitor signs in as the
demo bidder ``bidder1``, imports its two demo key files (var/demo-keys) on the
browser keys page, which shows them registered, and enters the hall of the
tender at its opening. There it signs in and opens its own bid with the imported
key, in the browser, while ``play_demo`` plays the other devices over the API:
the hall fills live (the others' sign-ins, bidder 2's key, both custodians'
parts, every bid's key ready). Then the same as ``custodian1``: keys imported,
its parts of every bid opened in the browser and submitted. Once the bids are decrypted
and the tenderer ends the decryption, the record shows each price with thousands
separators and in capitals (大写金额).

Screenshots go to ``test-output/screenshots/test_demo_walkthrough/``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.db import connections
from django.test import override_settings

from frontend.demo import demo_password, live_demo_opening, load_demo
from frontend.demo_devices import DemoDevices, play
from tendering.models import Bid, BidOpening, BidOpeningState, Tender
from tendering.services import decryption
from tests.browser.test_browser_sealing import build_frontend
from tests.browser.test_publish_and_enquire import Screens
from tests.fixtures.live_platform import BrowserLiveServerTestCase, requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium]

TIMEOUT_MS = 30_000
T = TypeVar("T")


def run_off_the_main_thread(function: Callable[..., T], *args: Any) -> T:
    """Database work while Chromium runs (Playwright's sync API makes Django count the main thread as async)."""

    def run() -> T:
        try:
            return function(*args)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=120)


def decrypt_ready_bids(tender: Tender) -> list[str]:
    """What the worker does with every bid whose key is ready (tendering.tasks.decrypt_bid)."""
    ready = BidOpening.objects.filter(opening__tender=tender, state=BidOpeningState.KEY_READY).order_by("position")
    return [decryption.decrypt_bid(pk) for pk in ready.values_list("pk", flat=True)]


class DemoWalkThroughTest(BrowserLiveServerTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        build_frontend()
        super().setUpClass()

    def setUp(self) -> None:
        super().setUp()
        self.var = Path(tempfile.mkdtemp(prefix="etender-demo-var-"))
        self.addCleanup(shutil.rmtree, self.var, ignore_errors=True)
        demo_var = override_settings(VAR_DIR=self.var)
        demo_var.enable()
        self.addCleanup(demo_var.disable)
        load_demo()
        tender = live_demo_opening()
        assert tender is not None
        self.tender: Tender = tender
        self.hall_url = f"{self.live_server_url}/tenders/{tender.public_id}/opening/"

    def visitor(self, username: str) -> Any:
        context = self.browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(self.live_server_url + "/login/")
        page.locator("#id_username").fill(username)
        page.locator("#id_password").fill(demo_password(username))
        page.locator("main button[type=submit]").click()
        page.wait_for_url(lambda url: "/login/" not in url)
        return page

    def import_demo_keys(self, page: Any, username: str, shot: Screens) -> None:
        page.goto(self.live_server_url + "/keys/browser/")
        page.wait_for_selector("body[data-keys-page=ready]")
        assert page.locator("#keys-none").is_visible()
        keys = self.var / "demo-keys"
        page.locator("#import-file").set_input_files(
            [str(keys / f"{username}-signing.pem"), str(keys / f"{username}-encryption.pem")]
        )
        page.locator("#import-button").click()
        page.wait_for_selector("body[data-keys-state=registered]")
        assert "已导入本浏览器" in page.locator("#keys-message").inner_text()
        assert page.locator("#keys-body tr").count() == 2
        shot(page, f"{username}-imported-the-demo-keys")
        # The same files again: refused, in words, and the browser's keys stay as they are.
        held = page.locator("#keys-body").inner_text()
        page.locator("#import-file").set_input_files([str(keys / f"{username}-signing.pem")])
        page.locator("#import-button").click()
        page.wait_for_selector("#keys-message.error")
        assert "本浏览器已有这一用途的密钥" in page.locator("#keys-message").inner_text()
        assert page.locator("#keys-body").inner_text() == held

    def play_in_background(self, said: list[str]) -> threading.Thread:
        """The other devices, off the main thread (Playwright's sync API makes Django count it as async)."""

        def run() -> None:
            try:
                play(self.live_server_url, self.tender, pause=0.5, wait=1, say=said.append)
            finally:
                connections.close_all()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def test_a_visitor_imports_the_demo_keys_and_opens_its_bid_in_the_hall_while_the_others_play(self) -> None:
        shot = Screens("test_demo_walkthrough")
        own = str(
            Bid.objects.get(tender=self.tender, bidder__name="江西红土建设工程有限公司", status="accepted").public_id
        )
        said: list[str] = []
        with self.chromium():
            bidder = self.visitor("bidder1")
            self.import_demo_keys(bidder, "bidder1", shot)

            bidder.goto(self.hall_url)
            bidder.wait_for_selector("body[data-hall=live]")
            assert bidder.locator("#bids-body tr").count() == 3
            assert bidder.locator(f"#bids-body tr[data-bid='{own}']").get_attribute("data-own") == "true"
            bidder.locator("#sign-in-button").click()
            bidder.wait_for_selector("#attendance-list li")
            player = self.play_in_background(said)
            bidder.locator("#decrypt-button").click()
            bidder.wait_for_selector(f"#bids-body tr[data-bid='{own}'][data-state='key_ready']")
            shot(bidder, "bidder1-released-its-key")
            # The others' devices, live: five more sign-ins, then every bid's key (bidder 2's, the custodians').
            bidder.wait_for_function("() => document.getElementById('attendance-list').children.length >= 6")
            bidder.wait_for_function(
                "() => [...document.querySelectorAll('#bids-body tr')].every(r => r.dataset.state === 'key_ready')"
            )
            bidder.wait_for_selector("#custodians-body tr[data-custodian='3'][data-submitted=true]")
            shot(bidder, "bidder1-watches-the-hall-fill")
            player.join(timeout=120)
            assert not player.is_alive()
            assert "  bidder2: released the key of bid 2" in said, said

            custodian = self.visitor("custodian1")
            self.import_demo_keys(custodian, "custodian1", shot)
            custodian.goto(self.hall_url)
            custodian.wait_for_selector("body[data-hall=live]")
            custodian.locator("#sign-in-button").click()
            custodian.locator("#parts-button").click()
            custodian.wait_for_selector("#custodians-body tr[data-custodian='1'][data-submitted=true]")
            # Custodian 1 is in subsets {1,2} and {1,3} of three bids: six parts, in one frame.
            assert "已一次提交 6 个密钥分量" in custodian.locator("#action-status").inner_text()
            shot(custodian, "custodian1-submitted-its-parts")

            # The worker decrypts (here, as `make run`'s db_worker would), the tenderer ends the decryption over
            # the API: the record is published, each price with thousands separators and in capitals (大写).
            run_off_the_main_thread(decrypt_ready_bids, self.tender)
            devices = DemoDevices(self.live_server_url, self.tender, pause=0, say=said.append)
            try:
                run_off_the_main_thread(devices.act, "tenderer", "concluded the decryption", "POST", "/conclude")
            finally:
                devices.close()
            row = bidder.locator(f"#bids-body tr[data-bid='{own}']")
            row.locator(".amount-words").first.wait_for()
            assert "5,868,000.00" in row.inner_text()
            assert row.locator(".amount-words").all_inner_texts() == [
                "伍佰捌拾陆万捌仟元整",
                "贰佰叁拾壹万捌仟伍佰元伍角整",
            ]
            shot(bidder, "bidder1-sees-the-record-with-amounts-in-capitals")
            assert bidder.evaluate("document.documentElement.scrollWidth") <= 390
