"""The opening hall (开标大厅) in Debian's Chromium, against the real platform under Daphne.

One bidder and one custodian act in their own browsers, with keys their
browsers made and hold (non-extractable, in IndexedDB):

1. The custodian makes and registers its encryption key on the browser keys
   page, and so does the bidder, before the tender is published: publication
   fixes the custodians' keys.
2. The tender is published with three custodians (k = 2), and two bids are
   sealed and submitted before the deadline: the browser bidder's, sealed in
   Python to the encryption key its browser registered (only the public half
   ever left the browser), and a second bidder's, who never decrypts.
3. The bidder's page, opened before the opening time, waits and connects by
   itself when the hall opens. The bidder signs in and decrypts its bid in the
   browser: the page opens its own envelope with the browser's key, checks the
   key commitment and releases the key; the bid turns "key ready" live on the
   tenderer's page. A second tab of the same bidder, which had not heard of
   it yet, tries again and shows the server's refusal.
4. The custodian opens its part of every subset of every bid in the browser
   and submits them in one frame. A third custodian submits wrong parts from
   Python (its own device): the hall names the suspects live. A second
   custodian submits correct ones: two of three give the second bid's key,
   live, and the faulty custodian is named alone.
5. The worker's decryption runs here, in the test process; both bids appear
   opened with their prices on the other pages without a reload.
6. The regulator watches in English, read-only (no action buttons); its
   connection drops, the page says it is reconnecting, and resumes from the
   last event it saw, catching up with what it missed (the decryption ended).
7. The record is published; the bidder objects and confirms, the tenderer
   answers; closing is refused while the other bidder has not confirmed, then
   done; the signed record is filed and appears on every page.

Time. The live server is another process with the real clock, so the tender's
dates are real: publication happens once the keys are registered, with a
deadline (= opening time) a few seconds later, and the test waits for it. The
minimum bid period of 20 days (``BID_PERIOD_MIN_DAYS``, a per-procedure
setting that deployments set too) is 0 for this platform instance, through
``extra_settings``, fixed before the server's fork; nothing else about time is
bent.

Events across processes. The hall's events reach the pages through the
channel layer. The test process does what another machine would (the worker's
decryption, the second custodian's parts), so both processes share a Redis
channel layer, as the deployment's Daphne and worker processes do: a private
``redis-server`` on a Unix socket, started for this class (skipped when Debian's
redis-server is not installed).

Screenshots of every step go to ``test-output/screenshots/test_opening_hall/``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connections, transaction

from accounts import credit_code
from accounts.models import KeyPurpose, Organization, OrganizationKind, PublicKey, Role, RoleGrant, User
from accounts.own_device import register_own_key
from tendering.method import default_method
from tendering.models import Bid, BidOpening, BidOpeningState, BidStatus, KeySource, Opening, Tender
from tendering.own_device import confirm_custody_as
from tendering.sealing import BidIdentity, LotPrice, PriceSummary, open_custodian_parts, parse_manifest, seal_bid
from tendering.services import decryption, documents, tenders
from tendering.services.opening import confirmations, custodian_parts
from tendering.services.opening_record import file_record
from tests.bids.conftest import Sealed, submit
from tests.browser.test_browser_sealing import build_frontend
from tests.browser.test_publish_and_enquire import Screens
from tests.fixtures.live_platform import BrowserLiveServerTestCase, requires_chromium
from tests.fixtures.personas import PDF_BYTES, p256_public_der

REDIS_SERVER = Path("/usr/bin/redis-server")
PASSWORD = "Opening-Hall-2026"
TIMEOUT_MS = 30_000
# From publication to the deadline (= the opening time):
# sealing and submitting two small bids here takes under a second.
LEAD_SECONDS = 6

pytestmark = [
    pytest.mark.browser,
    requires_chromium,
    pytest.mark.skipif(
        not REDIS_SERVER.exists(), reason="Debian's redis-server is not installed (apt-get install redis-server)"
    ),
]

T = TypeVar("T")

CHINESE = {
    "language": None,
    "username": "用户名",
    "password": "密码",
    "sign_in": "登录",
    "sign_out": "退出",
    "generate": "生成密钥",
    "register": "登记到平台",
}
ENGLISH = {
    **CHINESE,
    "language": "en",
    "username": "Username",
    "password": "Password",
    "sign_in": "Sign in",
    "sign_out": "Sign out",
}
BUTTONS = (
    "#sign-in-button",
    "#decrypt-button",
    "#parts-button",
    "#conclude-button",
    "#confirm-button",
    "#close-button",
    "#object-button",
)


def off_the_main_thread(function: Callable[..., T], *args: Any) -> T:
    """Database work while Chromium runs: Playwright's sync API makes Django count the main thread as async."""

    def run() -> T:
        try:
            return function(*args)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=120)


