"""PDF records: rendered in a CJK font, signed PAdES-B-T by the platform, checked offline."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils.generic import NameObject, pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from archive.pdf import PdfError, RecordDocument, RecordTable, render_record_pdf, sign_pdf, verify_pdf_signature
from archive.signing import platform_signer
from archive.timestamps import DevelopmentTimeStamper, TimestampAuthorityError
from config import clock
from tests.receipts import pki
from tests.receipts.tsa_server import tsa_server

PRODUCER = "eTender archive test"

RECORD = RecordDocument(
    title="开标记录表",
    subtitle="城南污水处理厂改造工程施工招标",
    metadata=[("项目编号", "ZB-2026-0042"), ("开标时间", "2026年3月2日 09:00")],
    tables=[
        RecordTable(
            caption="投标人及报价",
            headers=["序号", "投标人", "投标报价（元）", "备注"],
            rows=[
                [
                    str(n),
                    f"第{n}建设工程有限公司",
                    f"{1_000_000 + n * 1234:,}.00",
                    "工期承诺一百八十日历天，质量标准合格，" * 3,
                ]
                for n in range(1, 61)
            ],
            column_widths=[1, 4, 2, 5],
        )
    ],
    footnotes=["注：本记录由平台自动生成，报价以投标文件为准。"],
    producer=PRODUCER,
    created_at=dt.datetime(2026, 3, 2, 1, 30, 5, tzinfo=dt.UTC),
)


@pytest.fixture(scope="module")
def record_pdf() -> bytes:
    return render_record_pdf(RECORD)


@pytest.fixture
def signed_pdf(record_pdf: bytes) -> bytes:
    return sign_pdf(record_pdf, reason="开标记录存档", location="城南区公共资源交易中心")


def fonts_of(pdf: bytes) -> list[Any]:
    reader = PdfFileReader(io.BytesIO(pdf))
    fonts = []
    for number in range(int(reader.root["/Pages"]["/Count"])):
        resources = reader.find_page_for_modification(number)[0].get_object()["/Resources"]["/Font"]
        fonts += [resources[name] for name in resources]
    return fonts


def page_texts(pdf: bytes) -> list[str]:
    """Each page's text as a reader would extract it: the font subsets' /ToUnicode maps applied to the
    strings shown (enough for reportlab's output: one-byte codes, strings shown with Tj)."""
    reader = PdfFileReader(io.BytesIO(pdf))
    texts = []
    for number in range(int(reader.root["/Pages"]["/Count"])):
        page = reader.find_page_for_modification(number)[0].get_object()
        fonts = page["/Resources"]["/Font"]
        unicode_of = {
            str(name): {
                int(code, 16): bytes.fromhex(text).decode("utf-16-be")
                for code, text in re.findall(
                    r"<([0-9A-F]{2})> <([0-9A-F]{4,})>", fonts[name]["/ToUnicode"].data.decode()
                )
            }
            for name in fonts
        }
        font, shown = "", []
        for match in re.finditer(rb"(/\S+) [\d.]+ Tf|\(((?:\\[0-7]{3}|\\.|[^\\)])*)\) Tj", page["/Contents"].data):
            if match[1]:
                font = match[1].decode()
                continue
            raw = re.sub(rb"\\([0-7]{3}|.)", lambda e: bytes([int(e[1], 8)]) if len(e[1]) == 3 else e[1], match[2])
            shown.append("".join(unicode_of[font].get(byte, chr(byte)) for byte in raw))
        texts.append("\n".join(shown))
    return texts


# --- Rendering -------------------------------------------------------------------------------


def test_a_chinese_record_of_sixty_rows_renders_over_several_pages_in_the_embedded_wenquanyi_font(
    record_pdf: bytes,
) -> None:
    reader = PdfFileReader(io.BytesIO(record_pdf))
    assert int(reader.root["/Pages"]["/Count"]) > 1

    fonts = fonts_of(record_pdf)
    assert {str(font["/BaseFont"]).split("+", 1)[1] for font in fonts} == {"WenQuanYiZenHei-0"}
    for font in fonts:
        assert "/FontFile2" in font["/FontDescriptor"]  # embedded (a subset), not merely named
        assert "/ToUnicode" in font  # what makes the Chinese text extractable


def test_the_header_row_repeats_on_every_page_and_each_page_says_which_of_how_many_it_is(record_pdf: bytes) -> None:
    texts = page_texts(record_pdf)

    assert "开标记录表" in texts[0] and "ZB-2026-0042" in texts[0]
    for number, text in enumerate(texts, start=1):
        assert "投标报价（元）" in text
        assert f"第 {number} 页 / 共 {len(texts)} 页" in text
    assert "第60建设工程有限公司" in texts[-1] and "本记录由平台自动生成" in texts[-1]


def test_the_chinese_text_of_a_record_can_be_extracted(record_pdf: bytes, tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian poppler-utils) is not installed")
    (tmp_path / "record.pdf").write_bytes(record_pdf)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(tmp_path / "record.pdf"), "-"], check=True, capture_output=True, text=True
    ).stdout
    # pdftotext lays text out again: it drops the spaces between CJK glyphs and breaks long cells.
    text = "".join(text.split())
    for expected in ["开标记录表", "ZB-2026-0042", "第60建设工程有限公司", "第1页/共", "本记录由平台自动生成"]:
        assert expected in text


def test_identical_records_render_to_identical_bytes(record_pdf: bytes) -> None:
    assert render_record_pdf(RECORD) == record_pdf


