"""The evaluation session (评标室) in Debian's Chromium, against the real platform under Daphne.

A tender in evaluation (tests/evaluation/factories.py: three bids sealed, opened and confirmed through the
real opening, each bid's 技术标.pdf a real six-page PDF, a committee of two experts; the method asks 暗标 for the
technical part) and three browsers:

1. Each expert makes and registers its signing key in its own browser (the keys page), opens the session,
   signs in from its venue, declares no conflict with any bidder, and both elect expert 1 as the chair, who
   closes the sign-in.
2. Qualification: each marks every item of every bid as passed and submits its sheet, signed in the browser
   with the key it holds (the server checks the ECDSA signature over the statement it gave).
3. Scoring, 暗标: no page shows a bidder's name, the bids are codes (投标人 A, B, C), the qualification's
   results too. With the document viewer open, expert 1 opens bid 1's PDF (a megabyte), page 1 read by byte
   ranges (206) that add up to less than half the file; every page drawn into a canvas with its name and the
   time as watermark, read back from the canvas's bitmap over each quarter of the page; the bidder's pointer
   (response index) for T1 opens page 4, whose bytes come by ranges of their own; the page shown is cited as
   the evidence of its T1 score. At a 360 px phone's width the expert's page (sheet, viewer, committee) and
   later the supervisor's (the revealed marks) scroll nothing sideways. Both submit signed sheets.
4. The supervisor's page follows all of it live (sign-in, votes, progress, the revealed marks) and offers no
   action; a command it sends anyway is refused ``read_only`` and changes nothing.

No browser logs a console error or an uncaught exception, and no resource of the platform answers 4xx/5xx,
on any page of the scenario (nothing in it is refused over HTTP).

Time: the test process builds the case under its frozen clock (March 2026); the server runs on the real
clock, later, when the tender is still in evaluation. Both processes share the object store and the PKI
(the data key that seals the opened bids' file keys) of the live server's folder.

Screenshots of every step go to ``test-output/screenshots/test_evaluation_session/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from archive.models import LedgerEntry
from evaluation.models import Mark, Sheet, SheetKind
from evaluation.services import documents
from tendering.models import BidOpening
from tests.browser.test_browser_sealing import build_frontend
from tests.browser.test_phone_width import MEASURE
from tests.browser.test_publish_and_enquire import Screens
from tests.evaluation.documents.bid_pdf import bids_holding, numbered_pdf
from tests.evaluation.factories import METHOD
from tests.fixtures.live_platform import BrowserLiveServerTestCase, requires_chromium, reset_platform_caches

pytestmark = [pytest.mark.browser, requires_chromium]

PASSWORD = "Evaluation-Session-2026"
TIMEOUT_MS = 30_000
PAGES = 6
POINTER_PAGE = 4
PHONE_WIDTH = 360

# The watermark's pixels on the canvas shown, read back from its bitmap: the page (numbered_pdf) is drawn in
# greys only, so a pixel whose red stands above its green and blue is the watermark's (#b00020 at 22 % over
# white stands 39 above green and 32 above blue; anti-aliased edges less). Counted per quarter of the page,
# which the watermark covers whole.
WATERMARK_PIXELS = """() => {
  const canvas = [...document.querySelectorAll("#pdf-pages canvas.pdf-page")].find((c) => !c.hidden);
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const quarters = [0, 0, 0, 0];
  let red = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.min(data[i] - data[i + 1], data[i] - data[i + 2]) < 16) continue;
    const x = (i / 4) % canvas.width;
    const y = Math.floor(i / 4 / canvas.width);
    red += 1;
    quarters[(y < canvas.height / 2 ? 0 : 2) + (x < canvas.width / 2 ? 0 : 1)] += 1;
  }
  return { red, quarters, watermark: canvas.dataset.watermark, page: canvas.dataset.page };
}"""

# A command from the supervisor's own browser, on a socket of its own: its answer frame.
SUPERVISOR_COMMAND = """async ([url, frame]) => new Promise((resolve) => {
  const socket = new WebSocket(url);
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "hello") socket.send(JSON.stringify(frame));
    if (data.ref === frame.ref) { resolve(data); socket.close(); }
  };
})"""


def _length(content_range: str) -> int:
    """The bytes a ``Content-Range: bytes a-b/size`` answer carries."""
    first, last = content_range.removeprefix("bytes ").split("/")[0].split("-")
    return int(last) - int(first) + 1


class EvaluationSessionTest(BrowserLiveServerTestCase):
    @pytest.fixture
    def development_pki(self) -> Iterator[Path]:
        """The live server's PKI (and with it the data key that seals the opened bids' file keys)."""
        folder = Path(self._folder.name)
        with override_settings(DEVELOPMENT_PKI_DIR=folder / "pki", DEMO_KEY_CA_DIR=folder / "demo-ca"):
            reset_platform_caches()
            yield folder / "pki"
        reset_platform_caches()

    @pytest.fixture
    def object_store_dir(self) -> Iterator[Path]:
        """The live server's object store: the bids sealed here are read there."""
        with override_settings(S3_ENDPOINT="", OBJECT_STORE_ROOT=Path(self._folder.name) / "objects"):
            reset_platform_caches()
            yield Path(self._folder.name) / "objects"
        reset_platform_caches()

    @pytest.fixture(autouse=True)
    def case_in_evaluation(
        self, development_pki: Path, object_store_dir: Path, session_case: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        bids_holding(monkeypatch, numbered_pdf(PAGES, filler_lines=2000), pointers={"T1": POINTER_PAGE})
        self.case = session_case(n_bids=3, n_experts=2, method={**METHOD, "anonymous_technical": True})
        self.bidder_names = [bid.bidder.name for bid in self.case.bids]
        self.python_keys = [self.case.fingerprint(index) for index in range(2)]  # before the browsers add theirs
        index = BidOpening.objects.get(bid=self.case.bids[0]).response_index
        assert index is not None and index["pointers"][0]["page"] == POINTER_PAGE
        for user in (*self.case.experts, self.case.supervisor):
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])

    # -- helpers ---------------------------------------------------------------------------------------

    def new_page(self, user: Any) -> Any:
        context = self.browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        self.contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.on("console", lambda message: self.heard(user, message))
        page.on("pageerror", lambda error: self.faults.append(f"{user.username} pageerror: {error}"))
        page.on("response", lambda response: self.answered(user, response))
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(self.live_server_url + "/login/")
        page.locator("#id_username").fill(user.username)
        page.locator("#id_password").fill(PASSWORD)
        page.locator("main button[type=submit]").click()
        page.wait_for_url(lambda url: "/login/" not in url)
        return page

    def heard(self, user: Any, message: Any) -> None:
        """Every console line is kept for the failure messages; an error is a fault (a 404 of a resource too,
        which the browser reports there: its favicon request reaches no ``response`` handler), and so is a
        warning (pdf.js's worker warns there of a font it could not draw, its data not found)."""
        line = f"{user.username} {message.type}: {message.text} ({message.location.get('url', '')})"
        self.console.append(line)
        # (Not the one that the reader's machine lacks the font a PDF names and does not embed: pdf.js draws the
        # text in a font of the machine's instead, as any reader would.)
        if message.type == "error" or (message.type == "warning" and "Cannot load system font" not in message.text):
            self.faults.append(line)

    def answered(self, user: Any, response: Any) -> None:
        """A 4xx or 5xx of the platform's own resources is a fault: nothing in this scenario is refused over
        HTTP (the supervisor's refused command goes over the socket)."""
        if response.status >= 400 and response.url.startswith(self.live_server_url):
            self.faults.append(f"{user.username} HTTP {response.status}: {response.url}")

    def fits_a_phone(self, page: Any, shot: Screens, name: str) -> None:
        """At a small phone's width nothing scrolls sideways and no Chinese text is squeezed (as
        tests/browser/test_phone_width.py measures every page, here with the session's live content)."""
        desktop = page.viewport_size
        page.set_viewport_size({"width": PHONE_WIDTH, "height": 800})
        try:
            page.wait_for_function("(width) => window.innerWidth === width", arg=PHONE_WIDTH)
            measured = page.evaluate(MEASURE, PHONE_WIDTH)
            shot(page, name)
            assert measured["scrollWidth"] <= PHONE_WIDTH and not measured["wide"], measured
            assert not measured["squeezed"], measured
        finally:
            page.set_viewport_size(desktop)

    def make_browser_keys(self, page: Any) -> None:
        page.goto(self.live_server_url + "/keys/browser/")
        page.wait_for_selector("body[data-keys-page=ready]")
        page.get_by_role("button", name="生成密钥").click()
        page.get_by_role("button", name="登记到平台").click()
        page.wait_for_selector("body[data-keys-state=registered]")

    def open_session(self, page: Any) -> None:
        page.goto(self.live_server_url + f"/evaluation/{self.case.tender.public_id}/session/")
        page.wait_for_selector("#session-status[data-state=live]")

    def member_cell(self, page: Any, index: int, column: int) -> str:
        row = page.locator(f"#members-body tr[data-member='{self.case.members[index].pk}']")
        return str(row.locator("td").nth(column).inner_text())

    def wait_cell(self, page: Any, index: int, column: int, text: str) -> None:
        member = self.case.members[index].pk
        page.wait_for_function(
            "([member, column, text]) => document.querySelector(`#members-body tr[data-member='${member}']`)"
            "?.querySelectorAll('td')[column]?.textContent.includes(text)",
            arg=[member, column, text],
        )

    def settled(self, page: Any) -> None:
        """The last command's answer came (its words in #action-status), and no refusal."""
        page.wait_for_function("() => document.getElementById('action-status').textContent.length > 0")
        error = page.locator("#action-error")
        assert error.is_hidden(), f"{error.inner_text()}; console: {self.console}"

    # -- the scenario ----------------------------------------------------------------------------------

    def test_two_experts_score_with_the_viewer_open_sign_their_sheets_and_the_supervisor_follows_read_only(
        self,
    ) -> None:
        build_frontend()
        shot = Screens("test_evaluation_session")
        self.console: list[str] = []
        self.faults: list[str] = []
        case = self.case
        with self.chromium():
            experts = [self.new_page(user) for user in case.experts]
            for page in experts:
                self.make_browser_keys(page)
                self.open_session(page)
            supervisor = self.new_page(case.supervisor)
            self.open_session(supervisor)
            assert supervisor.locator("#read-only-note").is_visible()
            shot(supervisor, "supervisor-before")

            # 1. sign-in, declarations, the chair
            for index, page in enumerate(experts):
                page.locator("#signin-venue").select_option("main" if index == 0 else "sub")
                page.locator("#signin-location").fill(f"评标室{index + 1}")
                page.get_by_role("button", name="签到", exact=True).click()
                page.wait_for_selector("#declare-panel:not([hidden])")
                assert page.locator("#declare-body tr").count() == 3
                page.get_by_role("button", name="提交回避声明").click()
                page.wait_for_selector("#chair-panel:not([hidden])")
            self.wait_cell(supervisor, 0, 1, "评标室1")
            self.wait_cell(supervisor, 1, 3, "已声明")
            for page in experts:
                page.locator("#chair-candidate").select_option(str(case.members[0].pk))
                page.get_by_role("button", name="投票").click()
            supervisor.wait_for_function("() => document.getElementById('chair-line').textContent.includes('专家1')")
            shot(experts[0], "expert1-chair-elected")
            experts[0].locator("#close-stage-button").click()
            for page in (*experts, supervisor):
                page.wait_for_selector("body[data-stage=qualification]")

            # 2. qualification, signed sheets
            for page in experts:
                page.wait_for_selector("#sheet-panel:not([hidden]) tr[data-item]")
                selects = page.locator("#sheet-tables select.passed")
                assert selects.count() == 3 * 2
                for n in range(selects.count()):
                    selects.nth(n).select_option("true")
                    page.wait_for_function(
                        "(n) => document.querySelectorAll('#sheet-tables select.passed')[n].value === 'true'", arg=n
                    )
                page.wait_for_function("() => !document.getElementById('submit-sheet-button').disabled")
                page.get_by_role("button", name="签名提交评审表").click()
                page.wait_for_function(
                    "() => document.getElementById('sheet-state').textContent.includes('已签名提交')"
                )
            self.wait_cell(supervisor, 1, 4, "已提交")
            supervisor.wait_for_selector("#revealed-panel:not([hidden]) table[data-sheet=qualification]")
            shot(supervisor, "supervisor-qualification-revealed")
            experts[0].locator("#close-stage-button").click()
            for page in (*experts, supervisor):
                page.wait_for_selector("body[data-stage=scoring]")
            supervisor.wait_for_selector("#results-body .result[data-stage=qualification]")
            # 暗标: while scoring, the bidders are codes on every page, the qualification's results included.
            names = self.bidder_names
            for page in (*experts, supervisor):
                page.wait_for_function("() => document.getElementById('results-body').textContent.includes('投标人 A')")
                shown = page.locator("main").inner_text()
                assert not [name for name in names if name in shown], shown
            codes = experts[0].locator("#viewer-bid option").all_inner_texts()[1:]
            assert sorted(codes) == ["投标人 A", "投标人 B", "投标人 C"], codes

            # 3. scoring with the viewer open: ranges, watermark, the pointer, the evidence
            expert = experts[0]
            reads: list[tuple[int, str]] = []

            def read(response: Any) -> None:
                if "/files/" in response.url:
                    reads.append((response.status, response.headers.get("content-range", "")))

            expert.on("response", read)
            expert.locator("#viewer-bid").select_option(str(case.bids[0].public_id))
            expert.locator("#viewer-file").select_option("bid/技术标.pdf")
            try:
                expert.wait_for_selector("#pdf-pages[data-state=shown][data-page='1']")
            except Exception:
                message = expert.locator("#viewer-message").inner_text()
                raise AssertionError(f"viewer: {message!r}; reads {reads}; console: {self.console}") from None
            assert any(status == 206 and ranged.startswith("bytes ") for status, ranged in reads), reads
            # Page 1 came by ranges, a fraction of the file (pdf.js's first plain GET is cut off at its headers).
            size = len(numbered_pdf(PAGES, filler_lines=2000))
            ranges = [ranged for status, ranged in reads if status == 206]
            assert all(ranged.endswith(f"/{size}") for ranged in ranges), reads
            assert sum(_length(ranged) for ranged in ranges) < size / 2, reads
            opened = len(reads)
            drawn = expert.evaluate(WATERMARK_PIXELS)
            assert drawn["page"] == "1" and drawn["red"] > 1000 and min(drawn["quarters"]) > 100, drawn
            assert drawn["watermark"].startswith("专家1 · ") and drawn["watermark"].endswith("北京时间"), drawn
            assert expert.locator("#pdf-pages").get_attribute("data-pages") == str(PAGES)
            expert.locator("#viewer-pointers button.pointer[data-item=T1]").click()
            expert.wait_for_selector(f"#pdf-pages[data-page='{POINTER_PAGE}']")
            assert expert.evaluate(WATERMARK_PIXELS)["page"] == str(POINTER_PAGE)
            # Page 4 was not read yet: its bytes came by ranges of their own when the pointer asked for it.
            assert reads[opened:] and all(status == 206 for status, _ in reads[opened:]), reads
            assert f"第 {POINTER_PAGE} / {PAGES} 页" in expert.locator("#viewer-page").inner_text()
            shot(expert, "expert1-viewer-pointer")
            scores = {"T1": "8.00", "C1": "7.50"}
            for page in experts:
                page.wait_for_selector("#sheet-panel:not([hidden]) input.score")
                for bid in case.bids:
                    for item, score in scores.items():
                        row = page.locator(f"#sheet-tables tr[data-bid='{bid.public_id}'][data-item='{item}']")
                        row.locator("input.score").fill(score)
                        row.locator("input.reason").fill("符合要求")
                        row.locator("input.reason").blur()
                        page.wait_for_function(
                            "([bid, item]) => document.getElementById('sheet-state').textContent !== ''"
                            " && document.querySelector(`#sheet-tables tr[data-bid='${bid}'][data-item='${item}']"
                            " input.score`).value !== ''",
                            arg=[str(bid.public_id), item],
                        )
            first_t1 = expert.locator(f"#sheet-tables tr[data-bid='{case.bids[0].public_id}'][data-item='T1']")
            first_t1.locator("button.pick-evidence").click()
            expert.wait_for_function(
                "(page) => [...document.querySelectorAll('#sheet-tables .evidence')].some("
                "(e) => e.textContent.includes(`第 ${page} 页`))",
                arg=POINTER_PAGE,
            )
            self.fits_a_phone(expert, shot, "expert1-scoring-phone")
            for page in experts:
                page.wait_for_function("() => !document.getElementById('submit-sheet-button').disabled")
                page.get_by_role("button", name="签名提交评审表").click()
                page.wait_for_function(
                    "() => document.getElementById('sheet-state').textContent.includes('已签名提交')"
                )
            self.wait_cell(supervisor, 0, 5, "已提交")
            self.wait_cell(supervisor, 1, 5, "已提交")
            supervisor.wait_for_selector("#revealed-panel table[data-sheet=scoring]")
            shot(supervisor, "supervisor-scores-revealed")
            self.fits_a_phone(supervisor, shot, "supervisor-scores-revealed-phone")

            # 4. the supervisor could not act: no form of its own, and a command is refused
            for panel in ("#signin-panel", "#declare-panel", "#chair-panel", "#sheet-panel", "#close-panel"):
                assert supervisor.locator(panel).is_hidden(), panel
            assert supervisor.locator("#message-form").is_hidden()
            socket = self.live_server_url.replace("http", "ws") + f"/ws/tenders/{case.tender.public_id}/session/"
            frame = {"type": "message", "ref": "s1", "text": "监督人员不能发言"}
            answer = supervisor.evaluate(SUPERVISOR_COMMAND, [socket, frame])
            assert answer["type"] == "error" and answer["code"] == "read_only", answer
            assert not self.faults, "\n".join([*self.faults, "console:", *self.console])

        # What the browsers did is in the database, signed and recorded.
        for index, member in enumerate(case.members):
            sheets = Sheet.objects.filter(member=member, submitted_at__isnull=False)
            assert {s.kind for s in sheets} == {SheetKind.QUALIFICATION, SheetKind.SCORING}
            for sheet in sheets:
                assert sheet.signing_key is not None and sheet.signing_key.owner_id == case.experts[index].pk
                assert sheet.signing_key.fingerprint != self.python_keys[index]  # the browser's key, not Python's
        cited = Mark.objects.get(
            sheet__member=case.members[0], sheet__kind=SheetKind.SCORING, bid=case.bids[0], item="T1"
        )
        assert (cited.evidence_path, cited.evidence_page, str(cited.score)) == ("bid/技术标.pdf", POINTER_PAGE, "8.00")
        viewed = LedgerEntry.objects.filter(action=documents.VIEWED, actor=case.experts[0])
        assert viewed.count() == 1
        assert json.loads(viewed.get().data)["path"] == "bid/技术标.pdf"
        assert not LedgerEntry.objects.filter(action__startswith="evaluation.message").exists()
