"""A real PDF for a bid's file, made with reportlab: each page says its number, large, so a viewer can be read."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import Any

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

import tests.evaluation.factories as factories
from tests.bids.conftest import seal


def numbered_pdf(pages: int) -> bytes:
    """A PDF of ``pages`` A4 pages, page n showing ``PAGE n``."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    width, height = A4
    for number in range(1, pages + 1):
        pdf.setFont("Helvetica-Bold", 72)
        pdf.drawCentredString(width / 2, height / 2, f"PAGE {number}")
        pdf.setFont("Helvetica", 12)
        pdf.drawString(72, 72, f"bid document, page {number} of {pages}")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def bids_holding(monkeypatch: pytest.MonkeyPatch, content: bytes) -> Callable[..., Any]:
    """Make the session case seal ``content`` as every bid's 技术标.pdf (instead of the factory's filler text)."""
    sealer = functools.partial(seal, content=content)
    monkeypatch.setattr(factories, "seal", sealer)
    return sealer
