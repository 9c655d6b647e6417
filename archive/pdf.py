"""PDF records of the archive: render a tabular record, sign it (PAdES-B-T), check a signed one.

The archive keeps records that people print, file and hand to auditors (bid
opening records, evaluation tables, dossier summaries). This module knows
nothing of tenders: callers describe a record as a ``RecordDocument`` (title,
metadata lines, tables, footnotes) and get PDF bytes back.

- ``render_record_pdf`` lays it out with reportlab in a CJK TrueType font
  (``PDF_CJK_FONT_FILE``, embedded as a subset so the file reads anywhere).
  reportlab's ``invariant`` mode is on, so no random file ID goes in; the
  creation date is the record's ``created_at`` (now, unless given), in the
  platform's zone: the same record made at the same moment gives the same bytes.
- ``sign_pdf`` adds the platform's PAdES signature (``archive.signing``) with a
  signature time-stamp from the platform's TSA (``archive.timestamps``), as an
  incremental update that leaves the rendered bytes as they were.
- ``verify_pdf_signature`` checks such a signature offline against given
  trust anchors and says in plain words what, if anything, is wrong.

pyHanko is imported inside the functions that sign and verify: importing it
costs a third of a second, and rendering needs none of it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from archive.signing import platform_signer
from archive.timestamps import DevelopmentTimeStamper, TimestampAuthorityError, time_stamper

# run_to_end: pyHanko's synchronous wrappers call asyncio.run, which fails inside a running loop (async views)
from archive.verify.pdf import PdfSignatureReport, asn1_certificate, check_pdf_signature, run_to_end
from config import clock, formatting


class PdfError(Exception):
    """A record cannot be rendered or signed (missing font, unreadable PDF)."""


@dataclass(frozen=True)
class RecordTable:
    caption: str
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    # relative widths, e.g. (1, 3, 1); None shares the width equally
    column_widths: Sequence[float] | None = None
    # start the table on a page of its own (a report's sections), instead of only keeping its caption with it
    new_page: bool = False
    # a line under the table (what it shows, who signed it)
    note: str = ""

    def __post_init__(self) -> None:
        width = len(self.headers)
        if not width:
            raise ValueError(f"table {self.caption!r} has no columns")
        if any(len(row) != width for row in self.rows):
            raise ValueError(f"table {self.caption!r}: every row must have {width} cells")
        if self.column_widths is not None and (
            len(self.column_widths) != width or any(w <= 0 for w in self.column_widths)
        ):
            raise ValueError(f"table {self.caption!r}: column_widths needs {width} positive ratios")


@dataclass(frozen=True)
class RecordDocument:
    title: str
    tables: Sequence[RecordTable]
    subtitle: str = ""
    metadata: Sequence[tuple[str, str]] = ()  # (label, value) lines under the title
    footnotes: Sequence[str] = ()
    orientation: Literal["portrait", "landscape"] = "portrait"
    producer: str = "eTender"
    author: str = "eTender"
    created_at: dt.datetime | None = None  # the PDF's creation date; None: now (config.clock)

    def __post_init__(self) -> None:
        if not self.tables:
            raise ValueError("a record needs at least one table")


# --- Rendering -------------------------------------------------------------------


@functools.cache
def _cjk_font(path: str) -> str:
    """Register the font once per file and return its reportlab name (registration is process-wide)."""
    if not Path(path).is_file():
        raise PdfError(
            f"PDF_CJK_FONT_FILE ({path}) does not exist: PDF records need a CJK TrueType font; "
            "install Debian's fonts-wqy-zenhei or point PDF_CJK_FONT_FILE at another .ttf/.ttc."
        )
    name = "RecordCJK-" + hashlib.sha256(path.encode()).hexdigest()[:8]
    try:
        # subfontIndex only means something for .ttc collections; 0 is WenQuanYi Zen Hei itself
        pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
    except Exception as exc:  # reportlab raises TTFError or plain errors for unusable files
        raise PdfError(f"PDF_CJK_FONT_FILE ({path}) is not a usable TrueType font: {exc}") from exc
    return name


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=font, bulletFontName=font, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "body": base,
        "title": ParagraphStyle("title", base, fontSize=16, leading=22, alignment=1, spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", base, fontSize=11, leading=15, alignment=1, spaceAfter=8),
        "caption": ParagraphStyle("caption", base, fontSize=11, leading=15, spaceBefore=8, spaceAfter=4),
        "note": ParagraphStyle("note", base, fontSize=8, leading=11, textColor=colors.HexColor("#444444")),
    }


def _para(text: str, style: ParagraphStyle) -> Paragraph:
    # Paragraph parses a markup language: escape so that '<' or '&' in data stay text
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _story(document: RecordDocument, styles: dict[str, ParagraphStyle], width: float) -> list[Flowable]:
    story: list[Flowable] = [_para(document.title, styles["title"])]
    # a Table sets its own font (Helvetica) before drawing its cells: keep it ours, so no other font is referenced
    cell_font = [("FONT", (0, 0), (-1, -1), styles["body"].fontName, styles["body"].fontSize)]
    if document.subtitle:
        story.append(_para(document.subtitle, styles["subtitle"]))
    if document.metadata:
        lines = [[_para(label, styles["body"]), _para(value, styles["body"])] for label, value in document.metadata]
        meta = Table(lines, colWidths=[width * 0.25, width * 0.75], hAlign="LEFT")
        meta.setStyle(
            TableStyle([*cell_font, ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, -1), 0)])
        )
        story.append(meta)
    for record_table in document.tables:
        # not keepWithNext: that moves a long table whole to the next page;
        # this only keeps a caption from being orphaned
        story += [
            PageBreak() if record_table.new_page else CondPageBreak(30 * mm),
            _para(record_table.caption, styles["caption"]),
        ]
        ratios = record_table.column_widths or [1.0] * len(record_table.headers)
        widths = [width * r / sum(ratios) for r in ratios]
        cells = [[_para(h, styles["body"]) for h in record_table.headers]]
        cells += [[_para(c, styles["body"]) for c in row] for row in record_table.rows]
        table = Table(cells, colWidths=widths, repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    *cell_font,
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(table)
        if record_table.note:
            story.append(_para(record_table.note, styles["note"]))
    if document.footnotes:
        story.append(Spacer(1, 6 * mm))
        story += [_para(note, styles["note"]) for note in document.footnotes]
    return story


def pdf_date(moment: dt.datetime) -> str:
    """A moment as a PDF date (ISO 32000-1 §7.9.4), in the platform's zone: ``D:20261203163000+08'00'``."""
    local = formatting.as_local(moment)
    offset = local.utcoffset() or dt.timedelta(0)
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"D:{local:%Y%m%d%H%M%S}{sign}{minutes // 60:02d}'{minutes % 60:02d}'"


