"""The bid page's required documents (一次性告知) and response index (评审因素定位), in Debian's Chromium.

The tender publishes the default works method: five documents under three qualification items, five
criteria. The page shows one row per criterion, qualification item and document; after the files are
chosen it lists the documents they lack and refuses to seal (nothing is sealed or sent) until each is
there, by name or chosen in its row. The bidder points T1 to page 12 of its technical file (a page 0 is
refused first); the page seals the index inside the bid, and Python, opening the stored bid with two
custodians' keys, finds exactly those pointers. Screenshots go to
``test-output/screenshots/test_bid_page_response_index/``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tendering.method import default_method
from tests.browser.test_browser_sealing import CHINESE, BidPageCase
from tests.browser.test_phone_width import MEASURE, PHONE
from tests.browser.test_publish_and_enquire import Screens


def pdf(name: str) -> dict[str, Any]:
    return {"name": name, "mimeType": "application/pdf", "buffer": f"%PDF-1.7 {name}".encode()}


class BidPageResponseIndexTest(BidPageCase):
    def tender_method(self) -> dict[str, Any]:
        return default_method("comprehensive")

    def test_missing_documents_are_listed_and_refused_then_the_index_is_sealed_inside(self) -> None:
        shot = Screens("test_bid_page_response_index")
        sent: list[str] = []
        with self.chromium():
            page = self.new_page(CHINESE)
            page.on("request", lambda r: sent.append(f"{r.method} {r.url}") if r.method != "GET" else None)
            self.sign_in(page, CHINESE, shot)
            self.open_bid_page(page, CHINESE, shot)
            self.make_browser_keys(page, CHINESE, shot)
            rows = page.locator("#response-table tr[data-item]")
            assert [rows.nth(i).get_attribute("data-item") for i in range(rows.count())] == [
                "T1",
                "T2",
                "T3",
                "C1",
                "C2",
                "Q1",
                "D1",
                "D2",
                "Q2",
                "D3",
                "D4",
                "Q3",
                "D5",
            ]
            page.locator("#bid-files").set_input_files(
                files=[
                    pdf("技术标-施工组织设计.pdf"),
                    pdf("营业执照.pdf"),
                    pdf("资质证书(一级).pdf"),
                    pdf("项目经理注册证书.pdf"),
                    pdf("scan-0042.pdf"),
                ]
            )
            # Found by name: D1, D2, D3 start on their files; D4 and D5 are listed as missing.
            assert page.locator("#pointer-file-D1").input_value() == "营业执照.pdf"
            assert page.locator("#pointer-file-D2").input_value() == "资质证书(一级).pdf"
            assert page.locator("#materials-state").get_attribute("data-missing") == "2"
            listed = page.locator("#missing-documents li")
            assert [listed.nth(i).get_attribute("data-document") for i in range(listed.count())] == ["D4", "D5"]
            assert "Q2 项目经理资格：安全生产考核合格证" in listed.nth(0).inner_text()
            assert "尚缺 2 项资格审查材料，补齐前不能密封" in page.locator("#materials-state").inner_text()
            self.fill_prices(page, {"1": ("6123456.70", "180", "合格", "李四"), "2": ("", "", "", "")})
            shot(page, "documents-missing")
            sent_before = len(sent)
            page.get_by_role("button", name=CHINESE["seal"]).click()
            assert page.locator("#pointer-file-D4").get_attribute("aria-invalid") == "true"
            assert "安全生产考核合格证" in page.locator("#pointer-file-D4-error").inner_text()
            assert page.locator("#progress-section").is_hidden()
            assert sent[sent_before:] == []  # refused in the page: nothing sealed, nothing sent
            shot(page, "documents-refused")
            # At a phone's width, with the table, the missing list and the row errors shown: nothing scrolls
            # sideways and no Chinese is squeezed (test_phone_width's measure; its sweep sees the page unfilled).
            page.set_viewport_size(PHONE)
            measured = page.evaluate(MEASURE, PHONE["width"])
            shot(page, "documents-refused-phone")
            assert measured["scrollWidth"] <= PHONE["width"] and not measured["wide"], measured
            assert not measured["squeezed"], measured
            page.set_viewport_size({"width": 1280, "height": 900})

            # D4 is the scan, chosen in its row; D5 added as a file named after it.
            page.locator("#pointer-file-D4").select_option("scan-0042.pdf")
            page.locator("#pointer-page-D4").fill("2")
            page.locator("#bid-files").set_input_files(
                files=[
                    pdf("技术标-施工组织设计.pdf"),
                    pdf("营业执照.pdf"),
                    pdf("资质证书(一级).pdf"),
                    pdf("项目经理注册证书.pdf"),
                    pdf("scan-0042.pdf"),
                    pdf("投标保证金凭证.pdf"),
                ]
            )
            assert page.locator("#pointer-file-D4").input_value() == "scan-0042.pdf"  # kept across the new choice
            assert page.locator("#materials-state").get_attribute("data-missing") == "0"
            page.locator("#pointer-file-T1").select_option("技术标-施工组织设计.pdf")
            page.locator("#pointer-page-T1").fill("0")
            page.get_by_role("button", name=CHINESE["seal"]).click()
            assert page.locator("#pointer-page-T1").get_attribute("aria-invalid") == "true"
            assert "页码应为 1 到 100000 之间的整数" in page.locator("#pointer-page-T1-error").inner_text()
            assert page.locator("#progress-section").is_hidden()
            page.locator("#pointer-page-T1").fill("12")
            shot(page, "index-filled")
            page.get_by_role("button", name=CHINESE["seal"]).click()
            self.wait_verified(page, CHINESE)
            shot(page, "sealed-with-index")

        with tempfile.TemporaryDirectory() as folder:
            _, opened = self.open_stored_bid(Path(folder) / "opened")
        assert opened.response_index is not None
        assert [(p.item, p.path, p.page) for p in opened.response_index.pointers] == [
            ("D1", "营业执照.pdf", 1),
            ("D2", "资质证书(一级).pdf", 1),
            ("D3", "项目经理注册证书.pdf", 1),
            ("D4", "scan-0042.pdf", 2),
            ("D5", "投标保证金凭证.pdf", 1),
            ("T1", "技术标-施工组织设计.pdf", 12),
        ]
        assert sorted(f.path for f in opened.files) == sorted(
            f"bid/{n}"
            for n in [
                "技术标-施工组织设计.pdf",
                "营业执照.pdf",
                "资质证书(一级).pdf",
                "项目经理注册证书.pdf",
                "scan-0042.pdf",
                "投标保证金凭证.pdf",
            ]
        )
