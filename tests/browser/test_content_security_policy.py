"""Chromium enforces the platform's Content-Security-Policy, and the browser tests see every violation.

Every browser test (tests/fixtures/live_platform.py) collects the pages'
``securitypolicyviolation`` events and Chromium's console errors about the
policy, and fails on any: the bid page sealing a bid, the keys page, the
opening hall (tests/browser/test_browser_sealing.py, test_opening_hall.py) run
under the policy without one. This test shows that the collector does catch a
violation, that the policy blocks what an injected script would try, and that the
pages that hold keys load and run their scripts without a violation.
"""

from __future__ import annotations

from typing import Any

import pytest

from accounts import credit_code
from accounts.models import Organization, OrganizationKind, Role, RoleGrant, User
from tests.fixtures.live_platform import BrowserLiveServerTestCase, requires_chromium
from tests.fixtures.personas import PASSWORD

pytestmark = [pytest.mark.browser, requires_chromium]

INJECTIONS = """() => {
  window.__ran = [];
  window.__refused = 0;
  document.addEventListener("securitypolicyviolation", () => window.__refused++);
  const inline = document.createElement("script");
  inline.textContent = "window.__ran.push('inline script')";
  document.body.append(inline);
  document.body.insertAdjacentHTML(
    "beforeend", '<img src="/static/none.png" onerror="window.__ran.push(\\'handler\\')">'
  );
  // A string timer is eval run by the page itself (Playwright's own evaluate is exempt from the policy).
  setTimeout("window.__ran.push('string timer')", 0);
  const foreign = document.createElement("script");
  foreign.src = "https://cdn.example.invalid/x.js";
  document.body.append(foreign);
}"""


class ContentSecurityPolicyInChromiumTest(BrowserLiveServerTestCase):
    def setUp(self) -> None:
        super().setUp()
        org = Organization.objects.create(
            name="江西红土建设工程有限公司",
            kind=OrganizationKind.BIDDER,
            credit_code=credit_code.make("91360781MD0000001"),
        )
        self.bidder = User.objects.create_user(
            username="wanglei", password=PASSWORD, display_name="王磊", organization=org
        )
        RoleGrant.objects.create(user=self.bidder, role=Role.BIDDER)

    def page(self) -> Any:
        context = self.browser.new_context(locale="zh-CN")
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        return page

    def test_the_policy_blocks_injected_scripts_and_the_collector_reports_them(self) -> None:
        with self.chromium():
            page = self.page()
            response = page.goto(self.live_server_url + "/login/")
            assert "script-src 'self'" in response.headers["content-security-policy"]
            page.evaluate(INJECTIONS)
            page.wait_for_function("() => window.__refused >= 4")
            assert page.evaluate("() => window.__ran") == []
            caught = list(self.csp_violations)
            self.csp_violations.clear()  # expected here; any other test fails on them
        assert any(v.startswith("script-src-elem blocked inline") for v in caught), caught
        assert any(v.startswith("script-src-attr blocked inline") for v in caught), caught
        assert any(v.startswith("script-src blocked eval") for v in caught), caught
        assert any("cdn.example.invalid" in v for v in caught), caught

    def test_the_pages_that_hold_keys_run_their_scripts_without_a_violation(self) -> None:
        with self.chromium():
            page = self.page()
            page.goto(self.live_server_url + "/login/")
            page.locator("#id_username").fill(self.bidder.username)
            page.locator("#id_password").fill(PASSWORD)
            page.locator("main button[type=submit]").click()
            page.wait_for_load_state()
            page.goto(self.live_server_url + "/keys/browser/")
            page.wait_for_selector("body[data-keys-page=ready]")
            page.goto(self.live_server_url + "/keys/")
            page.goto(self.live_server_url + "/dashboard/")
        assert self.csp_violations == []

    def test_the_api_docs_and_the_admin_work_under_the_policy(self) -> None:
        User.objects.create_superuser("root", "root@example.org", "Root-Password-2026")
        with self.chromium():
            page = self.page()
            page.goto(self.live_server_url + "/api/docs")
            page.wait_for_selector("#swagger-ui .information-container")
            page.goto(self.live_server_url + "/admin/login/")
            page.locator("#id_username").fill("root")
            page.locator("#id_password").fill("Root-Password-2026")
            page.locator("input[type=submit]").click()
            page.wait_for_selector("#site-name")
            page.goto(self.live_server_url + "/admin/accounts/user/")
            page.wait_for_selector("#result_list")
        assert self.csp_violations == []
