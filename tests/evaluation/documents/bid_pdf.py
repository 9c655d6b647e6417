"""A real PDF for a bid's file, made with reportlab: each page says its number, large, so a viewer can be read."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import Any

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

import tests.bids.conftest as bid_helpers
import tests.evaluation.factories as factories
from tendering.sealing import seal_bid
from tendering.sealing.response_index import Pointer, ResponseIndex
from tests.bids.conftest import seal

# A font every PDF reader knows and none embeds, as many Chinese bids are written (a CID font over the
# predefined CMap UniGB-UCS2-H): a viewer draws it only with the CMaps at hand.
CHINESE_FONT = "STSong-Light"


def numbered_pdf(pages: int, filler_lines: int = 0) -> bytes:
    """A PDF of ``pages`` A4 pages, page n showing ``PAGE n`` and ``第 n 页`` (in a CID font, not embedded);
    ``filler_lines`` lines of tiny pale text per page make it large (uncompressed), so that a viewer reads it by
    ranges rather than whole."""
    pdfmetrics.registerFont(UnicodeCIDFont(CHINESE_FONT))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=0)
    width, height = A4
    for number in range(1, pages + 1):
        pdf.setFillGray(0.92)
        pdf.setFont("Helvetica", 2)
        for line in range(filler_lines):
            pdf.drawString(20, 20 + (line % 400) * 2, f"page {number} line {line} " + "x" * 40)
        pdf.setFillGray(0)
        pdf.setFont("Helvetica-Bold", 72)
        pdf.drawCentredString(width / 2, height / 2, f"PAGE {number}")
        pdf.setFont("Helvetica", 12)
        pdf.drawString(72, 72, f"bid document, page {number} of {pages}")
        pdf.setFont(CHINESE_FONT, 36)
        pdf.drawCentredString(width / 2, height / 2 - 80, f"投标文件 第 {number} 页")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def bids_holding(
    monkeypatch: pytest.MonkeyPatch, content: bytes, pointers: dict[str, int] | None = None
) -> Callable[..., Any]:
    """Make the session case seal ``content`` as every bid's 技术标.pdf (instead of the factory's filler text),
    with a response index (评审因素定位) inside pointing each item of ``pointers`` to its page of that file."""
    sealer = functools.partial(seal, content=content)
    monkeypatch.setattr(factories, "seal", sealer)
    if pointers:
        index = ResponseIndex.of(Pointer(item, "技术标.pdf", page) for item, page in pointers.items())
        monkeypatch.setattr(bid_helpers, "seal_bid", functools.partial(seal_bid, response_index=index))
    return sealer
