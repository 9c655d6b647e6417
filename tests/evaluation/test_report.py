"""The evaluation report: its content from the sheets, each member's signature or refusal, the refusals of bad
signatures, and the filed PDF (Chinese, amounts in capitals, attachments, the platform's PAdES signature)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django_tasks_db.models import DBTaskResult

from accounts.errors import Conflict, InvalidInput, PermissionDenied, WrongPhase
from archive import cases
from archive.models import LedgerEntry
from archive.pdf import verify_pdf_signature
from archive.signing import platform_signer
from config import formatting
from evaluation import report_check
from evaluation.models import MemberState, Report, ReportSignature, SessionEvent, SignatureDecision, Stage
from evaluation.services import report as report_service
from tendering.models import Phase
from tests.evaluation.factories import SessionCase
from tests.evaluation.report_case import REVISED, SCORES, ReportedCase, file_it, reach_report

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def reported(session_case: Callable[..., SessionCase]) -> ReportedCase:
    return reach_report(session_case(n_bids=5, n_experts=5))


def _content(reported: ReportedCase) -> dict[str, Any]:
    return json.loads(bytes(reported.report.content))


def _half_up(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _decisions(reported: ReportedCase) -> int:
    return ReportSignature.objects.filter(report=reported.report).count()


def _entries(reported: ReportedCase, action: str) -> list[dict[str, Any]]:
    """The data of the case's ledger entries of ``action``, oldest first."""
    found = LedgerEntry.objects.filter(case=reported.case.tender.case, action=action).order_by("seq")
    return [json.loads(entry.data) for entry in found]


# --- the content ------------------------------------------------------------------------------------------------


def test_the_ranking_equals_an_independent_calculation_from_the_recorded_sheets(reported: ReportedCase) -> None:
    case, content = reported.case, _content(reported)
    scores = [[list(map(Fraction, pair)) for pair in sheet] for sheet in SCORES]
    scores[4][0][0] = Fraction(REVISED)  # the revision counts, not the score first submitted
    prices = [Fraction(p) for p in case.prices]
    expected = {}
    for b, bid in enumerate(case.bids):
        t1 = _half_up(sum(s[b][0] for s in scores) / 5 / 10 * 30)
        c1 = _half_up(sum(s[b][1] for s in scores) / 5 / 10 * 20)
        price = _half_up(min(prices) / prices[b] * 50)
        expected[str(bid.public_id)] = (t1, c1, price, t1 + c1 + price)
    order = sorted(
        expected,
        key=lambda bid: (
            -expected[bid][3],
            Fraction(case.prices[case.bids.index(next(b for b in case.bids if str(b.public_id) == bid))]),
        ),
    )

    assert content["ranking"] == order
    assert content["candidates"] == order[:3]
    for row in content["bids"]:
        t1, c1, price, total = expected[row["bid"]]
        assert row["points"] == {"T1": str(t1), "C1": str(c1)}
        assert (row["price_score"], row["total"]) == (str(price), str(total))
        assert row["rank"] == order.index(row["bid"]) + 1


def test_the_content_names_every_expert_and_holds_sheets_disagreements_deviations_and_clarifications(
    reported: ReportedCase,
) -> None:
    case, content = reported.case, _content(reported)

    assert content["format"] == report_check.REPORT_FORMAT
    assert content["tender"]["number"] == case.tender.number
    assert [m["name"] for m in content["committee"]] == [m.expert.name for m in case.members]
    assert [(s["name"], s["kind"]) for s in content["sheets"]] == [
        *[(m.expert.name, "qualification") for m in case.members],
        *[(m.expert.name, "scoring") for m in case.members],
    ]
    assert all(len(s["marks"]) == 10 for s in content["sheets"])
    (disagreement,) = content["qualification_disagreements"]
    assert disagreement["bid"] == str(case.bids[2].public_id) and disagreement["item"] == "Q1"
    assert disagreement["passed"] is True and disagreement["failed_by"] == [case.members[4].expert.name]
    (deviation,) = content["deviations"]
    assert deviation["name"] == case.members[4].expert.name
    assert deviation["revisions"][0]["old_score"] == "3.00" and deviation["revisions"][0]["new_score"] == REVISED
    assert content["clarifications"][0]["answer"] == "工期为一百八十日历天。"
    assert content["messages"][0]["text"] == "请各位专家核对资格审查表。"


