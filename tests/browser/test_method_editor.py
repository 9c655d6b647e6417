"""The draft form's method editor (frontend/js/pages/method-editor.js) in Chromium: it edits the method as rows
and writes exactly the JSON the page without JavaScript posts; switching the evaluation method reshapes it."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tendering.method import default_method, validate_method
from tests.fixtures.live_platform import CHROMIUM, CHROMIUM_ARGS, requires_chromium
from tests.frontend.conftest import signed_in

BUNDLE = Path(settings.BASE_DIR) / "frontend" / "static" / "frontend" / "build" / "method-editor.js"


@requires_chromium
@pytest.mark.django_db
def test_the_editor_writes_the_method_json_and_follows_the_evaluation_method(personas):
    from playwright.sync_api import sync_playwright

    subprocess.run(["node", "frontend/js/build.mjs"], cwd=settings.BASE_DIR, check=True, capture_output=True)
    page_html = signed_in(personas.tenderer).get(reverse("frontend:tender-create")).text
    # The page's own scripts are left out (about:blank has no server); the editor's bundle is added below.
    page_html = re.sub(r"<script[^>]*src=[^>]*></script>", "", page_html)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_content(page_html)
            page.add_script_tag(content=BUNDLE.read_text("utf-8"), type="module")
            page.wait_for_selector("#method-editor:not([hidden]) .method-criteria")
            assert page.is_hidden("#id_method")

            def posted() -> dict:
                return json.loads(page.input_value("#id_method"))

            assert posted() == default_method("comprehensive")
            page.fill('.method-criteria tbody tr:nth-child(1) input[aria-label="权重"]', "25.00")
            assert posted()["criteria"][0]["weight"] == "25.00"
            assert "权重合计 105.00" in page.inner_text("[data-weights-total]")
            page.fill('.method-price input[aria-label="价格权重"]', "45.00")
            assert "权重合计 100.00" in page.inner_text("[data-weights-total]")
            validate_method(posted(), "comprehensive")

            page.click(".method-qualification button:has-text('添加资格审查项')")
            page.fill(".method-qualification tbody tr:nth-child(4) td:nth-child(2) input", "财务状况")
            page.click(".method-qualification tbody tr:nth-child(4) button:has-text('添加材料')")
            page.fill('.method-qualification tbody tr:nth-child(4) input[aria-label="材料名称"]', "审计报告")
            added = posted()["qualification"][3]
            assert added["title"] == "财务状况" and added["documents"][0]["name"] == "审计报告"

            page.select_option(".method-price select", "benchmark")
            assert posted()["price"]["rule"] == "benchmark" and posted()["price"]["weight"] == "45.00"
            page.fill('.method-price input[aria-label^="基准价系数"]', "-0.02, 0.00")
            assert posted()["price"]["factors"] == ["-0.02", "0.00"]
            validate_method(posted(), "comprehensive")

            page.select_option("#id_evaluation_method", "lowest_price")
            assert posted()["criteria"] == [] and posted()["price"] == {"rule": "lowest_evaluated"}
            assert page.query_selector(".method-criteria") is None
            validate_method(posted(), "lowest_price")
        finally:
            browser.close()
