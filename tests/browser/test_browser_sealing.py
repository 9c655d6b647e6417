"""Sealing bids in the browser: the real platform under Daphne, driven through Debian's Chromium.

(a) A bidder signs in, makes and registers its keys in the browser (private keys
    non-extractable, in IndexedDB), seals two files (one with a Chinese name)
    and the price summary in the page's Web Worker, uploads and submits; the
    page verifies the receipt. Python then opens the stored bid with k of the
    custodians' private keys (the browser's keys cannot leave it) and finds
    exactly the chosen files and prices.
(b) The reverse direction: the bundled JavaScript, loaded in Chromium,
    reproduces every test vector of docs/sealed-bid-vectors/.
(c) Resume: the upload's second part fails (the network drops it), the page
    retries, the page is reloaded mid-upload, "Resume upload" checks the part
    the server already has against the local sealed file and goes on; the bid
    is accepted, its receipt verified, then withdrawn, and the withdrawal's receipt verified. In English.

Screenshots of every step go to ``test-output/screenshots/<test>/``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings

from accounts import credit_code, key_ca
from accounts.models import KeyPurpose, Organization, OrganizationKind, Role, RoleGrant, User
from accounts.own_device import register_own_key
from archive.storage import get_object_store
from tendering.method import default_method
from tendering.models import Bid, BidStatus, BidUpload, Tender
from tendering.own_device import confirm_custody_as
from tendering.sealing import (
    file_key_from_parts,
    open_bid,
    open_custodian_parts,
    parse_manifest,
    verify_manifest,
)
from tendering.services import documents, tenders
from tests.browser.test_publish_and_enquire import Screens
from tests.fixtures.live_platform import BrowserLiveServerTestCase, requires_chromium
from tests.fixtures.personas import PDF_BYTES, p256_public_der

PASSWORD = "Browser-Sealing-2026"
TIMEOUT_MS = 30_000
ROOT = Path(settings.BASE_DIR)
BUILD = ROOT / "frontend" / "static" / "frontend" / "build"
VECTORS = ROOT / "docs" / "sealed-bid-vectors"

pytestmark = [
    pytest.mark.browser,
    requires_chromium,
]

CHINESE = {
    "language": None,
    "username": "用户名",
    "password": "密码",
    "sign_in": "登录",
    "sign_out": "退出",
    "submit_bid": "提交投标文件",
    "manage_keys": "管理浏览器密钥",
    "generate": "生成密钥",
    "register": "登记到平台",
    "back": "返回投标页面",
    "seal": "密封并提交投标文件",
    "resume": "继续上传",
    "retrying": "网络中断",
    "verified": "回执核验通过。",
    "withdraw": "撤回",
    "withdrawn": "已撤回",
}
ENGLISH = {
    "language": "en",
    "username": "Username",
    "password": "Password",
    "sign_in": "Sign in",
    "sign_out": "Sign out",
    "submit_bid": "Submit a bid",
    "manage_keys": "Manage browser keys",
    "generate": "Generate keys",
    "register": "Register on the platform",
    "back": "Back to the bid page",
    "seal": "Seal and submit the bid",
    "resume": "Resume upload",
    "retrying": "Network interrupted",
    "verified": "Receipt verified.",
    "withdraw": "Withdraw",
    "withdrawn": "Withdrawn",
}


def method_without_documents(method: dict[str, Any]) -> dict[str, Any]:
    """``method`` with its qualification items requiring no document: the bid page then seals any files (the
    required-documents check, 一次性告知, is tests/browser/test_bid_page_response_index.py's)."""
    return {**method, "qualification": [{**item, "documents": []} for item in method["qualification"]]}


def build_frontend() -> None:
    """The bundles the pages load (``make js`` builds them; so does this, when npm's packages are there)."""
    sources = [*(ROOT / "frontend" / "js").rglob("*.js"), ROOT / "frontend" / "js" / "build.mjs"]
    newest = max(p.stat().st_mtime for p in sources)
    bundles = [
        BUILD / name for name in ("bid-page.js", "keys-page.js", "seal-worker.js", "hash-worker.js", "vector-checks.js")
    ]
    if all(b.exists() and b.stat().st_mtime >= newest for b in bundles):
        return
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "esbuild").exists():
        pytest.skip("the browser bundles are not built and cannot be (run `make js`: needs Node.js and npm ci)")
    subprocess.run([node, str(ROOT / "frontend" / "js" / "build.mjs")], cwd=ROOT, check=True, capture_output=True)