def test_building_records_the_content_hash_and_tells_the_session(reported: ReportedCase) -> None:
    (entry,) = _entries(reported, report_service.BUILT)
    event = SessionEvent.objects.get(evaluation=reported.case.evaluation, kind="report.ready")

    assert entry["content_sha256"] == reported.report.content_sha256
    assert event.payload["sha256"] == reported.report.content_sha256


def test_a_second_report_is_refused(reported: ReportedCase) -> None:
    from django.db import transaction

    from evaluation.services.session.common import lock_evaluation

    with pytest.raises(Conflict), transaction.atomic():
        report_service.build_report(lock_evaluation(reported.case.tender))
    assert Report.objects.filter(evaluation=reported.case.evaluation).count() == 1


# --- signing and refusing -----------------------------------------------------------------------------------------


def test_the_statement_names_the_report_the_evaluation_and_the_member(reported: ReportedCase) -> None:
    case = reported.case
    statement = report_service.report_statement(case.members[1])

    assert json.loads(statement) == {
        "format": "etender-report-signature-v1",
        "report_sha256": reported.report.content_sha256,
        "evaluation": case.evaluation.pk,
        "member": case.members[1].pk,
        "decision": "signed",
    }


def test_a_signature_made_with_another_key_is_refused_and_nothing_changes(reported: ReportedCase) -> None:
    case = reported.case
    statement = report_service.report_statement(case.members[0])
    forged = base64.b64encode(ec.generate_private_key(ec.SECP256R1()).sign(statement, ec.ECDSA(hashes.SHA256())))

    with pytest.raises(InvalidInput) as refused:
        report_service.sign_report(case.experts[0], case.evaluation, case.fingerprint(0), forged.decode())

    assert "signature" in refused.value.fields
    assert _decisions(reported) == 0 and not _entries(reported, report_service.SIGNED)


def test_a_replayed_signature_of_another_statement_is_refused(reported: ReportedCase) -> None:
    case = reported.case
    other = report_service.report_statement(case.members[1])  # member 1's statement...
    replayed = case.sign(0, other)  # ...signed by member 0 (or a sheet's signature: another statement all the same)
    sheet_signature = base64.b64encode(bytes(case.members[0].sheets.get(kind="scoring").signature)).decode()

    for signature in (replayed, sheet_signature):
        with pytest.raises(InvalidInput):
            report_service.sign_report(case.experts[0], case.evaluation, case.fingerprint(0), signature)
    assert _decisions(reported) == 0


def test_another_members_key_is_refused(reported: ReportedCase) -> None:
    case = reported.case
    statement = report_service.report_statement(case.members[0])

    with pytest.raises(InvalidInput) as refused:
        report_service.sign_report(case.experts[0], case.evaluation, case.fingerprint(1), case.sign(1, statement))

    assert "key" in refused.value.fields
    assert _decisions(reported) == 0


def test_a_non_member_the_supervisor_and_a_recused_member_cannot_sign_or_refuse(reported: ReportedCase) -> None:
    case = reported.case
    statement = report_service.report_statement(case.members[0])
    for user, code in ((case.bidder_users[0], "not_a_member"), (case.supervisor, "read_only")):
        with pytest.raises(PermissionDenied) as refused:
            report_service.sign_report(user, case.evaluation, case.fingerprint(0), case.sign(0, statement))
        assert refused.value.code == code
    case.members[4].state = MemberState.RECUSED
    case.members[4].save(update_fields=["state"])
    with pytest.raises(PermissionDenied):
        report_service.refuse_report(case.members[4], "")
    assert _decisions(reported) == 0


def test_a_second_decision_is_refused(reported: ReportedCase) -> None:
    case = reported.case
    statement = report_service.report_statement(case.members[0])
    signature = case.sign(0, statement)
    report_service.sign_report(case.experts[0], case.evaluation, case.fingerprint(0), signature)

    with pytest.raises(Conflict):
        report_service.sign_report(case.experts[0], case.evaluation, case.fingerprint(0), signature)
    with pytest.raises(Conflict):
        report_service.refuse_report(case.members[0], "改变主意")

    assert _decisions(reported) == 1 and len(_entries(reported, report_service.SIGNED)) == 1


