"""The expert draw (专家抽取) in Debian's Chromium, against the real platform under Daphne.

1. Before the bid deadline the tenderer asks, on the draw page in its browser, for three TJ01 experts from
   outside region 3607. The regulator's page shows that request; the regulator makes its secret (揭示值) in its
   browser (``crypto.getRandomValues``), which keeps it in localStorage and offers it as a file; only the
   commitment, SHA-256 of the secret, is sent: no request of that browser ever carries the secret before the
   reveal.
2. Three bids are sealed and submitted before the deadline (here, as each bidder's own client would). After the
   deadline the opening runs here, in the test process, with the real clock: each bidder releases its key, the
   custodians submit their parts, the worker decrypts, the decryption is concluded, every bidder confirms the
   record and the tenderer closes the opening.
3. The tenderer freezes the candidates in its browser; the regulator's page fills the secret from localStorage
   and reveals it: the draw is made, and its result (expert codes, never names) appears.
4. The first drawn expert finds the notice on its dashboard, follows it to its invitation page and confirms;
   the second declines there with a reason; the draw page shows the redraw (替补), and the replacement has its
   own notice.
5. Neither the tenderer's pages nor the public record show a name of the pool. The record downloaded from the
   tenderer's page recomputes with ``python -m evaluation.draw_check`` (exit 0), and a copy whose redraw was
   changed does not (exit 1, the mismatch named).

Time: the live server has the real clock, so the deadline is real, ``LEAD_SECONDS`` after publication, and the
test waits for it; ``BID_PERIOD_MIN_DAYS`` is 0 for this server (``extra_settings``), nothing else is bent.
Screenshots go to ``test-output/screenshots/test_expert_draw/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar

import pytest
from django.conf import settings

from accounts import credit_code
from accounts.models import Organization, OrganizationKind, Role
from evaluation.models import CommitteeMember, DrawParty, Evaluation, MemberState
from tendering.models import BidOpening, BidOpeningState, Notification, NotificationKind, Opening, Phase, Tender
from tendering.sealing import BidIdentity, open_bidder_envelope, open_custodian_parts, parse_manifest
from tendering.services import decryption, documents, tenders
from tendering.services.opening import admission, conclusion, confirmations, custodian_parts, keys
from tests.bids.conftest import BidderKeys, Sealed, keys_for, seal, submit
from tests.browser.test_browser_sealing import build_frontend
from tests.browser.test_opening_hall import off_the_main_thread
from tests.browser.test_publish_and_enquire import Screens
from tests.evaluation.pool_helpers import expert
from tests.fixtures.live_platform import BrowserLiveServerTestCase, requires_chromium
from tests.fixtures.personas import (
    PASSWORD,
    PDF_BYTES,
    Personas,
    confirm_custody,
    make_personas,
    make_user,
    tender_input,
)

pytestmark = [pytest.mark.browser, requires_chromium]

TIMEOUT_MS = 30_000
# From publication to the deadline: three bids sealed and submitted, the tenderer's request and the regulator's
# commitment in two browsers (about 10 s on a loaded two-core machine).
LEAD_SECONDS = 30
EXCLUDED_REGION = "3607"


class LiveTenderCase(BrowserLiveServerTestCase):
    """A tender published with a real deadline, bids sealed and submitted before it, and its opening run here with
    the real clock (also tests/browser/test_failed_hall.py)."""

    extra_settings: ClassVar[dict[str, Any]] = {
        "BID_PERIOD_MIN_DAYS": {"open": 0, "invited": 0, "negotiation": 0, "consultation": 0, "inquiry": 0},
    }

    @classmethod
    def setUpClass(cls) -> None:
        build_frontend()
        super().setUpClass()

    def setUp(self) -> None:
        super().setUp()
        self.personas: Personas = make_personas()
        third = Organization.objects.create(
            name="赣州宏远建设有限公司", kind=OrganizationKind.BIDDER, credit_code=credit_code.make("91360781MF0000003")
        )
        self.bidders = [self.personas.bidder_a, self.personas.bidder_b, make_user("bidder_c", third, Role.BIDDER)]
        self.bidder_keys: list[BidderKeys] = [keys_for(user) for user in self.bidders]

    # --- the platform's side, off the main thread while Chromium runs -------------------------------------------

    def publish(self, lead_seconds: int, number: str, title: str) -> Tender:
        deadline = (dt.datetime.now(tz=dt.UTC) + dt.timedelta(seconds=lead_seconds)).replace(microsecond=0)
        draft = tenders.create_draft(
            self.personas.tenderer,
            tender_input(
                deadline,
                self.personas.custodians,
                number=number,
                title=title,
                bid_deadline=deadline,
                opening_time=deadline,
                enquiry_deadline=deadline,
            ),
        )
        documents.add_document(self.personas.tenderer, draft, "招标文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
        return confirm_custody(tenders.publish(self.personas.tenderer, draft), self.personas)

    def bid(self, tender: Tender, folder: Path, count: int = 3) -> list[Sealed]:
        """Bids of the first ``count`` bidders, sealed and submitted as each one's own client does."""
        sealed = []
        for number, (user, bidder_keys) in enumerate(
            zip(self.bidders[:count], self.bidder_keys, strict=False), start=1
        ):
            made = seal(tender, bidder_keys, folder / f"bidder{number}", price=f"{6_100_000 + number * 12_345}.00")
            submit(user, tender, made)
            sealed.append(made)
        return sealed

    def open_and_close(self, tender: Tender, sealed: list[Sealed]) -> Tender:
        """The opening with the real clock: keys released, parts submitted, decrypted, confirmed, closed."""
        admission.ensure_opening(tender)
        for bidder_keys, made in zip(self.bidder_keys, sealed, strict=False):
            manifest = parse_manifest(made.sealed.manifest_bytes)
            file_key = open_bidder_envelope(manifest.envelopes.bidder, manifest.identity, bidder_keys.encryption)
            keys.release_key(bidder_keys.user, tender, made.bid_id, file_key)
        for index, custodian in enumerate(self.personas.custodians):
            parts = []
            for made in sealed:
                manifest = parse_manifest(made.sealed.manifest_bytes)
                identity = BidIdentity(manifest.tender, manifest.bid, manifest.bidder)
                for part in open_custodian_parts(
                    manifest.envelopes.custodians, identity, self.personas.custodian_keys[index]
                ):
                    parts.append(custodian_parts.SubmittedPart(uuid.UUID(made.bid_id), part.members, part.part))
            custodian_parts.submit_custodian_parts(custodian, tender, parts)
        for bid_opening in BidOpening.objects.filter(opening__tender=tender, state=BidOpeningState.KEY_READY):
            decryption.decrypt_bid(bid_opening.pk)
        conclusion.conclude_decryption(self.personas.tenderer, tender)
        assert Opening.objects.get(tender=tender).record_published_at is not None
        for user in self.bidders[: len(sealed)]:
            confirmations.confirm_record(user, tender)
        conclusion.close_opening(self.personas.tenderer, tender)
        return Tender.objects.get(pk=tender.pk)

    def wait_for_the_deadline(self, tender: Tender) -> None:
        time.sleep(max(0.0, (tender.bid_deadline - dt.datetime.now(tz=dt.UTC)).total_seconds()) + 1)

    def browser_of(self, username: str) -> Any:
        context = self.browser.new_context(locale="zh-CN", accept_downloads=True)
        self.contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.goto(self.live_server_url + "/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url)
        return page


class ExpertDrawTest(LiveTenderCase):
    def setUp(self) -> None:
        super().setUp()
        # The pool: five TJ01 experts from 深圳 (440300), and one from the tender's own city, excluded by the request.
        self.pool = [expert(f"E{i:03d}", "TJ01") for i in range(1, 6)]
        self.pool.append(expert("E900", "TJ01", region="360781"))
        self.names = [e.name for e in self.pool]

    @staticmethod
    def drawn(tender: Tender) -> list[CommitteeMember]:
        return list(
            CommitteeMember.objects.filter(evaluation__tender=tender)
            .select_related("expert__user", "replaces__expert")
            .order_by("draw_rank")
        )

    def test_the_regulator_commits_and_reveals_in_its_browser_and_the_experts_answer_from_theirs(self) -> None:
        shot = Screens("test_expert_draw")
        folder = Path(tempfile.mkdtemp(prefix="etender-draw-bids-"))
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        with self.chromium():
            tenderer = self.browser_of("tenderer")
            regulator = self.browser_of("regulator")
            sent_by_regulator: list[str] = []
            regulator.on("request", lambda request: sent_by_regulator.append(f"{request.url} {request.post_data}"))

            tender = off_the_main_thread(self.publish, LEAD_SECONDS, "RJ-2026-ZJ-001", "瑞金市九堡镇农村公路改造工程")
            draw_url = f"{self.live_server_url}/tenders/{tender.public_id}/experts/"
            sealed = off_the_main_thread(self.bid, tender, folder)

            # 1. The tenderer's request, before the deadline.
            tenderer.goto(draw_url)
            tenderer.fill('#request-form input[name="count_TJ01"]', "3")
            tenderer.fill("#excluded_regions", EXCLUDED_REGION)
            tenderer.click("#request-form button[type=submit]")
            assert "专家抽取申请已保存" in tenderer.inner_text(".messages")
            shot(tenderer, "tenderer-request")

            # The regulator sees the request, makes its secret in the browser and sends only the commitment.
            regulator.goto(draw_url)
            shown = regulator.inner_text("#request-shown")
            assert "TJ01" in shown and "3 人" in shown and EXCLUDED_REGION in shown
            with regulator.expect_download() as download_info:
                regulator.click("#make-secret")
            secret_file = Path(download_info.value.path()).read_text("utf-8").strip()
            kept = regulator.evaluate(f"localStorage.getItem('etender-draw-secret:{tender.public_id}')")
            assert kept == secret_file and len(kept) == 64
            commitment = hashlib.sha256(bytes.fromhex(kept)).hexdigest()
            assert regulator.input_value("#commitment") == commitment
            assert commitment in regulator.inner_text("#commit-state")
            shot(regulator, "regulator-secret-made")
            regulator.click("#send-commitment")
            assert "承诺值已提交" in regulator.inner_text(".messages")
            stored = off_the_main_thread(
                lambda: Evaluation.objects.get(tender=tender).commitments.get(party=DrawParty.SUPERVISOR).commitment
            )
            assert stored == commitment
            assert any(commitment in sent for sent in sent_by_regulator)
            assert not any(kept in sent for sent in sent_by_regulator), "the secret left the browser before the reveal"
            assert dt.datetime.now(tz=dt.UTC) < tender.bid_deadline, "the steps before the deadline took too long"

            # 2. The deadline passes; the opening runs and closes with three valid bids.
            self.wait_for_the_deadline(tender)
            tender = off_the_main_thread(self.open_and_close, tender, sealed)
            assert tender.phase(dt.datetime.now(tz=dt.UTC)) == Phase.EVALUATION

            # 3. The tenderer freezes the candidates; the regulator reveals the secret its browser kept.
            tenderer.goto(draw_url)
            tenderer.click("button:has-text('锁定候选专家')")
            assert "候选专家已锁定并记录" in tenderer.inner_text(".messages")
            frozen = off_the_main_thread(lambda: Evaluation.objects.get(tender=tender).draw_record)
            assert "E900" not in frozen["candidates"]["TJ01"] and len(frozen["candidates"]["TJ01"]) == 5
            assert {"expert": "E900", "specialty": "TJ01", "reasons": ["region_excluded"]} in frozen["exclusions"]
            regulator.goto(draw_url)
            assert regulator.input_value("#secret") == kept
            shot(regulator, "regulator-reveal")
            regulator.click("#reveal-form button[type=submit]")
            assert "抽取完成" in regulator.inner_text(".messages")
            members = off_the_main_thread(self.drawn, tender)
            assert [m.state for m in members] == [MemberState.INVITED] * 3
            result = regulator.inner_text("#draw-result")
            assert all(m.expert.code in result for m in members)
            seed = off_the_main_thread(lambda: Evaluation.objects.get(tender=tender).seed)
            assert seed and seed in regulator.inner_text("#commitments-heading + dl")
            shot(regulator, "regulator-drawn")

            # 4. The first drawn expert confirms from its invitation page, reached from its notice.
            first, second = members[0], members[1]
            first_page = self.browser_of(first.expert.user.username)
            first_page.goto(f"{self.live_server_url}/dashboard/")
            notice = first_page.locator("li.notification", has_text="您被抽取为招标项目")
            assert tender.title in notice.inner_text() and "远程评标" in notice.inner_text()
            notice.locator("a").click()
            first_page.wait_for_url(f"**/tenders/{tender.public_id}/invitation/")
            shot(first_page, "expert-invitation")
            first_page.click("#confirm-form button")
            assert "已确认参加评标" in first_page.inner_text(".messages")
            assert first_page.inner_text("#invitation-state") == "已确认参加"
            # The second declines with its reason: the next of the order is invited, and told.
            second_page = self.browser_of(second.expert.user.username)
            second_page.goto(f"{self.live_server_url}/tenders/{tender.public_id}/invitation/")
            second_page.fill("#decline-reason", "当日另有评标任务")
            second_page.click("#decline-form button")
            assert "已拒绝邀请" in second_page.inner_text(".messages")
            assert "当日另有评标任务" in second_page.inner_text("#invitation")
            shot(second_page, "expert-declined")
            members = off_the_main_thread(self.drawn, tender)
            replacement = next(m for m in members if m.replaces_id == second.pk)
            told = off_the_main_thread(
                lambda: list(
                    Notification.objects.filter(kind=NotificationKind.EXPERT_INVITED).values_list(
                        "recipient_id", "params__redraw"
                    )
                )
            )
            assert sorted(told) == sorted(
                [(m.expert.user_id, False) for m in members[:3] if m.replaces_id is None]
                + [(replacement.expert.user_id, True)]
            )
            regulator.goto(draw_url)
            rows = regulator.inner_text("#draw-result")
            assert f"替补 {second.expert.code}" in rows and replacement.expert.code in rows
            assert "已拒绝" in rows and "已确认" in rows
            shot(regulator, "regulator-redraw")

            # 5. The tenderer sees counts and codes, never a name; the record recomputes offline.
            for url in (draw_url, f"{self.live_server_url}/tenders/{tender.public_id}/"):
                tenderer.goto(url)
                text = tenderer.content()
                assert not [name for name in self.names if name in text], url
            tenderer.goto(draw_url)
            assert "已确认 1 人，待确认 2 人" in tenderer.inner_text("#draw-counts")
            shot(tenderer, "tenderer-after-redraw")
            with tenderer.expect_download() as record_info:
                tenderer.click("text=下载抽取记录")
            record_path = folder / "draw.json"  # Playwright's own copy goes with the browser
            record_info.value.save_as(record_path)
            record = json.loads(record_path.read_text("utf-8"))
            assert not [name for name in self.names if name in json.dumps(record, ensure_ascii=False)]
            assert record["reveals"]["supervisor"] == kept
            assert record["redraws"] == [
                {
                    "specialty": "TJ01",
                    "replaced": second.expert.code,
                    "reason": "declined",
                    "expert": replacement.expert.code,
                    "rank": replacement.draw_rank,
                }
            ]

        checked = subprocess.run(
            [sys.executable, "-m", "evaluation.draw_check", str(record_path)],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        others = [e.code for e in self.pool if e.code not in {m.expert.code for m in members} and e.code != "E900"]
        tampered = dict(record, redraws=[dict(record["redraws"][0], expert=others[0])])
        tampered_path = folder / "tampered.json"
        tampered_path.write_text(json.dumps(tampered), encoding="utf-8")
        refused = subprocess.run(
            [sys.executable, "-m", "evaluation.draw_check", str(tampered_path)],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        assert refused.returncode == 1 and "mismatch" in refused.stdout + refused.stderr