def render_record_pdf(document: RecordDocument) -> bytes:
    """The record as PDF bytes, identical for identical input, ``created_at`` included.

    Rendered twice: the first pass counts the pages for the "共 M 页" footer,
    which reportlab cannot know until the story has been laid out.
    """
    font = _cjk_font(str(settings.PDF_CJK_FONT_FILE))
    styles = _styles(font)
    pagesize = landscape(A4) if document.orientation == "landscape" else A4

    created = pdf_date(document.created_at or clock.now())

    def first_page(canvas: Any, doc: Any) -> None:
        # reportlab's invariant mode would write 2000-01-01 as the creation and modification date
        canvas.setDateFormatter(lambda *_local_time: created)
        footer(canvas, doc)

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        text = f"第 {doc.page} 页 / 共 {total} 页" if total else f"第 {doc.page} 页"
        canvas.drawCentredString(pagesize[0] / 2, 10 * mm, text)
        canvas.restoreState()

    total = 0
    for _pass in range(2):
        buffer = io.BytesIO()
        doc = SimpleDocTemplate(
            buffer,
            pagesize=pagesize,
            leftMargin=15 * mm,
            rightMargin=15 * mm,
            topMargin=15 * mm,
            bottomMargin=18 * mm,
            title=document.title,
            subject=document.subtitle,
            author=document.author,
            creator=document.producer,
            producer=document.producer,
            invariant=1,
            initialFontName=font,
            lang="zh-CN",
        )
        doc.build(_story(document, styles, doc.width), onFirstPage=first_page, onLaterPages=footer)
        total = doc.page
    return buffer.getvalue()


# --- Signing ---------------------------------------------------------------------


def _pyhanko_timestamper() -> Any:
    stamper = time_stamper()
    # a configured TSA already is pyHanko's HTTPTimeStamper; the development one needs its adapter
    return stamper.pyhanko_timestamper() if isinstance(stamper, DevelopmentTimeStamper) else stamper


def sign_pdf(pdf: bytes, *, reason: str, location: str, field_name: str = "PlatformSignature") -> bytes:
    """``pdf`` with the platform's PAdES-B-T signature appended (SHA-256, signature time-stamp)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError as PyHankoPdfError
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, SimpleSigner
    from pyhanko.sign.timestamps import TimestampRequestError
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    identity = platform_signer()
    chain = [asn1_certificate(c) for c in identity.chain]
    key = asn1_keys.PrivateKeyInfo.load(
        identity.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    signer = SimpleSigner(
        signing_cert=chain[0], signing_key=key, cert_registry=SimpleCertificateStore.from_certs(chain)
    )
    metadata = PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
    )
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    except PyHankoPdfError as exc:
        raise PdfError(f"not a PDF that can be signed: {exc}") from exc
    pdf_signer = PdfSigner(metadata, signer, timestamper=_pyhanko_timestamper())
    try:
        output = run_to_end(pdf_signer.async_sign_pdf(writer, output=io.BytesIO()))
    except TimestampRequestError as exc:  # as archive.timestamps.timestamp() reports it: no record without a time
        raise TimestampAuthorityError(
            f"the time-stamp authority gave no time-stamp for the PDF signature: {exc}"
        ) from exc
    return bytes(output.getvalue())


# --- Verification ----------------------------------------------------------------


def verify_pdf_signature(
    pdf: bytes, trust_anchors: Sequence[x509.Certificate], *, field_name: str | None = None
) -> PdfSignatureReport:
    """Check the signature in field ``field_name`` (default: the first signature) offline, at the platform
    clock's moment (``archive.verify.pdf.check_pdf_signature``, which the offline verifier calls with its own).

    ``trust_anchors`` must hold the CA of the signer and that of the TSA (the
    development TSA shares the platform's development CA).
    """
    return check_pdf_signature(pdf, trust_anchors, moment=clock.now(), field_name=field_name)