def test_signing_before_the_report_stage_is_refused(session_case: Callable[..., SessionCase]) -> None:
    case = session_case(n_bids=3, n_experts=3)

    with pytest.raises(WrongPhase):
        report_service.refuse_report(case.members[0], "")


def test_a_signature_is_recorded_with_its_key_and_told_to_the_session(reported: ReportedCase) -> None:
    case = reported.case
    statement = report_service.report_statement(case.members[2])

    decision = report_service.sign_report(
        case.experts[2], case.evaluation, case.fingerprint(2), case.sign(2, statement)
    )

    assert decision.decision == SignatureDecision.SIGNED and bytes(decision.statement) == statement
    (entry,) = _entries(reported, report_service.SIGNED)
    assert entry["member_id"] == case.members[2].pk and entry["key_fingerprint"] == case.fingerprint(2)
    assert SessionEvent.objects.filter(kind="report.signed", payload__member=case.members[2].pk).exists()


def test_a_refusal_without_reasons_counts_as_agreeing_and_one_with_reasons_is_dissent(reported: ReportedCase) -> None:
    case = reported.case
    report_service.refuse_report(case.members[3], "   ")
    report_service.refuse_report(case.members[4], "对第三名的资格审查结论有异议。")

    silent, dissent = _entries(reported, report_service.REFUSED)
    assert (silent["reasons"], silent["counted_as_agreeing"]) == ("", True)
    assert (dissent["reasons"], dissent["counted_as_agreeing"]) == ("对第三名的资格审查结论有异议。", False)
    assert SessionEvent.objects.filter(kind="report.refused").count() == 2


# --- filing ----------------------------------------------------------------------------------------------------------


def _queued_filings() -> int:
    return DBTaskResult.objects.filter(task_path=report_service.FILE_TASK).count()


def test_the_filing_is_queued_once_the_last_member_decided_and_not_before(
    reported: ReportedCase, django_capture_on_commit_callbacks: Any
) -> None:
    case = reported.case
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(4):
            statement = report_service.report_statement(case.members[i])
            report_service.sign_report(case.experts[i], case.evaluation, case.fingerprint(i), case.sign(i, statement))
    assert _queued_filings() == 0
    assert report_service.file_report(case.evaluation.pk) == "not decided"

    with django_capture_on_commit_callbacks(execute=True):
        report_service.refuse_report(case.members[4], "")

    assert _queued_filings() == 1
    reported.report.refresh_from_db()
    assert reported.report.pdf_sha256 == ""  # the worker files it


@pytest.fixture
def filed(reported: ReportedCase) -> tuple[ReportedCase, bytes]:
    return reported, file_it(reported, refuse={3: "", 4: "对第三名的资格审查结论有异议。"})


def test_the_filed_pdf_carries_the_platforms_valid_pades_signature(filed: tuple[ReportedCase, bytes]) -> None:
    reported, pdf = filed

    result = verify_pdf_signature(pdf, platform_signer().trust_anchors)

    assert result.problem is None and result.valid and result.covers_whole_document
    assert reported.report.pdf_sha256 == hashlib.sha256(pdf).hexdigest()


def test_filing_records_the_pdf_moves_the_tender_to_candidates_and_concludes(filed: tuple[ReportedCase, bytes]) -> None:
    reported, pdf = filed
    case = reported.case
    (entry,) = _entries(reported, report_service.FILED)
    case.tender.refresh_from_db()
    case.evaluation.refresh_from_db()

    assert entry["sha256"] == reported.report.pdf_sha256 and entry["size"] == len(pdf)
    assert _entries(reported, "tendering.evaluation.reported")[0]["candidates"] == _content(reported)["candidates"]
    assert case.tender.phase(case.clock()) == Phase.CANDIDATES
    assert case.evaluation.stage == Stage.CONCLUDED
    assert SessionEvent.objects.get(kind="report.filed").payload["sha256"] == reported.report.pdf_sha256
    assert report_service.file_report(case.evaluation.pk) == "already filed"
    # Filed in the tender's case, once, with the version and hash of the stored PDF.
    (filed_pdf,) = cases.objects_of(case.tender.case).filter(name="evaluation/evaluation-report.pdf")
    assert (filed_pdf.object_key, filed_pdf.sha256, filed_pdf.size) == (
        reported.report.object_key,
        hashlib.sha256(pdf).hexdigest(),
        len(pdf),
    )


