"""The offline check of a filed report: ``python -I -m evaluation.report_check REPORT.pdf`` (no Django, no network),
on the real filed PDF, and on copies with one byte of the content changed, a signature by another key, a swapped
statement and a missing sheet signature: each fails, naming what."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from archive.canonical import canonical_json
from archive.pdf import RecordDocument, RecordTable, render_record_pdf
from evaluation import report_check
from evaluation.report_pdf import attach
from tests.evaluation.factories import SessionCase
from tests.evaluation.report_case import file_it, reach_report

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
# The check with Django made unimportable: it needs nothing of the platform's server side.
WITHOUT_DJANGO = (
    "import runpy, sys; sys.modules['django'] = None; sys.argv[0] = 'evaluation.report_check'; "
    "runpy.run_module('evaluation.report_check', run_name='__main__', alter_sys=True)"
)


def run(tmp_path: Path, pdf: bytes) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        [sys.executable, "-I", "-c", WITHOUT_DJANGO, str(path)],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def filed(session_case: Callable[..., SessionCase]) -> tuple[SessionCase, bytes]:
    reported = reach_report(session_case(n_bids=5, n_experts=5))
    return reported.case, file_it(reported, refuse={4: ""})


def parts(pdf: bytes) -> tuple[bytes, dict[str, Any]]:
    files = report_check.attachments(pdf)
    return files[report_check.CONTENT_FILE], json.loads(files[report_check.SIGNATURES_FILE])


def pdf_with(content: bytes, bundle: dict[str, Any]) -> bytes:
    """A PDF carrying ``content`` and ``bundle`` as the report's attachments (what a forger would hand out)."""
    page = render_record_pdf(RecordDocument(title="评标报告", tables=[RecordTable("表", ["a"], [["1"]])]))
    return attach(
        page,
        {report_check.CONTENT_FILE: content, report_check.SIGNATURES_FILE: canonical_json(bundle)},
        dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC),
    )


def signed_member(bundle: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return [m for m in bundle["members"] if m["decision"] == "signed"][index]


# --- refusals ----------------------------------------------------------------------------------------------------


def test_one_changed_byte_of_the_content_fails_naming_the_hash(
    filed: tuple[SessionCase, bytes], tmp_path: Path
) -> None:
    _case, pdf = filed
    content, bundle = parts(pdf)
    position = content.index(b'"8.00"') + 1
    changed = content[:position] + b"9" + content[position + 1 :]

    result = run(tmp_path, pdf_with(changed, bundle))

    assert result.returncode == 1, result.stderr
    assert "FAILED: the report's content hashes to" in result.stdout


def test_a_signature_by_another_key_fails_naming_the_member(filed: tuple[SessionCase, bytes], tmp_path: Path) -> None:
    _case, pdf = filed
    content, bundle = parts(pdf)
    entry = signed_member(bundle, 1)
    stranger = ec.generate_private_key(ec.SECP256R1())
    statement = base64.b64decode(entry["statement"])
    entry["signature"] = base64.b64encode(stranger.sign(statement, ec.ECDSA(hashes.SHA256()))).decode()

    result = run(tmp_path, pdf_with(content, bundle))

    assert result.returncode == 1, result.stderr
    assert f"FAILED: member {entry['member']} ({entry['name']}): the signature does not verify" in result.stdout
    assert f"OK  member {signed_member(bundle, 0)['member']}" in result.stdout  # the ones before it were checked

    # the stranger's key put in as well: it verifies, but it is not a key the report lists for that member
    entry["spki"] = base64.b64encode(
        stranger.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    result = run(tmp_path, pdf_with(content, bundle))
    assert result.returncode == 1 and "not a key the report lists for the member" in result.stdout


def test_a_swapped_statement_fails(filed: tuple[SessionCase, bytes], tmp_path: Path) -> None:
    _case, pdf = filed
    content, bundle = parts(pdf)
    first, second = signed_member(bundle, 0), signed_member(bundle, 1)
    first["statement"], first["signature"], first["spki"] = second["statement"], second["signature"], second["spki"]

    result = run(tmp_path, pdf_with(content, bundle))

    assert result.returncode == 1
    assert f"member {first['member']} ({first['name']}): the statement is not this member's statement" in result.stdout


def test_a_sheet_signature_left_out_or_changed_fails(filed: tuple[SessionCase, bytes], tmp_path: Path) -> None:
    _case, pdf = filed
    content, bundle = parts(pdf)
    dropped = bundle["sheets"].pop()

    result = run(tmp_path, pdf_with(content, bundle))
    assert result.returncode == 1 and "no signature in the bundle" in result.stdout

    dropped["statement"] = base64.b64encode(base64.b64decode(dropped["statement"]) + b" ").decode()
    bundle["sheets"].append(dropped)
    result = run(tmp_path, pdf_with(content, bundle))
    assert result.returncode == 1 and "its statement is not the one the report names" in result.stdout


def test_a_pdf_without_attachments_fails(tmp_path: Path) -> None:
    page = render_record_pdf(RecordDocument(title="评标报告", tables=[RecordTable("表", ["a"], [["1"]])]))

    result = run(tmp_path, page)

    assert result.returncode == 1 and "FAILED: the PDF carries no attachments" in result.stdout


# --- the real report ---------------------------------------------------------------------------------------------


def test_the_filed_report_checks_offline_member_by_member_and_says_how_to_check_the_pades_signature(
    filed: tuple[SessionCase, bytes], tmp_path: Path
) -> None:
    case, pdf = filed

    result = run(tmp_path, pdf)

    assert result.returncode == 0, result.stdout + result.stderr
    for member in case.members[:4]:
        assert f"OK  member {member.pk} ({member.expert.name}): signature OK" in result.stdout
    last = case.members[4]
    assert f"member {last.pk} ({last.expert.name}): refused without reasons, counted as agreeing" in result.stdout
    assert result.stdout.count("sheet of member") == 10
    assert "pyhanko sign validate" in result.stdout and "pdfsig" in result.stdout