class BidPageCase(BrowserLiveServerTestCase):
    """A tender of two lots with three custodians (k = 2) and a bidder, and the steps of the bid page."""

    @classmethod
    def setUpClass(cls) -> None:
        build_frontend()
        super().setUpClass()

    def setUp(self) -> None:
        super().setUp()

        def org(name: str, kind: str, index: int) -> Organization:
            return Organization.objects.create(
                name=name, kind=kind, credit_code=credit_code.make(f"91360781MC{index:07d}")
            )

        def user(username: str, display_name: str, organization: Organization, role: str) -> User:
            person = User.objects.create_user(
                username=username, password=PASSWORD, display_name=display_name, organization=organization
            )
            RoleGrant.objects.create(user=person, role=role)
            return person

        tenderer_org = org("瑞金市城市建设投资有限公司", OrganizationKind.TENDERER, 1)
        self.bidder_org = org("江西红土建设工程有限公司", OrganizationKind.BIDDER, 2)
        regulator_org = org("瑞金市发展和改革委员会", OrganizationKind.REGULATOR, 3)
        tenderer = user("tenderer", "刘建国", tenderer_org, Role.TENDERER_STAFF)
        self.bidder = user("wanglei_hongtu", "王磊", self.bidder_org, Role.BIDDER)
        custodians = [
            user(f"custodian{i}", name, regulator_org, Role.CUSTODIAN)
            for i, name in ((1, "钟华"), (2, "黄芳"), (3, "陈静"))
        ]
        # Made "on the custodians' devices": the platform only ever sees the public halves.
        self.custodian_keys: list[ec.EllipticCurvePrivateKey] = []
        custodian_signing: list[ec.EllipticCurvePrivateKey] = []
        for custodian in custodians:
            private, _ = p256_public_der()
            register_own_key(custodian, KeyPurpose.ENCRYPTION, private, label="保管人设备")
            self.custodian_keys.append(private)
            custodian_signing.append(p256_public_der()[0])
            register_own_key(custodian, KeyPurpose.SIGNING, custodian_signing[-1], label="保管人设备")
        now = dt.datetime.now(tz=dt.UTC).replace(microsecond=0)
        deadline = now + dt.timedelta(days=30)
        draft = tenders.create_draft(
            tenderer,
            tenders.TenderInput(
                number="RJ-2026-GC-201",
                title="瑞金市沙洲坝镇乡村道路提升改造工程",
                description="路面改造",
                procedure_type="open",
                budget=Decimal("8650000.00"),
                bid_deadline=deadline,
                opening_time=deadline,
                enquiry_deadline=deadline - dt.timedelta(days=10),
                evaluation_method="comprehensive",
                method=self.tender_method(),
                custodian_ids=[c.pk for c in custodians],
                custodian_threshold=2,
                lots=[
                    tenders.LotInput(1, "路面工程", Decimal("6200000.00")),
                    tenders.LotInput(2, "桥涵工程", Decimal("2000000.00")),
                ],
            ),
        )
        documents.add_document(tenderer, draft, "招标文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
        self.tender = tenders.publish(tenderer, draft)
        for custodian, signing, encryption in zip(custodians, custodian_signing, self.custodian_keys, strict=True):
            confirm_custody_as(custodian, self.tender, signing, encryption)
        # Read now: while Playwright's sync API runs, this thread counts as async for Django.
        self.tender_id = str(self.tender.public_id)
        self.key_ca_pem = key_ca.demo_ca_certificate_pem()

    # --- helpers ----------------------------------------------------------------------

    def tender_method(self) -> dict[str, Any]:
        return method_without_documents(default_method("comprehensive"))

    def new_page(self, words: dict[str, Any]) -> Any:
        context = self.browser.new_context(
            locale="zh-CN", viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        self.console: list[str] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        # Every question the page asks is recorded, and answered yes unless the test asked for a no.
        self.dialogs: list[str] = []
        self.answer_no = 0
        page.on("dialog", self.answer)
        page.goto(self.live_server_url + "/")
        if words["language"]:
            page.locator("#language-select").select_option(words["language"])
            page.locator(".language-form button[type=submit]").click()
            page.wait_for_load_state()
        return page

    def answer(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        if self.answer_no:
            self.answer_no -= 1
            dialog.dismiss()
        else:
            dialog.accept()

    def sign_in(self, page: Any, words: dict[str, Any], shot: Screens) -> None:
        page.locator("header").get_by_role("link", name=words["sign_in"]).click()
        page.get_by_label(words["username"]).fill(self.bidder.username)
        page.get_by_label(words["password"]).fill(PASSWORD)
        page.locator("main").get_by_role("button", name=words["sign_in"]).click()
        page.wait_for_load_state()
        assert page.get_by_role("button", name=words["sign_out"]).is_visible()

    def open_bid_page(self, page: Any, words: dict[str, Any], shot: Screens) -> None:
        page.goto(f"{self.live_server_url}/tenders/{self.tender_id}/")
        shot(page, "tender-detail")
        page.get_by_role("link", name=words["submit_bid"]).click()
        page.wait_for_selector("body[data-bid-page=ready]")

    def make_browser_keys(self, page: Any, words: dict[str, Any], shot: Screens) -> None:
        assert page.locator("#keys-state").get_attribute("data-ready") == "false"
        shot(page, "bid-page-without-keys")
        page.get_by_role("link", name=words["manage_keys"]).click()
        page.wait_for_selector("body[data-keys-page=ready]")
        shot(page, "browser-keys-empty")
        page.get_by_role("button", name=words["generate"]).click()
        page.get_by_role("button", name=words["register"]).click()
        page.wait_for_selector("body[data-keys-state=registered]")
        shot(page, "browser-keys-registered")
        page.get_by_role("link", name=words["back"]).click()
        page.wait_for_selector("#keys-state[data-ready=true]")
        # The bid page seals only once every custodian's confirmation checks against the browser's own trust
        # list: the bidder imports the key CA's certificate from a file (tests/browser/test_browser_custody.py
        # shows the refusals).
        page.locator("#trust-ca-file").set_input_files(
            files=[{"name": "key-ca.pem", "mimeType": "application/x-pem-file", "buffer": self.key_ca_pem}]
        )
        page.wait_for_selector("#custody-state[data-ok=true]")

    def fill_prices(self, page: Any, prices: dict[str, tuple[str, str, str, str]]) -> None:
        for lot, (price, days, quality, manager) in prices.items():
            page.locator(f"#price-{lot}").fill(price)
            page.locator(f"#days-{lot}").fill(days)
            page.locator(f"#quality-{lot}").fill(quality)
            page.locator(f"#manager-{lot}").fill(manager)

    def wait_verified(self, page: Any, words: dict[str, Any]) -> None:
        try:
            page.wait_for_selector("#receipt-verdict[data-verified=true]", timeout=90_000)
        except Exception:
            raise AssertionError(
                f"no verified receipt: {page.locator('#error').inner_text()!r} "
                f"{page.locator('#status').inner_text()!r} "
                f"{page.locator('#receipt-verdict').inner_text()!r} console: {self.console}"
            ) from None
        assert page.locator("#receipt-verdict").inner_text() == words["verified"]
        assert page.locator("#receipt-checks .check-failed").count() == 0
        assert (
            page.locator("#receipt-checks .check-ok").count() == 7
        )  # format, subject, entry, inclusion, signature, chain, time-stamp

    def evaluate_async(self, page: Any, function: str, argument: Any = None, *, timeout_ms: int = TIMEOUT_MS) -> Any:
        """``page.evaluate`` of an async function, with a time limit (evaluate itself has none)."""
        page.evaluate(
            """([source, argument]) => { window.__result = undefined;
               (0, eval)(`(${source})`)(argument).then((value) => { window.__result = {value}; },
                                                      (error) => { window.__result = {error: String(error)}; }); }""",
            [function, argument],
        )
        handle = page.wait_for_function("() => window.__result", timeout=timeout_ms)
        result = handle.json_value()
        assert "error" not in result, result["error"]
        return result["value"]

    def open_stored_bid(self, folder: Path, bid_id: str | None = None) -> tuple[Any, Any]:
        """Open the stored bid (the standing one, or ``bid_id``) with 2 of the 3 custodians' keys, as the opening
        will; checks its signature too."""
        bids = Bid.objects.select_related("signing_key").filter(tender__public_id=self.tender_id)
        bid = bids.get(public_id=bid_id) if bid_id else bids.get(status=BidStatus.ACCEPTED)
        manifest = verify_manifest(bytes(bid.manifest), bytes(bid.signature), bytes(bid.signing_key.spki_der))
        assert manifest == parse_manifest(bytes(bid.manifest))
        custodians = manifest.envelopes.custodians
        parts = [
            part for key in self.custodian_keys[1:] for part in open_custodian_parts(custodians, manifest.identity, key)
        ]
        file_key = file_key_from_parts(custodians, parts, bytes.fromhex(manifest.kc))
        with get_object_store().open(bid.object_key, bid.version_id or None) as stored:
            ciphertext = stored.read()
        assert len(ciphertext) == manifest.ciphertext_size == bid.size
        opened = open_bid(io.BytesIO(ciphertext), manifest, file_key, folder)
        return bid, opened


class BrowserSealingTest(BidPageCase):
    # --- (a) seal in the page, open in Python -------------------------------------------------------------

    def test_a_bid_sealed_in_chromium_opens_in_python_with_the_custodians_keys(self) -> None:
        shot = Screens("test_browser_sealing_submit")
        technical = os.urandom(2 * 1024 * 1024 + 12345)  # three segments
        qualification = "营业执照、资质证书、安全生产许可证\n".encode() * 40
        chosen = [
            {"name": "技术标-施工组织设计.pdf", "mimeType": "application/pdf", "buffer": technical},
            {"name": "qualification.txt", "mimeType": "text/plain", "buffer": qualification},
        ]
        prices = {"1": ("6123456.70", "180", "合格", "李四"), "2": ("1980000.00", "120", "优良", "")}
        with self.chromium():
            page = self.new_page(CHINESE)
            self.sign_in(page, CHINESE, shot)
            self.open_bid_page(page, CHINESE, shot)
            self.make_browser_keys(page, CHINESE, shot)
            page.locator("#bid-files").set_input_files(files=chosen)
            # Without prices the form says what is missing and seals nothing.
            page.get_by_role("button", name=CHINESE["seal"]).click()
            assert "请至少为一个标段填写报价" in page.locator("#price-1-error").inner_text()
            assert page.locator("#price-1").get_attribute("aria-invalid") == "true"
            assert page.locator("#progress-section").is_hidden()
            shot(page, "bid-form-errors")
            self.fill_prices(page, prices)
            shot(page, "bid-form-filled")
            page.get_by_role("button", name=CHINESE["seal"]).click()
            self.wait_verified(page, CHINESE)
            shot(page, "receipt-verified")
            rows = page.locator("#bids-body tr")
            assert rows.count() == 1 and rows.first.get_attribute("data-status") == "accepted"
            # The sealed copy waiting for upload is gone from the Origin Private File System.
            left = self.evaluate_async(
                page,
                """async () => { const root = await navigator.storage.getDirectory();
                   const dir = await root.getDirectoryHandle('etender-bids', {create: true});
                   const names = []; for await (const name of dir.keys()) names.push(name); return names; }""",
            )
            assert left == []

        with tempfile.TemporaryDirectory() as folder:
            bid, opened = self.open_stored_bid(Path(folder) / "opened")
            summary = opened.price_summary
            assert (summary.tender, summary.bid, summary.bidder) == (
                self.tender_id,
                str(bid.public_id),
                self.bidder_org.credit_code,
            )
            assert [(lot.lot, lot.price_yuan, lot.schedule_days, dict(lot.declared)) for lot in summary.lots] == [
                ("1", "6123456.70", 180, {"质量标准": "合格", "项目经理": "李四"}),
                ("2", "1980000.00", 120, {"质量标准": "优良"}),
            ]
            # Sorted by the UTF-8 bytes of their paths: "q" (0x71) before "技" (0xe6).
            assert [f.path for f in opened.files] == ["bid/qualification.txt", "bid/技术标-施工组织设计.pdf"]
            assert (Path(folder) / "opened" / "bid" / "技术标-施工组织设计.pdf").read_bytes() == technical
            assert (Path(folder) / "opened" / "bid" / "qualification.txt").read_bytes() == qualification

    # --- (b) the vectors in Chromium ------------------------------------------------------------------------------

    def test_the_bundled_javascript_reproduces_every_vector_in_chromium(self) -> None:
        shot = Screens("test_browser_sealing_vectors")
        vectors = {
            name: json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))
            for name in ("stream", "container", "envelopes", "signature", "bid", "identity", "response-index")
        }
        with self.chromium():
            page = self.new_page(CHINESE)
            results = self.evaluate_async(
                page,
                "async (vectors) => (await import('/static/frontend/build/vector-checks.js')).runVectorChecks(vectors)",
                vectors,
                timeout_ms=120_000,
            )
            shot(page, "vectors-run")
        failures = [r for r in results if not r["ok"]]
        assert not failures, failures
        names = {r["name"] for r in results}
        assert len(results) >= 57
        expected = {f"stream: encrypt {c['name']}" for c in vectors["stream"]["cases"]}
        expected |= {f"stream: refuse {c['name']}" for c in vectors["stream"]["invalid"]}
        expected |= {f"bid: refuse the manifest with {c['name']}" for c in vectors["bid"]["invalid_manifests"]}
        expected |= {
            "container: the whole container, byte for byte",
            "bid: seal the tiny bid again: the same ciphertext and manifest",
            "response index: the container with the index, byte for byte",
        }
        assert expected <= names

    # --- (c) resume after a network failure and a reload ----------------------------------------------------

    def test_an_interrupted_upload_resumes_after_a_reload_and_the_bid_can_be_withdrawn(self) -> None:
        shot = Screens("test_browser_sealing_resume")
        words = ENGLISH
        content = os.urandom(12 * 1024 * 1024)  # two parts of the server's 8 MiB
        part_puts: dict[str, int] = {}

        def count(request: Any) -> None:
            if request.method == "PUT" and "/parts/" in request.url:
                number = request.url.rsplit("/", 1)[1]
                part_puts[number] = part_puts.get(number, 0) + 1

        with self.chromium():
            page = self.new_page(words)
            page.on("request", count)
            self.sign_in(page, words, shot)
            self.open_bid_page(page, words, shot)
            self.make_browser_keys(page, words, shot)
            page.locator("#bid-files").set_input_files(
                files=[{"name": "投标文件.zip", "mimeType": "application/zip", "buffer": content}]
            )
            self.fill_prices(page, {"1": ("5000000.00", "200", "", ""), "2": ("1500000.00", "90", "", "")})
            # The network drops every attempt at part 2 until it comes back. The route stays in place
            # (it lets requests through once the network is back): unroute waits for handlers still
            # running and has been seen to hang for ever (playwright#38674).
            network = {"down": True}

            def part_two(route: Any) -> None:
                if network["down"]:
                    route.abort("connectionreset")
                else:
                    route.continue_()

            page.route("**/api/bids/uploads/*/parts/2", part_two)
            page.get_by_role("button", name=words["seal"]).click()
            page.wait_for_function(
                "text => document.getElementById('status').textContent.includes(text)",
                arg=words["retrying"],
                timeout=60_000,
            )
            shot(page, "upload-retrying")
            network["down"] = False
            # The bidder reloads the page in the middle of the upload.
            page.reload()
            page.wait_for_selector("body[data-bid-page=ready]")
            resume = page.locator("#resume")
            assert resume.is_visible()
            shot(page, "resume-offered")
            resume.get_by_role("button", name=words["resume"]).click()
            self.wait_verified(page, words)
            shot(page, "resumed-and-verified")
            assert part_puts.get("1") == 1, part_puts  # part 1 was checked, not sent again
            assert part_puts.get("2", 0) >= 2, part_puts
            row = page.locator("#bids-body tr").first
            row.get_by_role("button", name=words["withdraw"]).click()
            page.wait_for_selector("#bids-body tr[data-status=withdrawn]")
            assert words["withdrawn"] in page.locator("#bids-body").inner_text()
            # The withdrawal's own receipt, checked in the page like the submission's.
            page.wait_for_selector("#receipt-verdict[data-receipt=withdrawal][data-verified=true]")
            assert page.locator("#receipt-checks .check-failed").count() == 0
            shot(page, "withdrawn")

        bid = Bid.objects.get(tender__public_id=self.tender_id)
        assert bid.status == BidStatus.WITHDRAWN
        upload = BidUpload.objects.get(bid_id=bid.public_id)
        assert upload.received_parts == 2 and upload.parts.count() == 2
        assert Tender.objects.get(public_id=self.tender_id).bids.count() == 1
