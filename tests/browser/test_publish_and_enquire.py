"""The real platform under Daphne, driven through Debian's Chromium.

A tenderer drafts a tender with a PDF and publishes it; a bidder finds it, asks a
question and downloads the document (its SHA-256 matches the page); the tenderer
answers; anyone reads the answer, which never names the asker. Once in Chinese,
once in English chosen through the page's language switcher.

The Daphne process keeps real time (services read ``config.clock``), so the
deadlines are real future dates. Every page visited is saved under
``test-output/screenshots/<test>/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from accounts import credit_code
from accounts.models import KeyPurpose, Organization, OrganizationKind, Role, RoleGrant, User
from accounts.own_device import register_own_key
from config.formatting import platform_zone
from frontend.demo import demo_pdf
from tests.fixtures.live_platform import BrowserLiveServerTestCase, requires_chromium
from tests.fixtures.personas import p256_public_der

SCREENSHOTS = Path(settings.BASE_DIR) / "test-output" / "screenshots"
PASSWORD = "Browser-Persona-2026"
TIMEOUT_MS = 20_000

pytestmark = [
    pytest.mark.browser,
    requires_chromium,
]


class Screens:
    """Saves a full-page screenshot of each page visited, numbered in order."""

    def __init__(self, test_name: str) -> None:
        self.folder = SCREENSHOTS / test_name
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.count = 0

    def __call__(self, page: Any, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)


# What each scenario reads and clicks, in its language.
CHINESE = {
    "language": None,
    "username": "用户名",
    "password": "密码",
    "sign_in": "登录",
    "sign_out": "退出",
    "new_tender": "新建项目",
    "number": "招标编号",
    "title": "项目名称",
    "description": "项目概况",
    "budget": "预算金额（元）",
    "enquiry_deadline": "提问截止时间",
    "bid_deadline": "投标截止时间",
    "opening_time": "开标时间",
    "threshold": "开启门限 k",
    "lot_number": "标段号",
    "lot_name": "标段名称",
    "lot_budget": "标段预算（元）",
    "save_draft": "保存草稿",
    "documents_heading": "招标文件",
    "upload": "上传",
    "uploaded": "已上传：",
    "back_to_tender": "返回项目页面发布",
    "draft_notice": "这是未发布的草稿",
    "publish": "发布招标公告",
    "published": "招标公告已发布。",
    "open_for_bids": "投标中",
    "keyword": "关键词",
    "search": "搜索",
    "your_question": "您的问题",
    "submit_question": "提交问题",
    "question_submitted": "问题已提交。",
    "download": "下载",
    "questions": "答疑",
    "answer": "答复",
    "publish_answer": "公开答复",
    "answer_published": "答复已公开发布。",
    "dashboard": "工作台",
    "my_questions": "我的提问",
    "downloads": "我下载的招标文件",
    "platform": "电子招标投标交易平台",
}
ENGLISH = {
    "language": "en",
    "username": "Username",
    "password": "Password",
    "sign_in": "Sign in",
    "sign_out": "Sign out",
    "new_tender": "New tender",
    "number": "Tender number",
    "title": "Project name",
    "description": "Project description",
    "budget": "Budget (CNY)",
    "enquiry_deadline": "Enquiry deadline",
    "bid_deadline": "Bid deadline",
    "opening_time": "Bid opening time",
    "threshold": "Opening threshold k",
    "lot_number": "Lot number",
    "lot_name": "Lot name",
    "lot_budget": "Lot budget (CNY)",
    "save_draft": "Save draft",
    "documents_heading": "Tender documents",
    "upload": "Upload",
    "uploaded": "Uploaded: ",
    "back_to_tender": "Back to the tender page to publish",
    "draft_notice": "This is an unpublished draft",
    "publish": "Publish the tender announcement",
    "published": "The tender announcement is published.",
    "open_for_bids": "Open for bids",
    "keyword": "Keywords",
    "search": "Search",
    "your_question": "Your question",
    "submit_question": "Submit question",
    "question_submitted": "Question submitted.",
    "download": "Download",
    "questions": "Questions and answers",
    "answer": "Answer",
    "publish_answer": "Publish answer",
    "answer_published": "The answer is published.",
    "dashboard": "Dashboard",
    "my_questions": "My questions",
    "downloads": "Tender documents I downloaded",
    "platform": "Electronic Tendering and Bidding Platform",
}


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(platform_zone()).strftime("%Y-%m-%dT%H:%M")


class PublishAndEnquireTest(BrowserLiveServerTestCase):
    def setUp(self) -> None:
        super().setUp()

        def org(name: str, kind: str, index: int) -> Organization:
            return Organization.objects.create(
                name=name, kind=kind, credit_code=credit_code.make(f"91360781MB{index:07d}")
            )

        def user(username: str, display_name: str, organization: Organization, role: str) -> User:
            person = User.objects.create_user(
                username=username, password=PASSWORD, display_name=display_name, organization=organization
            )
            RoleGrant.objects.create(user=person, role=role)
            return person

        tenderer_org = org("瑞金市城市建设投资有限公司", OrganizationKind.TENDERER, 1)
        bidder_org = org("江西红土建设工程有限公司", OrganizationKind.BIDDER, 2)
        regulator_org = org("瑞金市发展和改革委员会", OrganizationKind.REGULATOR, 3)
        self.tenderer = user("tenderer", "刘建国", tenderer_org, Role.TENDERER_STAFF)
        self.bidder = user("wanglei_hongtu", "王磊", bidder_org, Role.BIDDER)
        self.custodians = [
            user(f"custodian{i}", name, regulator_org, Role.CUSTODIAN) for i, name in ((1, "钟华"), (2, "黄芳"))
        ]
        for custodian in self.custodians:
            register_own_key(custodian, KeyPurpose.ENCRYPTION, p256_public_der()[0], label="保管人设备")
        # Read now: while Playwright's sync API runs, this thread counts as async for Django.
        self.bidder_clues = (self.bidder.username, self.bidder.display_name, bidder_org.name, bidder_org.credit_code)
        self.custodian_names = [c.display_name for c in self.custodians]

    # --- helpers ----------------------------------------------------------------

    def new_page(self, words: dict[str, Any]) -> Any:
        context = self.browser.new_context(
            accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 900}
        )
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(self.live_server_url + "/")
        if words["language"]:
            # The language is chosen on the page itself, the way a visitor does.
            page.locator("#language-select").select_option(words["language"])
            page.locator(".language-form button[type=submit]").click()
            page.wait_for_load_state()
            assert page.locator("html").get_attribute("lang") == words["language"]
        assert words["platform"] in page.locator(".brand").inner_text()
        return page

    def sign_in(self, page: Any, words: dict[str, Any], username: str, shot: Screens) -> None:
        page.locator("header").get_by_role("link", name=words["sign_in"]).click()
        page.get_by_label(words["username"]).fill(username)
        page.get_by_label(words["password"]).fill(PASSWORD)
        shot(page, f"login-{username}")
        page.locator("main").get_by_role("button", name=words["sign_in"]).click()
        page.wait_for_load_state()
        assert page.get_by_role("button", name=words["sign_out"]).is_visible()
        shot(page, f"dashboard-{username}")

    # --- the scenario -------------------------------------------------------------

    def run_scenario(self, words: dict[str, Any], number: str, title: str, shot: Screens) -> None:
        now = dt.datetime.now(tz=dt.UTC).replace(minute=0, second=0, microsecond=0)
        deadline = now + dt.timedelta(days=30)
        pdf = demo_pdf(title + " 招标文件")
        document_name = "招标文件（第一册）.pdf"

        # The tenderer drafts, uploads and publishes.
        tenderer = self.new_page(words)
        self.sign_in(tenderer, words, "tenderer", shot)
        tenderer.locator("header").get_by_role("link", name=words["new_tender"]).click()
        tenderer.get_by_label(words["number"], exact=True).fill(number)
        tenderer.get_by_label(words["title"], exact=True).fill(title)
        tenderer.get_by_label(words["description"], exact=True).fill("对沙洲坝镇 12.6 公里乡村道路进行路面改造。")
        tenderer.get_by_label(words["budget"], exact=True).fill("8650000.00")
        tenderer.get_by_label(words["enquiry_deadline"], exact=True).fill(_local(deadline - dt.timedelta(days=10)))
        tenderer.get_by_label(words["bid_deadline"], exact=True).fill(_local(deadline))
        tenderer.get_by_label(words["opening_time"], exact=True).fill(_local(deadline))
        for name in self.custodian_names:
            tenderer.get_by_label(f"{name} · ").check()
        tenderer.get_by_label(words["threshold"], exact=True).fill("2")
        first_lot = tenderer.locator(".lot-row").first
        first_lot.get_by_label(words["lot_number"], exact=True).fill("1")
        first_lot.get_by_label(words["lot_name"], exact=True).fill("路面工程")
        first_lot.get_by_label(words["lot_budget"], exact=True).fill("6200000.00")
        shot(tenderer, "tender-form")
        tenderer.get_by_role("button", name=words["save_draft"]).click()
        tenderer.wait_for_load_state()
        assert tenderer.get_by_role("heading", name=words["documents_heading"], exact=True).is_visible()
        shot(tenderer, "documents")
        tenderer.locator("input[type=file][name=file]").set_input_files(
            files=[{"name": document_name, "mimeType": "application/pdf", "buffer": pdf}]
        )
        tenderer.get_by_role("button", name=words["upload"], exact=True).click()
        tenderer.wait_for_load_state()
        assert words["uploaded"] + document_name in tenderer.locator(".messages").inner_text()
        shot(tenderer, "documents-uploaded")
        tenderer.get_by_role("link", name=words["back_to_tender"]).click()
        assert words["draft_notice"] in tenderer.locator("main").inner_text()
        shot(tenderer, "tender-draft")
        tenderer.get_by_role("button", name=words["publish"]).click()
        tenderer.wait_for_load_state()
        assert words["published"] in tenderer.locator(".messages").inner_text()
        assert words["open_for_bids"] in tenderer.locator(".lead").inner_text()
        shot(tenderer, "tender-published")

        # A bidder finds it, asks a question and downloads the document.
        bidder = self.new_page(words)
        self.sign_in(bidder, words, self.bidder_clues[0], shot)
        bidder.locator("header").get_by_role("link", name=words["platform"]).click()
        bidder.get_by_label(words["keyword"]).fill(title[-6:])
        bidder.get_by_role("button", name=words["search"], exact=True).click()
        bidder.wait_for_load_state()
        shot(bidder, "search-results")
        bidder.get_by_role("link", name=title).click()
        bidder.wait_for_load_state()
        assert bidder.locator("h1").inner_text() == title
        shot(bidder, "tender-detail")

        question_text = "投标保证金是否接受银行保函？"
        bidder.get_by_label(words["your_question"]).fill(question_text)
        bidder.get_by_role("button", name=words["submit_question"]).click()
        bidder.wait_for_load_state()
        assert words["question_submitted"] in bidder.locator(".messages").inner_text()
        shot(bidder, "question-asked")

        row = bidder.locator("tr.document", has_text=document_name)
        shown_sha256 = row.locator("code.sha256").inner_text().strip()
        with bidder.expect_download() as download_info:
            row.get_by_role("link", name=words["download"]).click()
        download = download_info.value
        assert download.suggested_filename == document_name
        downloaded = Path(download.path()).read_bytes()
        assert downloaded == pdf
        assert hashlib.sha256(downloaded).hexdigest() == shown_sha256

        # The tenderer answers from the questions page.
        tenderer.get_by_role("link", name=words["questions"]).first.click()
        tenderer.wait_for_load_state()
        assert question_text in tenderer.locator("main").inner_text()
        assert all(clue not in tenderer.content() for clue in self.bidder_clues)
        shot(tenderer, "questions-inbox")
        answer_text = "接受，保函须由中国境内银行出具。"
        tenderer.get_by_label(words["answer"], exact=True).fill(answer_text)
        tenderer.get_by_role("button", name=words["publish_answer"]).click()
        tenderer.wait_for_load_state()
        assert words["answer_published"] in tenderer.locator(".messages").inner_text()
        shot(tenderer, "question-answered")

        # Anyone reads the answer; nothing names the asker.
        visitor = self.new_page(words)
        visitor.get_by_role("link", name=title).click()
        visitor.wait_for_load_state()
        questions = visitor.locator("#questions").inner_text()
        assert question_text in questions and answer_text in questions
        whole_page = visitor.content()
        for clue in self.bidder_clues:
            assert clue not in whole_page
        shot(visitor, "answer-public")

        # The bidder's dashboard lists the download and the answered question.
        bidder.locator("header").get_by_role("link", name=words["dashboard"]).click()
        bidder.wait_for_load_state()
        dashboard = bidder.locator("main").inner_text()
        assert words["downloads"] in dashboard and shown_sha256 in dashboard
        assert words["my_questions"] in dashboard and answer_text in dashboard
        shot(bidder, "bidder-dashboard")

    def test_publish_and_enquire_in_chinese(self) -> None:
        with self.chromium():
            self.run_scenario(
                CHINESE,
                "RJ-2026-GC-101",
                "瑞金市沙洲坝镇乡村道路提升改造工程",
                Screens("test_publish_and_enquire_in_chinese"),
            )

    def test_publish_and_enquire_in_english(self) -> None:
        with self.chromium():
            self.run_scenario(
                ENGLISH,
                "RJ-2026-GC-102",
                "瑞金市叶坪乡农村供水改造工程",
                Screens("test_publish_and_enquire_in_english"),
            )