class OpeningHallTest(BrowserLiveServerTestCase):
    redis: ClassVar[subprocess.Popen[bytes]]
    redis_folder: ClassVar[tempfile.TemporaryDirectory[str]]

    @classmethod
    def setUpClass(cls) -> None:
        build_frontend()
        cls.redis_folder = tempfile.TemporaryDirectory(prefix="etender-redis-")
        socket = Path(cls.redis_folder.name) / "redis.sock"
        cls.redis = subprocess.Popen(
            [
                str(REDIS_SERVER),
                "--port",
                "0",
                "--unixsocket",
                str(socket),
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            if socket.exists() or cls.redis.poll() is not None:
                break
            time.sleep(0.05)
        if not socket.exists():
            cls._stop_redis()
            raise RuntimeError(f"redis-server did not start (exit status {cls.redis.returncode})")
        cls.extra_settings = {
            "BID_PERIOD_MIN_DAYS": {"open": 0, "invited": 0, "negotiation": 0, "consultation": 0, "inquiry": 0},
            "CHANNEL_LAYERS": {
                "default": {
                    "BACKEND": "channels_redis.core.RedisChannelLayer",
                    # As config/settings.py has it: no socket timeout, or idle connections end after 5 s.
                    "CONFIG": {
                        "hosts": [{"address": f"unix://{socket}", "socket_timeout": None}],
                        "prefix": "etender-test",
                    },
                }
            },
        }
        try:
            super().setUpClass()
        except BaseException:
            cls._stop_redis()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            super().tearDownClass()
        finally:
            cls._stop_redis()

    @classmethod
    def _stop_redis(cls) -> None:
        cls.redis.terminate()
        cls.redis.wait(timeout=10)
        cls.redis_folder.cleanup()

    def setUp(self) -> None:
        super().setUp()

        def org(name: str, kind: str, index: int) -> Organization:
            return Organization.objects.create(
                name=name, kind=kind, credit_code=credit_code.make(f"91360781MD{index:07d}")
            )

        def user(username: str, display_name: str, organization: Organization, role: str) -> User:
            person = User.objects.create_user(
                username=username, password=PASSWORD, display_name=display_name, organization=organization
            )
            RoleGrant.objects.create(user=person, role=role)
            return person

        self.tenderer_org = org("瑞金市城市建设投资有限公司", OrganizationKind.TENDERER, 1)
        self.bidder_org = org("江西红土建设工程有限公司", OrganizationKind.BIDDER, 2)
        self.other_org = org("赣州宏达路桥有限公司", OrganizationKind.BIDDER, 3)
        regulator_org = org("瑞金市发展和改革委员会", OrganizationKind.REGULATOR, 4)
        self.tenderer = user("tenderer", "刘建国", self.tenderer_org, Role.TENDERER_STAFF)
        self.bidder = user("wanglei_hongtu", "王磊", self.bidder_org, Role.BIDDER)
        self.other_bidder = user("zhaomin_hongda", "赵敏", self.other_org, Role.BIDDER)
        self.regulator = user("regulator", "孙丽", regulator_org, Role.REGULATOR)
        self.custodians = [
            user(f"custodian{i}", name, regulator_org, Role.CUSTODIAN)
            for i, name in ((1, "钟华"), (2, "黄芳"), (3, "陈静"))
        ]
        # Custodians 2 and 3 made their keys on their own devices; custodian 1 makes its key in the browser below.
        self.device_keys: dict[int, ec.EllipticCurvePrivateKey] = {}
        for index in (1, 2):
            private, _ = p256_public_der()
            register_own_key(self.custodians[index], KeyPurpose.ENCRYPTION, private, label="保管人设备")
            self.device_keys[index] = private
        # Every custodian confirms custody with a signing key of its own device (the CLI's),
        # whatever made its encryption key.
        self.custodian_signing: list[ec.EllipticCurvePrivateKey] = []
        for custodian in self.custodians:
            self.custodian_signing.append(p256_public_der()[0])
            register_own_key(custodian, KeyPurpose.SIGNING, self.custodian_signing[-1], label="保管人设备")
        # The bidders sign manifests with keys from their own clients (the browser bidder's browser keeps its own too).
        self.bidder_signing, _ = p256_public_der()
        register_own_key(self.bidder, KeyPurpose.SIGNING, self.bidder_signing, label="投标工具")
        self.other_signing, _ = p256_public_der()
        register_own_key(self.other_bidder, KeyPurpose.SIGNING, self.other_signing, label="投标工具")
        self.other_encryption, _ = p256_public_der()
        register_own_key(self.other_bidder, KeyPurpose.ENCRYPTION, self.other_encryption, label="投标工具")

    # --- the platform's side, done off the main thread ---------------------------------------------------------

    def publish_and_bid(self, folder: Path) -> dict[str, Any]:
        """Publish the tender now, with the deadline LEAD_SECONDS away, and submit both bids before it."""
        now = dt.datetime.now(tz=dt.UTC)
        deadline = (now + dt.timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)
        draft = tenders.create_draft(
            self.tenderer,
            tenders.TenderInput(
                number="RJ-2026-GC-301",
                title="瑞金市叶坪乡村道路提升改造工程",
                description="路面改造与桥涵加固",
                procedure_type="open",
                budget=Decimal("8650000.00"),
                bid_deadline=deadline,
                opening_time=deadline,
                enquiry_deadline=deadline,
                evaluation_method="comprehensive",
                method=default_method("comprehensive"),
                custodian_ids=[c.pk for c in self.custodians],
                custodian_threshold=2,
                lots=[
                    tenders.LotInput(1, "路面工程", Decimal("6200000.00")),
                    tenders.LotInput(2, "桥涵工程", Decimal("2000000.00")),
                ],
            ),
        )
        documents.add_document(self.tenderer, draft, "招标文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
        tender = tenders.publish(self.tenderer, draft)
        for custodian, signing in zip(self.custodians, self.custodian_signing, strict=True):
            confirm_custody_as(custodian, tender, signing)
        assert tender.custodian_slots.get(position=1).public_key.label.startswith("浏览器密钥")
        # The browser bidder's bid is sealed to the encryption key its browser registered: only that browser opens it.
        browser_key = PublicKey.objects.get(owner=self.bidder, purpose=KeyPurpose.ENCRYPTION, revoked_at__isnull=True)
        mine = self.seal_and_submit(
            tender,
            self.bidder,
            (self.bidder_signing, bytes(browser_key.spki_der)),
            folder / "mine",
            [("6123456.70", 180), ("1980000.00", 120)],
        )
        other_keys = (self.other_signing, self.other_encryption.public_key())
        other = self.seal_and_submit(
            tender, self.other_bidder, other_keys, folder / "other", [("5980000.00", 200), ("2050000.50", 150)]
        )
        assert dt.datetime.now(tz=dt.UTC) < deadline, "sealing and submitting took longer than LEAD_SECONDS"
        return {"tender": str(tender.public_id), "opening_time": deadline, "mine": mine, "other": other}

    @staticmethod
    def seal_and_submit(
        tender: Tender,
        user: User,
        keys: tuple[ec.EllipticCurvePrivateKey, Any],
        folder: Path,
        lots: list[tuple[str, int]],
    ) -> str:
        """Seal a small bid as the bidder's client does (signed with ``keys[0]``,
        to encryption key ``keys[1]``) and submit it.
        """
        signing, encryption = keys
        bid_id = str(uuid.uuid4())
        organization = user.organization
        assert organization is not None and organization.credit_code
        summary = PriceSummary(
            tender=str(tender.public_id),
            bid=bid_id,
            bidder=organization.credit_code,
            lots=tuple(
                LotPrice(lot=str(n), price_yuan=price, schedule_days=days, declared={"项目经理": user.display_name})
                for n, (price, days) in enumerate(lots, start=1)
            ),
        )
        source = folder / "技术标.pdf"
        source.parent.mkdir(parents=True)
        source.write_bytes(("施工组织设计 " * 4000).encode())
        slots = tender.custodian_slots.select_related("public_key").order_by("position")
        custodian_keys = [bytes(slot.public_key.spki_der) for slot in slots]
        sink = io.BytesIO()
        sealed = seal_bid(
            str(source),
            summary,
            str(tender.public_id),
            bid_id,
            organization.credit_code,
            signing,
            encryption,
            custodian_keys,
            2,
            sink,
        )
        submit(user, tender, Sealed(sink.getvalue(), sealed, bid_id, b""))
        return bid_id

    def custodian_submits(self, tender_id: str, index: int, corrupt: bool = False) -> int:
        """Custodian ``index`` (0-based) opens its parts on its own device (here) and submits them in one action;
        ``corrupt``: every part it sends is wrong (a faulty device, or a dishonest custodian)."""
        tender = Tender.objects.get(public_id=tender_id)
        parts = []
        for bid in Bid.objects.filter(tender=tender, status=BidStatus.ACCEPTED):
            manifest = parse_manifest(bytes(bid.manifest))
            identity = BidIdentity(manifest.tender, manifest.bid, manifest.bidder)
            for part in open_custodian_parts(manifest.envelopes.custodians, identity, self.device_keys[index]):
                value = bytes(b ^ 0xFF for b in part.part) if corrupt else part.part
                parts.append(custodian_parts.SubmittedPart(bid.public_id, part.members, value))
        return custodian_parts.submit_custodian_parts(self.custodians[index], tender, parts).part_count

    @staticmethod
    def store_fault(bid_id: str) -> str:
        """The object store fails the bid's decryption once (as the worker meets it): it waits out a back-off."""
        with transaction.atomic():
            found = BidOpening.objects.get(bid__public_id=bid_id)
            op = Opening.objects.select_for_update().select_related("tender").get(pk=found.opening_id)
            held = BidOpening.objects.select_for_update().select_related("bid", "bid__bidder").get(pk=found.pk)
            return decryption._fault_locked(op, held, "decryption_faults", "对象存储读写失败")

    @staticmethod
    def decrypt_ready_bids(tender_id: str) -> list[str]:
        """What the worker does with every bid whose key is ready."""
        ready = BidOpening.objects.filter(
            opening__tender__public_id=tender_id, state=BidOpeningState.KEY_READY
        ).order_by("position")
        return [decryption.decrypt_bid(pk) for pk in ready.values_list("pk", flat=True)]

    def other_bidder_confirms(self, tender_id: str) -> None:
        confirmations.confirm_record(self.other_bidder, Tender.objects.get(public_id=tender_id))

    @staticmethod
    def file_the_record(tender_id: str) -> str:
        return file_record(Opening.objects.get(tender__public_id=tender_id).pk)

    # --- the browsers -----------------------------------------------------------------------------------------

    def new_page(self, words: dict[str, Any], user: User, *, context: Any = None) -> Any:
        if context is None:
            locale = "zh-CN" if words["language"] is None else "en-GB"
            context = self.browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
            self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("console", lambda message: self.console.append(f"{user.username} {message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"{user.username} pageerror: {error}"))
        page.on("dialog", lambda dialog: dialog.accept())
        if context.cookies():
            return page
        page.goto(self.live_server_url + "/")
        if words["language"]:
            page.locator("#language-select").select_option(words["language"])
            page.locator(".language-form button[type=submit]").click()
            page.wait_for_load_state()
        page.locator("header").get_by_role("link", name=words["sign_in"]).click()
        page.get_by_label(words["username"]).fill(user.get_username())
        page.get_by_label(words["password"]).fill(PASSWORD)
        page.locator("main").get_by_role("button", name=words["sign_in"]).click()
        page.wait_for_load_state()
        assert page.get_by_role("button", name=words["sign_out"]).is_visible()
        return page

    def make_browser_keys(self, page: Any, shot: Screens, name: str, purposes: int) -> None:
        page.locator("header").get_by_role("link", name="浏览器密钥").click()
        page.wait_for_selector("body[data-keys-page=ready]")
        page.get_by_role("button", name=CHINESE["generate"]).click()
        page.get_by_role("button", name=CHINESE["register"]).click()
        page.wait_for_selector("body[data-keys-state=registered]")
        assert page.locator("#keys-body tr").count() == purposes
        shot(page, f"{name}-browser-key-registered")

    def hall(self, page: Any) -> None:
        page.wait_for_selector("body[data-hall=live]")

    def wait_state(self, page: Any, bid: str, state: str) -> None:
        try:
            page.wait_for_selector(f"#bids-body tr[data-bid='{bid}'][data-state='{state}']")
        except Exception:
            rows = page.locator("#bids-body").inner_text()
            raise AssertionError(f"bid {bid} never showed {state}: {rows!r}; console: {self.console}") from None

    def visible_buttons(self, page: Any) -> list[str]:
        return [selector for selector in BUTTONS if page.locator(selector).is_visible()]

    # --- the scenario ------------------------------------------------------------------------------------------

    def test_a_bidder_and_a_custodian_open_bids_in_their_browsers_and_everyone_watches_it_live(self) -> None:
        shot = Screens("test_opening_hall")
        self.console: list[str] = []
        with self.chromium(), tempfile.TemporaryDirectory() as folder:
            # 1. Keys made in the browsers, before the tender is published.
            custodian = self.new_page(CHINESE, self.custodians[0])
            self.make_browser_keys(custodian, shot, "custodian", purposes=2)  # custodians sign confirmations too
            bidder = self.new_page(CHINESE, self.bidder)
            self.make_browser_keys(bidder, shot, "bidder", purposes=2)

            # 2. Publication, and both bids before the deadline.
            case = off_the_main_thread(self.publish_and_bid, Path(folder))
            tender_id, mine, other = case["tender"], case["mine"], case["other"]
            hall_url = f"{self.live_server_url}/tenders/{tender_id}/opening/"

            # 3. The bidder's hall waits for the opening time, then connects by itself.
            bidder.goto(hall_url)
            # On a loaded machine the opening time may already have come while the bids were submitted.
            bidder.wait_for_selector("#hall-status[data-state=waiting], body[data-hall=live]")
            if bidder.locator("#hall-status[data-state=waiting]").count():
                shot(bidder, "bidder-hall-before-the-opening-time")
            left = (case["opening_time"] - dt.datetime.now(tz=dt.UTC)).total_seconds()
            # Never 0 or less: Playwright takes a timeout of 0 as "wait for ever".
            bidder.wait_for_selector("body[data-hall=live]", timeout=max(30_000, int((left + 20) * 1000)))
            self.wait_state(bidder, mine, "awaiting_key")
            assert bidder.locator(f"#bids-body tr[data-bid='{mine}']").get_attribute("data-own") == "true"

            tenderer = self.new_page(CHINESE, self.tenderer)
            tenderer.goto(f"{self.live_server_url}/tenders/{tender_id}/")
            tenderer.get_by_role("link", name="进入开标大厅").click()
            self.hall(tenderer)
            assert tenderer.locator("#bids-body tr").count() == 2
            assert self.visible_buttons(tenderer) == ["#sign-in-button", "#conclude-button"]
            tenderer.locator("#sign-in-button").click()
            tenderer.wait_for_selector("#attendance-list li")

            bidder.locator("#sign-in-button").click()
            bidder.wait_for_function("() => document.getElementById('attendance-list').children.length === 2")
            assert "王磊（江西红土建设工程有限公司）" in tenderer.locator("#attendance-list").inner_text()
            assert bidder.locator("#sign-in-state").inner_text() == "您已签到。"
            shot(bidder, "bidder-signed-in")

            # A second tab of the same bidder that will not hear its own bid's key arrive (a slow network).
            late = self.new_page(CHINESE, self.bidder, context=bidder.context)
            deaf = {"on": True}

            def hold_back_own_news(route: Any) -> None:
                server = route.connect_to_server()

                def from_server(message: str | bytes) -> None:
                    frame = json.loads(message)
                    if deaf["on"] and frame.get("kind") == "bid.state" and frame["data"]["bid"] == mine:
                        return
                    route.send(message)

                server.on_message(from_server)

            late.route_web_socket(re.compile(r"/ws/tenders/"), hold_back_own_news)
            late.goto(hall_url)
            self.hall(late)

            # 4. The bidder decrypts in its browser: key ready, live on the tenderer's page.
            bidder.locator("#decrypt-button").click()
            bidder.wait_for_function(
                "() => document.getElementById('action-status').textContent.includes('已提交第 1 号')"
            )
            self.wait_state(tenderer, mine, "key_ready")
            assert "投标人解密" in tenderer.locator(f"#bids-body tr[data-bid='{mine}']").inner_text()
            shot(bidder, "bidder-released-its-key")
            shot(tenderer, "tenderer-sees-the-key-ready")

            # Refused: the second tab tries again; the page says why and catches up.
            assert late.locator("#decrypt-button").is_visible()
            late.locator("#decrypt-button").click()
            late.wait_for_selector("#action-error:not([hidden])")
            assert "该投标文件的密钥已提交" in late.locator("#action-error").inner_text()
            assert late.locator("#action-error").get_attribute("role") == "alert"
            self.wait_state(late, mine, "key_ready")
            assert not late.locator("#decrypt-button").is_visible()
            shot(late, "bidder-second-try-refused")
            deaf["on"] = False
            late.close()

            # A store fault holds the bid up: the tenderer sees it, with the next try, and has it retried at once.
            assert off_the_main_thread(self.store_fault, mine) == "retry scheduled"
            retry = tenderer.locator(f"#bids-body tr[data-bid='{mine}'] button[data-retry]")
            retry.wait_for()
            assert (
                "平台故障 1 次（对象存储读写失败），将于"
                in tenderer.locator(f"#bids-body tr[data-bid='{mine}']").inner_text()
            )
            assert bidder.locator(f"#bids-body tr[data-bid='{mine}'] button[data-retry]").count() == 0
            shot(tenderer, "tenderer-sees-a-store-fault-and-a-retry-button")
            retry.click()
            tenderer.wait_for_function(
                "() => document.getElementById('action-status').textContent.includes('已要求平台立即重试解密')"
            )
            tenderer.wait_for_selector(f"#bids-body tr[data-bid='{mine}'] button[data-retry]", state="detached")
            self.wait_state(tenderer, mine, "key_ready")

            # 5. Custodians: one in the browser, one from its own device; two of three open the other bid.
            custodian.goto(f"{self.live_server_url}/dashboard/")
            custodian.get_by_role("link", name=re.compile("开标大厅：RJ-2026-GC-301")).click()
            self.hall(custodian)
            assert self.visible_buttons(custodian) == ["#sign-in-button", "#parts-button"]
            custodian.locator("#sign-in-button").click()
            custodian.locator("#parts-button").click()
            custodian.wait_for_selector("#custodians-body tr[data-custodian='1'][data-submitted=true]")
            # Custodian 1 is in subsets {1,2} and {1,3} of both bids: four parts, one frame.
            assert "已一次提交 4 个密钥分量和 0 份“无法打开”声明" in custodian.locator("#action-status").inner_text()
            tenderer.wait_for_selector("#custodians-body tr[data-custodian='1'][data-submitted=true]")
            self.wait_state(tenderer, other, "awaiting_key")
            shot(custodian, "custodian-submitted-its-parts")

            # Custodian 3's parts are wrong: with custodian 1 they combine to another key, and the hall says so
            # (an XOR cannot tell which of the two it was yet).
            assert off_the_main_thread(self.custodian_submits, tender_id, 2, True) == 4
            tenderer.wait_for_selector(f"#failures-list li[data-failure='{other}']")
            assert (
                "分量有误的保管人在以下人员中（出现在每个不符子集中的保管人）：第 1 号保管人 钟华、第 3 号保管人 陈静"
                in tenderer.locator("#failures-list").inner_text()
            )
            self.wait_state(tenderer, other, "awaiting_key")

            # Custodian 2 completes subset {1,2}: the key; and subset {2,3} fails too, which names custodian 3 alone.
            assert off_the_main_thread(self.custodian_submits, tender_id, 1) == 4
            self.wait_state(tenderer, other, "key_ready")
            self.wait_state(bidder, other, "key_ready")
            assert "密钥保管人解密" in tenderer.locator(f"#bids-body tr[data-bid='{other}']").inner_text()
            # Parts are checked for every bid, the bidder's own released one too: two failing subsets in each.
            tenderer.wait_for_function("() => document.querySelectorAll('#failures-list li').length === 4")
            for bid in (mine, other):
                named = tenderer.locator(f"#failures-list li[data-failure='{bid}']")
                assert named.count() == 2
                assert (
                    named.nth(1)
                    .inner_text()
                    .endswith("分量有误的保管人在以下人员中（出现在每个不符子集中的保管人）：第 3 号保管人 陈静。")
                )
            shot(tenderer, "tenderer-sees-both-keys-ready-and-the-faulty-custodian-named")

            # 6. The worker decrypts (here); no price is shown to anyone before every bid is final.
            assert off_the_main_thread(self.decrypt_ready_bids, tender_id) == ["opened", "opened"]
            for page in (tenderer, bidder, custodian):
                self.wait_state(page, mine, "opened")
                self.wait_state(page, other, "opened")
                for bid in (mine, other):
                    row = page.locator(f"#bids-body tr[data-bid='{bid}']").inner_text()
                    assert "全部投标文件解密完毕后公布" in row and " 元" not in row, row
            shot(tenderer, "tenderer-sees-both-bids-opened-prices-withheld")
            shot(bidder, "bidder-sees-both-bids-opened-prices-withheld")

            # 7. The regulator watches in English, read-only; its connection drops and resumes.
            cut = {"route": None, "refuse": False}
            sent: list[dict[str, Any]] = []

            def watch(route: Any) -> None:
                if cut["refuse"]:
                    route.close()
                    return
                server = route.connect_to_server()
                cut["route"] = (route, server)

                def to_server(message: str | bytes) -> None:
                    sent.append(json.loads(message))
                    server.send(message)

                route.on_message(to_server)

            regulator = self.new_page(ENGLISH, self.regulator)
            regulator.route_web_socket(re.compile(r"/ws/tenders/"), watch)
            regulator.goto(hall_url)
            self.hall(regulator)
            assert self.visible_buttons(regulator) == []
            assert regulator.locator("#actions-section").is_hidden()
            assert regulator.locator("#read-only-note").is_visible()
            assert "Opened" in regulator.locator(f"#bids-body tr[data-bid='{mine}']").inner_text()
            shot(regulator, "regulator-watches-read-only-in-english")
            cut["refuse"] = True
            route, server = cut["route"]
            server.close()
            route.close()
            regulator.wait_for_selector("#hall-status[data-state=reconnecting]")
            shot(regulator, "regulator-reconnecting")

            # 8. The tenderer ends the decryption while the regulator is away.
            tenderer.locator("#conclude-button").click()
            tenderer.wait_for_selector("#hall-phase[data-phase=record]")
            # Every bid final, the record published: the prices appear everywhere without a reload.
            for page in (tenderer, bidder):
                page.wait_for_function(
                    "bid => document.querySelector(`#bids-body tr[data-bid='${bid}']`)"
                    ".textContent.includes('5,980,000.00 元')",
                    arg=other,
                )
            row = tenderer.locator(f"#bids-body tr[data-bid='{mine}']").inner_text()
            assert "6,123,456.70 元" in row and "1,980,000.00 元" in row, row
            shot(tenderer, "tenderer-sees-the-prices-once-every-bid-is-final")
            seen = int(regulator.evaluate("() => document.body.dataset.hallSeq"))
            cut["refuse"] = False
            regulator.wait_for_selector("#hall-phase[data-phase=record]", timeout=60_000)
            resumes = [frame for frame in sent if frame["type"] == "resume"]
            assert resumes and resumes[-1]["last_seq"] == seen, sent
            assert regulator.locator("#hall-status").get_attribute("data-state") == "live"
            shot(regulator, "regulator-resumed-and-caught-up")

            # 9. The record: the bidder objects and confirms; the tenderer answers; closing waits for every bidder.
            bidder.wait_for_selector("#confirm-button:visible")
            shot(bidder, "bidder-sees-the-record")
            bidder.locator("#objection-text").fill(
                "第 2 标段工期读作 120 日历天，与我方开标一览表一致，请在记录中注明项目经理。"
            )
            bidder.locator("#object-button").click()
            tenderer.wait_for_selector("#objections-list li[data-answered=false]")
            tenderer.locator("#objections-list textarea").fill(
                "开标记录已载明各标段的项目经理，见“投标报价与工期”一栏。"
            )
            tenderer.locator("#objections-list button").click()
            bidder.wait_for_selector("#objections-list li[data-answered=true]")
            bidder.locator("#confirm-button").click()
            tenderer.wait_for_function(
                "bid => document.querySelector(`#bids-body tr[data-bid='${bid}']`)"
                ".textContent.includes('已确认开标记录')",
                arg=mine,
            )
            shot(bidder, "bidder-objected-and-confirmed")
            tenderer.locator("#close-button").click()
            tenderer.wait_for_selector("#action-error:not([hidden])")
            assert "还有 1 家投标人未确认开标记录" in tenderer.locator("#action-error").inner_text()
            shot(tenderer, "tenderer-closing-refused-until-every-bidder-confirms")
            off_the_main_thread(self.other_bidder_confirms, tender_id)
            tenderer.wait_for_function(
                "bid => document.querySelector(`#bids-body tr[data-bid='${bid}']`)"
                ".textContent.includes('已确认开标记录')",
                arg=other,
            )
            tenderer.locator("#close-button").click()
            tenderer.wait_for_selector("#hall-phase[data-phase=closed]")
            assert self.visible_buttons(tenderer) == []
            assert off_the_main_thread(self.file_the_record, tender_id) == "filed"
            for page in (tenderer, bidder, regulator):
                page.wait_for_selector("#record-link:not([hidden])")
            shot(tenderer, "tenderer-closed-the-opening-record-filed")
            shot(regulator, "regulator-sees-the-record-filed")
            assert not [line for line in self.console if "pageerror" in line], self.console
            # Only the regulator's connection was cut; everyone else's stayed up from start to end.
            for page in (tenderer, bidder, custodian):
                assert page.evaluate("() => document.body.dataset.hallDrops") is None

        ended = (
            BidOpening.objects.filter(opening__tender__public_id=tender_id).select_related("bid").order_by("position")
        )
        assert [(str(b.bid.public_id), b.state, b.key_source) for b in ended] == [
            (mine, BidOpeningState.OPENED, KeySource.BIDDER),
            (other, BidOpeningState.OPENED, KeySource.CUSTODIANS),
        ]
        assert all(b.confirmed_at is not None and not b.confirmed_by_default for b in ended)
        closed = Opening.objects.get(tender__public_id=tender_id)
        assert closed.closed_at is not None and closed.record_sha256
        assert closed.objections.get().answer.startswith("开标记录已载明")
