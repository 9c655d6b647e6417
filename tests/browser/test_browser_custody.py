"""Custody in the browser: the real platform under Daphne, driven through Debian's Chromium.

A custodian makes its keys in the browser (both proven to the platform with the
non-extractable private keys), and after publication confirms custody on its
own page: the page checks that the tender lists the browser's own encryption key
at its position, shows k, n and the position, and signs with the browser's
signing key. A bidder imports the key CA's certificate from a file into its
browser's trust list; its bid page then refuses to seal while a custodian has
not confirmed, naming that custodian; seals once all three confirmations check;
and refuses again, naming the custodian and why, once the operator swaps that
custodian's signing key in the database, although the page had loaded while
everything still checked. The page shows the hash of the bundle it runs, which
is the one the deployment recorded in the ledger.

Screenshots go to ``test-output/screenshots/test_browser_custody/``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from django.core.management import call_command

from accounts import credit_code, key_ca
from accounts.models import KeyPurpose, Organization, OrganizationKind, PublicKey, Role, RoleGrant, User
from accounts.own_device import register_own_key, sign, spki_der
from archive.canonical import canonical_json
from archive.models import LedgerEntry
from frontend.deployment import DEPLOYMENT_ACTION, served_bundle_sha256
from tendering.method import default_method
from tendering.models import Bid, BidStatus, BidUpload, Tender, TenderCustodian
from tendering.own_device import confirm_custody_as
from tendering.services import documents, tenders
from tests.browser.test_browser_sealing import build_frontend, method_without_documents
from tests.browser.test_opening_hall import off_the_main_thread
from tests.browser.test_publish_and_enquire import Screens
from tests.fixtures.live_platform import BrowserLiveServerTestCase, requires_chromium
from tests.fixtures.personas import PDF_BYTES, p256_public_der

PASSWORD = "Browser-Custody-2026"
TIMEOUT_MS = 30_000

pytestmark = [pytest.mark.browser, requires_chromium]


class BrowserCustodyTest(BrowserLiveServerTestCase):
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

        self.tenderer = user(
            "tenderer", "刘建国", org("瑞金市城市建设投资有限公司", OrganizationKind.TENDERER, 1), Role.TENDERER_STAFF
        )
        self.bidder = user(
            "wanglei_hongtu", "王磊", org("江西红土建设工程有限公司", OrganizationKind.BIDDER, 2), Role.BIDDER
        )
        regulator_org = org("瑞金市发展和改革委员会", OrganizationKind.REGULATOR, 3)
        self.custodians = [
            user(f"custodian{i}", name, regulator_org, Role.CUSTODIAN)
            for i, name in ((1, "钟华"), (2, "黄芳"), (3, "陈静"))
        ]
        # Custodians 2 and 3 keep their keys on devices of their own (the CLI's);
        # custodian 1 makes its keys in the browser.
        self.device_signing: dict[int, ec.EllipticCurvePrivateKey] = {}
        self.device_encryption: dict[int, ec.EllipticCurvePrivateKey] = {}
        for index in (1, 2):
            self.device_encryption[index] = p256_public_der()[0]
            register_own_key(
                self.custodians[index], KeyPurpose.ENCRYPTION, self.device_encryption[index], label="保管人设备"
            )
            self.device_signing[index] = p256_public_der()[0]
            register_own_key(self.custodians[index], KeyPurpose.SIGNING, self.device_signing[index], label="保管人设备")
        self.key_ca_pem = key_ca.demo_ca_certificate_pem()

    # --- the platform's side (off the main thread while Chromium runs) -----------------------------------------

    def publish(self) -> str:
        deadline = (dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=30)).replace(microsecond=0)
        draft = tenders.create_draft(
            self.tenderer,
            tenders.TenderInput(
                number="RJ-2026-GC-401",
                title="瑞金市壬田镇乡村道路提升改造工程",
                description="路面改造",
                procedure_type="open",
                budget=Decimal("8650000.00"),
                bid_deadline=deadline,
                opening_time=deadline,
                enquiry_deadline=deadline - dt.timedelta(days=10),
                evaluation_method="comprehensive",
                method=method_without_documents(default_method("comprehensive")),
                custodian_ids=[c.pk for c in self.custodians],
                custodian_threshold=2,
                lots=[],
            ),
        )
        documents.add_document(self.tenderer, draft, "招标文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
        tender = tenders.publish(self.tenderer, draft)
        # Custodian 2 confirms on its own device at once; custodian 3 later.
        confirm_custody_as(self.custodians[1], tender, self.device_signing[1], self.device_encryption[1])
        return str(tender.public_id)

    def confirm_on_device(self, tender_id: str, index: int) -> None:
        confirm_custody_as(
            self.custodians[index],
            Tender.objects.get(public_id=tender_id),
            self.device_signing[index],
            self.device_encryption[index],
        )

    def browser_keys_of(self, user: User) -> dict[str, Any]:
        keys = {k.purpose: k for k in PublicKey.objects.filter(owner=user, revoked_at__isnull=True)}
        return {
            "purposes": sorted(keys),
            "labels": sorted(k.label[:5] for k in keys.values()),
            "statements": {p: json.loads(bytes(k.proof_statement)) for p, k in keys.items()},
            "signing": (
                bytes(keys["signing"].spki_der),
                bytes(keys["signing"].proof),
                bytes(keys["signing"].proof_statement),
            ),
            "certified": all(k.certificate_der for k in keys.values()),
        }

    def slot_of(self, tender_id: str, index: int) -> dict[str, Any]:
        slot = TenderCustodian.objects.select_related("custody_signing_key").get(
            tender__public_id=tender_id, user=self.custodians[index]
        )
        return {
            "confirmed": slot.custody_confirmed_at is not None,
            "signing_key": slot.custody_signing_key.fingerprint if slot.custody_signing_key else None,
            "ledger": list(
                LedgerEntry.objects.filter(
                    action="tendering.custody.confirmed",
                    data__contains=f'"custodian":"{self.custodians[index].username}"',
                ).values_list("seq", flat=True)
            ),
        }

    def operator_swaps_signing_key(self, tender_id: str, index: int) -> str:
        """What an operator with the database does: a key of its own for the custodian,
        and the slot's confirmation redone with it.
        """
        attacker = ec.generate_private_key(ec.SECP256R1())
        custodian = self.custodians[index]
        key = PublicKey.objects.create(
            owner=custodian,
            organization=custodian.organization,
            purpose=KeyPurpose.SIGNING,
            spki_der=spki_der(attacker),
            fingerprint=PublicKey.fingerprint_of(spki_der(attacker)),
            label="保管人设备",
            registered_at=dt.datetime.now(tz=dt.UTC),
        )
        slot = TenderCustodian.objects.select_related("tender").get(tender__public_id=tender_id, user=custodian)
        slots = list(slot.tender.custodian_slots.select_related("public_key").order_by("position"))
        statement = canonical_json(
            {
                "format": "etender-custody-v1",
                "tender": tender_id,
                "index": index,
                "threshold": slot.tender.custodian_threshold,
                "recipients": [s.public_key.fingerprint for s in slots],
                "custodian": custodian.username,
                "signing_key": key.fingerprint,
            }
        )
        TenderCustodian.objects.filter(pk=slot.pk).update(
            custody_signing_key=key, custody_statement=statement, custody_signature=sign(attacker, statement)
        )
        return key.fingerprint

    def record_deployment(self) -> str:
        call_command("record_deployment", "--release", "test", stdout=io.StringIO())
        entry = LedgerEntry.objects.filter(action=DEPLOYMENT_ACTION).order_by("-seq").first()
        assert entry is not None
        return str(json.loads(entry.data)["bundle_sha256"])

    def uploads(self, tender_id: str) -> list[str]:
        return [str(u.bid_id) for u in BidUpload.objects.filter(tender__public_id=tender_id)]

    def on_platform(self, function: Any, *args: Any) -> Any:
        return off_the_main_thread(function, *args)

    # --- the browser's side -----------------------------------------------------------------------------------

    def new_page(self, user: User) -> Any:
        context = self.browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(self.live_server_url + "/login/")
        page.get_by_label("用户名").fill(user.get_username())
        page.get_by_label("密码").fill(PASSWORD)
        page.locator("main").get_by_role("button", name="登录").click()
        page.wait_for_load_state()
        assert page.get_by_role("button", name="退出").is_visible()
        return page

    def make_browser_keys(self, page: Any, shot: Screens, name: str) -> None:
        page.goto(self.live_server_url + "/keys/browser/")
        page.wait_for_selector("body[data-keys-page=ready]")
        page.get_by_role("button", name="生成密钥").click()
        page.get_by_role("button", name="登记到平台").click()
        try:
            page.wait_for_selector("body[data-keys-state=registered]")
        except Exception:
            raise AssertionError(
                f"keys not registered: {page.locator('#keys-message').inner_text()!r}; console: {self.console}"
            ) from None
        assert page.locator("#keys-body tr").count() == 2
        assert "浏览器中的这些核验不会比平台发送的脚本更可靠" in page.locator(".browser-path").inner_text()
        shot(page, f"{name}-browser-keys-registered")

    def custody_state(self, page: Any) -> str:
        return str(page.locator("#custody-state").inner_text())

    def test_a_custodian_confirms_in_its_browser_and_the_bidders_page_seals_only_when_every_confirmation_checks(
        self,
    ) -> None:
        shot = Screens("test_browser_custody")
        self.console: list[str] = []
        with self.chromium():
            # -- the custodian's keys, proven in the browser -------------------------------------------------------
            custodian = self.new_page(self.custodians[0])
            self.make_browser_keys(custodian, shot, "custodian")
            keys = self.on_platform(self.browser_keys_of, self.custodians[0])
            assert keys["purposes"] == ["encryption", "signing"]
            assert keys["labels"] == ["浏览器密钥", "浏览器密钥"]
            for purpose, statement in keys["statements"].items():
                assert (
                    statement["format"] == "etender-key-proof-v1"
                    and statement["purpose"] == purpose
                    and statement["user"] == "custodian1"
                )
            spki, signature, statement_bytes = keys["signing"]
            verifier = load_der_public_key(spki)
            assert isinstance(verifier, ec.EllipticCurvePublicKey)
            verifier.verify(signature, statement_bytes, ec.ECDSA(hashes.SHA256()))  # anyone can re-check it, offline

            tender_id = self.on_platform(self.publish)
            custody_url = f"{self.live_server_url}/tenders/{tender_id}/custody/"

            # -- the custodian confirms on its own page ------------------------------------------------------------
            custodian.goto(self.live_server_url + "/dashboard/")
            custodian.get_by_role("link", name="签名确认保管").click()
            custodian.wait_for_selector("body[data-custody-page=ready]")
            assert custodian.url == custody_url
            assert custodian.locator("body").get_attribute("data-custody-state") == "ready", self.custody_state(
                custodian
            )
            assert custodian.locator("#custody-position").inner_text() == "第 1 位（共 3 位），开启门限 2"
            assert custodian.locator("#custody-tender").inner_text() == tender_id
            shot(custodian, "custodian-ready-to-confirm")
            assert not self.on_platform(self.slot_of, tender_id, 0)["confirmed"]
            custodian.get_by_role("button", name="签名确认保管").click()
            custodian.wait_for_selector("body[data-custody-state=confirmed]")
            assert "已确认" in self.custody_state(custodian)
            shot(custodian, "custodian-confirmed")
            slot = self.on_platform(self.slot_of, tender_id, 0)
            browser_signing = PublicKey.fingerprint_of(spki)
            assert slot["confirmed"] and slot["signing_key"] == browser_signing and len(slot["ledger"]) == 1
            # Once per slot: the page now says so and offers nothing to sign.
            custodian.reload()
            custodian.wait_for_selector("body[data-custody-page=ready]")
            assert custodian.locator("body").get_attribute("data-custody-state") == "confirmed"
            assert custodian.locator("#confirm-button").is_disabled()

            # -- the bidder: refused while custodian 3 has not confirmed -------------------------------------------
            bidder = self.new_page(self.bidder)
            self.make_browser_keys(bidder, shot, "bidder")
            bidder.goto(f"{self.live_server_url}/tenders/{tender_id}/bid/")
            bidder.wait_for_selector("body[data-bid-page=ready]")
            # Nothing trusted yet: every custodian's key is untrusted, and the page says so.
            assert bidder.locator("#custody-state").get_attribute("data-ok") == "false"
            assert bidder.locator("#custody-list li.check-failed").count() == 3
            assert (
                "签名密钥不在您的信任列表中"
                in bidder.locator("#custody-list li[data-username=custodian1]").inner_text()
            )
            bidder.locator("#trust-ca-file").set_input_files(
                files=[{"name": "key-ca.pem", "mimeType": "application/x-pem-file", "buffer": self.key_ca_pem}]
            )
            bidder.wait_for_selector("#trust-list li[data-anchor]")
            bidder.wait_for_function("() => document.querySelectorAll('#custody-list li.check-ok').length === 2")
            assert bidder.locator("#custody-state").get_attribute("data-ok") == "false"
            assert self.custody_state(bidder) == "不能密封：保管人 陈静（custodian3）尚未签名确认保管。"
            assert bidder.locator("#seal-button").is_disabled()
            shot(bidder, "bidder-refused-unconfirmed")

            # -- all three confirmed: the page seals ----------------------------------------------------------------
            self.on_platform(self.confirm_on_device, tender_id, 2)
            bidder.reload()
            bidder.wait_for_selector("body[data-bid-page=ready]")
            bidder.wait_for_selector("#custody-state[data-ok=true]")
            assert self.custody_state(bidder) == "全部 3 名保管人的签名确认均已通过本浏览器信任列表的核验。"
            assert bidder.locator("#custody-list li.check-ok").count() == 3
            recorded = self.on_platform(self.record_deployment)
            assert bidder.locator("#bundle-sha256").inner_text() == recorded == served_bundle_sha256()
            bidder.locator("#bid-files").set_input_files(
                files=[{"name": "投标函.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 bid"}]
            )
            bidder.locator("#price-1").fill("8123456.70")
            bidder.locator("#days-1").fill("200")
            shot(bidder, "bidder-custody-checked")
            bidder.get_by_role("button", name="密封并提交投标文件").click()
            try:
                bidder.wait_for_selector("#receipt-verdict[data-verified=true]", timeout=90_000)
            except Exception:
                raise AssertionError(
                    f"not sealed: {bidder.locator('#error').inner_text()!r} "
                    f"{bidder.locator('#status').inner_text()!r}; console: {self.console}"
                ) from None
            shot(bidder, "bidder-sealed")
            assert self.on_platform(
                lambda: list(Bid.objects.filter(tender__public_id=tender_id).values_list("status", flat=True))
            ) == [BidStatus.ACCEPTED]

            # -- the operator swaps custodian 2's signing key: the page, already loaded, refuses at the seal ---------
            bidder.locator("#bid-files").set_input_files(
                files=[{"name": "投标函.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 second"}]
            )
            bidder.locator("#price-1").fill("7999999.00")
            bidder.locator("#days-1").fill("180")
            assert bidder.locator("#seal-button").is_enabled()
            uploads_before = self.on_platform(self.uploads, tender_id)
            swapped = self.on_platform(self.operator_swaps_signing_key, tender_id, 1)
            bidder.get_by_role("button", name="密封并提交投标文件").click()
            bidder.wait_for_selector("#error:not([hidden])")
            refusal = (
                "不能密封：保管人 黄芳（custodian2）签名密钥不在您的信任列表中："
                "既未手工固定指纹，也没有受信任 CA 签发的证书。"
            )
            assert self.custody_state(bidder) == refusal
            assert bidder.locator("#error").inner_text() == refusal
            assert (
                bidder.locator("#custody-list li[data-username=custodian2]").get_attribute("data-reason")
                == "untrusted_key"
            )
            assert swapped in bidder.locator("#custody-list li[data-username=custodian2]").inner_text()
            assert bidder.locator("#seal-button").is_disabled()
            shot(bidder, "bidder-refused-swapped-key")
            # Nothing left the browser: no new upload was started.
            assert self.on_platform(self.uploads, tender_id) == uploads_before
            # Pinning the operator's fingerprint by hand would be the bidder's own choice; a wrong pin changes nothing.
            bidder.locator("#pin-username").fill("custodian2")
            bidder.locator("#pin-fingerprint").fill("00" * 32)
            bidder.locator("#pin-button").click()
            bidder.wait_for_selector("#trust-list li[data-pin=custodian2]")
            bidder.wait_for_selector("#custody-state[data-ok=false]")
            assert self.custody_state(bidder) == refusal
        assert self.on_platform(lambda: Bid.objects.filter(tender__public_id=tender_id).count()) == 1
