"""The session's PDF viewer under Node (tests/js/pdf-viewer.test.mjs): pages drawn once, watermarks kept to the
minute, a page asked for twice rendered once, a failed page reported and tried again."""

from __future__ import annotations

from tests.js.conftest import ROOT, run_node_test


def test_the_pdf_viewer_draws_each_page_once_and_again_when_its_watermark_minute_has_passed(node: str) -> None:
    run_node_test(node, ROOT / "tests" / "js" / "pdf-viewer.test.mjs")