def _info_dates(pdf: bytes) -> tuple[str, str]:
    info = PdfFileReader(io.BytesIO(pdf)).trailer["/Info"]
    return str(info["/CreationDate"]), str(info["/ModDate"])


def test_the_pdf_creation_date_is_the_record_moment_in_the_platform_zone(record_pdf: bytes) -> None:
    assert _info_dates(record_pdf) == ("D:20260302093005+08'00'", "D:20260302093005+08'00'")


def test_a_record_without_a_moment_is_dated_now_not_2000(settings: Any) -> None:
    settings.TIME_ZONE = "UTC"
    undated = dataclasses.replace(RECORD, created_at=None, tables=[RecordTable("表", ["a"], [["1"]])])
    with clock.frozen(dt.datetime(2026, 12, 3, 8, 30, tzinfo=dt.UTC)):
        pdf = render_record_pdf(undated)
    assert _info_dates(pdf)[0] == "D:20261203083000+00'00'"
    assert b"D:2000" not in pdf


def test_a_missing_font_file_is_reported_with_the_setting_that_names_it(settings: Any, tmp_path: Path) -> None:
    settings.PDF_CJK_FONT_FILE = str(tmp_path / "no-such-font.ttc")

    with pytest.raises(PdfError, match=r"PDF_CJK_FONT_FILE .*no-such-font\.ttc.*fonts-wqy-zenhei"):
        render_record_pdf(RECORD)


# --- Signing and verifying -------------------------------------------------------------------


def test_a_signed_record_verifies_as_intact_trusted_time_stamped_and_whole(
    frozen_clock: clock.FrozenClock, record_pdf: bytes
) -> None:
    signer = platform_signer()
    signed_pdf = sign_pdf(record_pdf, reason="开标记录存档", location="城南区公共资源交易中心")

    report = verify_pdf_signature(signed_pdf, signer.trust_anchors)

    assert report.problem is None
    assert report.intact and report.valid and report.timestamp_valid and report.covers_whole_document
    assert report.signer_subject == signer.certificate.subject.rfc4514_string()
    assert report.signed_at == frozen_clock()  # the TSA's time, which is the platform clock's


def test_a_record_without_signature_says_so(record_pdf: bytes) -> None:
    report = verify_pdf_signature(record_pdf, platform_signer().trust_anchors)

    assert not report.valid
    assert report.problem == "the PDF has no signature"


def test_one_byte_changed_in_the_signed_content_breaks_the_signature(signed_pdf: bytes) -> None:
    position = signed_pdf.index(PRODUCER.encode()) + 1  # inside the /Producer string, which the signature covers
    tampered = signed_pdf[:position] + b"X" + signed_pdf[position + 1 :]

    report = verify_pdf_signature(tampered, platform_signer().trust_anchors)

    assert not report.intact and not report.valid
    assert report.problem is not None and "changed after signing" in report.problem


def test_an_update_appended_after_the_signature_is_reported(signed_pdf: bytes) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(signed_pdf))
    writer.root[NameObject("/Lang")] = pdf_string("en")
    writer.update_root()
    extended = io.BytesIO()
    writer.write(extended)

    report = verify_pdf_signature(extended.getvalue(), platform_signer().trust_anchors)

    assert report.intact and report.valid
    assert not report.covers_whole_document
    assert report.problem is not None and "extended after signing" in report.problem


def test_a_signature_checked_against_an_unrelated_ca_is_not_trusted(signed_pdf: bytes) -> None:
    _key, stranger = pki.make_ca("Unrelated Root CA")

    report = verify_pdf_signature(signed_pdf, [stranger])

    assert report.intact and not report.valid
    assert not report.timestamp_valid  # the TSA chains to the platform's CA too
    assert report.problem is not None and "not trusted" in report.problem


def test_a_record_time_stamped_by_an_http_tsa_verifies_against_the_platform_and_tsa_cas(
    settings: Any, tmp_path: Path, frozen_clock: clock.FrozenClock, record_pdf: bytes
) -> None:
    key, certificate, tsa_ca = pki.make_tsa("County TSA")
    (tmp_path / "tsa-ca.pem").write_bytes(pki.pem(tsa_ca))
    with tsa_server(DevelopmentTimeStamper(key, certificate)) as server:
        settings.TIMESTAMP_AUTHORITY_URL = server.url
        settings.TIMESTAMP_AUTHORITY_CERTIFICATE_FILE = str(tmp_path / "tsa-ca.pem")
        signed = sign_pdf(record_pdf, reason="存档", location="城南区")
    anchors = [*platform_signer().trust_anchors, tsa_ca]

    report = verify_pdf_signature(signed, anchors)

    assert report.problem is None and report.timestamp_valid
    assert report.signed_at == frozen_clock()
    assert not verify_pdf_signature(signed, platform_signer().trust_anchors).timestamp_valid


def test_an_unreachable_tsa_leaves_the_record_unsigned(settings: Any, tmp_path: Path, record_pdf: bytes) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "tsa-ca.pem").write_bytes(pki.pem(pki.make_tsa()[2]))
    settings.TIMESTAMP_AUTHORITY_URL = f"http://127.0.0.1:{port}/tsa"
    settings.TIMESTAMP_AUTHORITY_CERTIFICATE_FILE = str(tmp_path / "tsa-ca.pem")

    with pytest.raises(TimestampAuthorityError, match="gave no time-stamp"):
        sign_pdf(record_pdf, reason="存档", location="城南区")
