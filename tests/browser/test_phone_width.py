"""Every page of every role fits a phone (390×844) and a desktop, in Debian's Chromium.

The pages come from the URLconf (``frontend.urls``): every named page is visited
by every role with the demo's data (``load_demo``: a tender open for bids, a
tender at its opening with sealed bids). A route that is not a page (a form's
POST target, a download) is named in ``NOT_PAGES`` with the reason; a new route
in neither list fails the test, so a new page is not forgotten.

At phone width some roles read the pages in English too (longer words).
On each page that the role may see (HTTP 200) the test asserts that nothing
scrolls sideways (``document.documentElement.scrollWidth <= innerWidth``) and that
no Chinese text is squeezed into a column narrower than two characters (which
breaks it one character per line), and saves a full-page screenshot to
``test-output/screenshots/test_phone_width/<width>/<role>-<language>-<page>.png``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import URLPattern, reverse

from frontend import urls as frontend_urls
from frontend.demo import demo_password, load_demo
from tendering.models import Tender
from tests.fixtures.live_platform import BrowserLiveServerTestCase, requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium]

SCREENSHOTS = Path(settings.BASE_DIR) / "test-output" / "screenshots" / "test_phone_width"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
ROLES = [None, "tenderer", "agent", "bidder1", "custodian1", "regulator", "expert1"]
# English words are longer: at phone width, some roles read the pages in English too.
ENGLISH_ROLES = [None, "tenderer", "bidder1", "custodian1"]

# Routes of frontend.urls that are not pages a person reads, and why.
NOT_PAGES = {
    "logout": "a POST that signs out",
    "notifications-read": "a POST that marks notifications read",
    "key-revoke": "a POST that revokes a key",
    "token-revoke": "a POST that revokes a token",
    "entrustment-revoke": "a POST that revokes an entrustment",
    "document-download": "a file download, not a page",
    "document-remove": "a POST that removes a document",
    "tender-publish": "a POST that publishes a draft",
    "question-ask": "a POST that asks a question",
    "question-answer": "a POST that answers a question",
    "evaluation-bid-file": "a bid's file, read by byte ranges by the session's document viewer",
}

# Run in the page: what scrolls sideways, and which Chinese text sits in a box narrower than two characters.
MEASURE = """(width) => {
  const wide = [];
  for (const element of document.querySelectorAll("body *")) {
    const box = element.getBoundingClientRect();
    if (box.width && box.right > width + 1 && getComputedStyle(element).position !== "fixed") {
      let scroller = element.parentElement;
      const scrolls = (e) => ["auto", "scroll"].includes(getComputedStyle(e).overflowX);
      while (scroller && !scrolls(scroller)) scroller = scroller.parentElement;
      if (!scroller) wide.push(`${element.tagName.toLowerCase()}.${element.className}`);
    }
  }
  const squeezed = [];
  const cjk = /[\\u4e00-\\u9fff]{2}/;
  for (const element of document.querySelectorAll("th, td, dt, dd, li, p, h1, h2, h3, label, legend, button, a")) {
    const own = [...element.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join("").trim();
    if (!cjk.test(own) || !element.getClientRects().length || element.closest(".visually-hidden")) continue;
    const style = getComputedStyle(element);
    const inner = element.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    if (element.clientWidth && inner < 1.8 * parseFloat(style.fontSize)) {
      squeezed.push(`${element.tagName.toLowerCase()}: ${own.slice(0, 20)}`);
    }
  }
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    wide: wide.slice(0, 8),
    squeezed: squeezed.slice(0, 8),
  };
}"""


def page_routes() -> list[URLPattern]:
    return [p for p in frontend_urls.urlpatterns if isinstance(p, URLPattern)]


class EveryPageFitsTest(BrowserLiveServerTestCase):
    def setUp(self) -> None:
        super().setUp()
        var = tempfile.mkdtemp(prefix="etender-demo-var-")
        self.addCleanup(shutil.rmtree, var, ignore_errors=True)
        demo_var = override_settings(VAR_DIR=Path(var))
        demo_var.enable()
        self.addCleanup(demo_var.disable)
        load_demo()

    def urls(self) -> list[tuple[str, str]]:
        """(name, path) of every page, with the demo's objects as arguments (each tender for a tender's page)."""
        tenders = list(Tender.objects.order_by("pk"))
        assert tenders, "the demo has no tender"
        names = {p.name for p in page_routes()}
        unknown = names - NOT_PAGES.keys()
        found: list[tuple[str, str]] = []
        for pattern in page_routes():
            if pattern.name in NOT_PAGES:
                continue
            arguments = set(pattern.pattern.converters)
            if not arguments:
                found.append((pattern.name, reverse(f"frontend:{pattern.name}")))
            elif arguments == {"public_id"}:
                found += [
                    (f"{pattern.name}-{t.number}", reverse(f"frontend:{pattern.name}", args=[t.public_id]))
                    for t in tenders
                ]
            else:
                raise AssertionError(
                    f"route {pattern.name} takes {arguments}: give it objects here or name it in NOT_PAGES"
                )
            unknown.discard(pattern.name)
        assert not unknown, f"routes neither visited nor named in NOT_PAGES: {unknown}"
        assert NOT_PAGES.keys() <= names, f"NOT_PAGES names routes that are gone: {NOT_PAGES.keys() - names}"
        return found

    def sign_in(self, context: Any, username: str) -> None:
        page = context.new_page()
        page.goto(self.live_server_url + reverse("frontend:login"))
        page.locator("#id_username").fill(username)
        page.locator("#id_password").fill(demo_password(username))
        page.locator("main button[type=submit]").click()
        page.wait_for_url(lambda url: "/login/" not in url)
        page.close()

    def sweep(self, viewport: dict[str, int], visitors: list[tuple[str | None, str]]) -> None:
        folder = SCREENSHOTS / str(viewport["width"])
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        urls = self.urls()
        problems: list[str] = []
        seen = 0
        with self.chromium():
            for role, language in visitors:
                locale = "zh-CN" if language == "zh-hans" else "en-GB"
                context = self.browser.new_context(viewport=viewport, locale=locale, is_mobile=viewport is PHONE)
                self.contexts.append(context)
                context.set_default_timeout(30_000)
                context.add_cookies(
                    [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": self.live_server_url}]
                )
                who = f"{role or 'anonymous'}-{language}"
                if role:
                    self.sign_in(context, role)
                page = context.new_page()
                for name, path in urls:
                    response = page.goto(self.live_server_url + path)
                    if response is None or response.status != 200:
                        continue  # not this role's page (403/404, or a redirect to sign in)
                    if name != "login" and "/login/" in page.url:
                        continue  # sent to sign in: not this role's page
                    page.wait_for_load_state("networkidle")
                    seen += 1
                    measured = page.evaluate(MEASURE, viewport["width"])
                    page.screenshot(path=str(folder / f"{who}-{name}.png"), full_page=True)
                    # (A phone's layout viewport can grow to what overflows: compare with the device's width.)
                    if measured["scrollWidth"] > viewport["width"] or measured["innerWidth"] != viewport["width"]:
                        problems.append(
                            f"{who} {path}: scrollWidth {measured['scrollWidth']} > "
                            f"{measured['innerWidth']} ({', '.join(measured['wide'])})"
                        )
                    if measured["squeezed"]:
                        problems.append(f"{who} {path}: squeezed {measured['squeezed']}")
        # Every role saw its pages: the list, and for a signed-in role the dashboard, at least.
        assert seen >= 3 * len(visitors), seen
        assert not problems, "\n".join(problems)

    def test_every_page_of_every_role_fits_a_phone_width_without_sideways_scrolling(self) -> None:
        self.sweep(PHONE, [(role, "zh-hans") for role in ROLES] + [(role, "en") for role in ENGLISH_ROLES])

    def test_every_page_of_every_role_fits_a_desktop_width(self) -> None:
        self.sweep(DESKTOP, [(role, "zh-hans") for role in ROLES])


def test_the_sweep_knows_every_route_of_the_pages() -> None:
    """A route is either visited or named with the reason it is not a page (checked without a browser too)."""
    names = {p.name for p in page_routes()}
    for pattern in page_routes():
        if pattern.name in NOT_PAGES:
            continue
        assert set(pattern.pattern.converters) <= {"public_id"}, pattern.name
    assert NOT_PAGES.keys() <= names
    assert {"tender-list", "tender-detail", "bid-submit", "opening-hall", "dashboard"} <= names