def test_the_pdf_attaches_the_content_and_the_signatures_that_check_offline(filed: tuple[ReportedCase, bytes]) -> None:
    reported, pdf = filed
    files = report_check.attachments(pdf)

    assert files[report_check.CONTENT_FILE] == bytes(reported.report.content)
    lines = list(report_check.check_pdf(pdf))
    assert sum("signature OK" in line and "sheet" not in line for line in lines) == 3
    assert sum("sheet of member" in line for line in lines) == 10
    assert any("counted as agreeing" in line for line in lines)


def test_the_pdf_is_in_chinese_with_amounts_in_figures_and_capitals(
    filed: tuple[ReportedCase, bytes], tmp_path: Path
) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian poppler-utils) is not installed")
    reported, pdf = filed
    (tmp_path / "report.pdf").write_bytes(pdf)
    text = "".join(
        subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(tmp_path / "report.pdf"), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
    )
    winner = _content(reported)["bids"][[b["rank"] for b in _content(reported)["bids"]].index(1)]

    for expected in (
        "评标报告",
        "评标结果及推荐的中标候选人",
        "资格审查结果",
        "评分表：专家1",
        "评分偏离",
        "澄清",
        "不同意见",
        "视为同意评标结论",
        "评标委员会成员签字",
        "对第三名的资格审查结论有异议。",
    ):
        assert expected in text
    assert formatting.group_thousands(winner["price"]) in text
    assert formatting.amount_in_words(winner["price"]) in text
    for member in reported.case.members:
        assert member.expert.name in text


def test_poppler_pdfsig_finds_the_platforms_signature_valid_over_the_whole_file(
    filed: tuple[ReportedCase, bytes], tmp_path: Path
) -> None:
    if shutil.which("pdfsig") is None:
        pytest.skip("pdfsig (Debian poppler-utils) is not installed")
    _reported, pdf = filed
    (tmp_path / "report.pdf").write_bytes(pdf)

    out = subprocess.run(["pdfsig", str(tmp_path / "report.pdf")], capture_output=True, text=True, check=False).stdout

    assert "Signature Validation: Signature is Valid." in out and "Total document signed" in out
    # poppler trusts only its own store, which does not hold the platform's CA: the signature, not the trust, is checked
    assert platform_signer().certificate.subject.rfc4514_string().split(",")[0].removeprefix("CN=") in out


def test_the_pdf_is_dated_the_last_decision(filed: tuple[ReportedCase, bytes]) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    from archive.pdf import pdf_date

    reported, pdf = filed
    last = max(ReportSignature.objects.filter(report=reported.report).values_list("signed_at", flat=True))

    assert str(PdfFileReader(io.BytesIO(pdf)).trailer["/Info"]["/CreationDate"]) == pdf_date(last)


# --- the download ------------------------------------------------------------------------------------------------


def _download(client: Any, user: Any, reported: ReportedCase) -> Any:
    client.force_login(user)
    return client.get(f"/api/tenders/{reported.case.tender.public_id}/evaluation/report.pdf")


def test_the_report_is_not_downloadable_before_it_is_filed_nor_by_a_bidder(reported: ReportedCase, client: Any) -> None:
    early = _download(client, reported.case.supervisor, reported)
    assert (early.status_code, early.json()["code"]) == (404, "report_not_filed")

    file_it(reported)
    refused = _download(client, reported.case.bidder_users[0], reported)
    assert (refused.status_code, refused.json()["code"]) == (404, "no_report")


def test_members_the_supervisor_and_the_tenderer_download_the_signed_report(
    reported: ReportedCase, client: Any
) -> None:
    file_it(reported)
    case = reported.case

    for user in (case.experts[0], case.supervisor, case.personas.tenderer):
        response = _download(client, user, reported)
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/pdf"
        assert hashlib.sha256(response.content).hexdigest() == reported.report.pdf_sha256
