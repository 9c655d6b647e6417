"""The session's PDF viewer under Node (tests/js/pdf-viewer.test.mjs): pages drawn once, watermarks kept to the
minute, a page asked for twice rendered once, a failed page reported and tried again."""

from __future__ import annotations

import subprocess

from tests.js.conftest import ROOT


def test_the_pdf_viewer_draws_each_page_once_and_again_when_its_watermark_minute_has_passed(node: str) -> None:
    ran = subprocess.run(
        [node, "--test", str(ROOT / "tests" / "js" / "pdf-viewer.test.mjs")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "# fail 0" in ran.stdout and "# pass 0" not in ran.stdout
