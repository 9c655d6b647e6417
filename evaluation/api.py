"""API of the evaluation: the signed evaluation report (PDF), once every member decided and the platform filed it;
the procedure as open data (OCDS 1.1 release and record packages, evaluation/ocds.py), for anyone."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Router

from config import clock
from config.api_auth import AUTHENTICATED, OPTIONAL, actor
from evaluation import ocds
from evaluation.services import report
from tendering.permissions import visible_tender

router = Router(tags=["evaluation"])


@router.get(
    "/{public_id}/evaluation/report.pdf",
    auth=AUTHENTICATED,
    summary="The signed evaluation report (PDF): committee members, the supervisor, regulators, the tender's managers",
)
def report_pdf(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = actor(request)
    tender = visible_tender(user, public_id)
    response = HttpResponse(report.filed_report_pdf(user, tender), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="evaluation-report-{tender.number}.pdf"'
    return response


def _open_data(document: dict[str, object], name: str) -> JsonResponse:
    response = JsonResponse(document, json_dumps_params={"ensure_ascii": False})
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@router.get(
    "/{public_id}/ocds/releases",
    auth=OPTIONAL,
    summary="The procedure as an OCDS 1.1 release package (public once published; no bid before the opening)",
)
def ocds_releases(request: HttpRequest, public_id: uuid.UUID) -> JsonResponse:
    tender = visible_tender(actor(request), public_id, published=True)
    return _open_data(ocds.release_package(tender, clock.now()), f"{tender.number}-releases.json")


@router.get("/{public_id}/ocds/record", auth=OPTIONAL, summary="The procedure as an OCDS 1.1 record package")
def ocds_record(request: HttpRequest, public_id: uuid.UUID) -> JsonResponse:
    tender = visible_tender(actor(request), public_id, published=True)
    return _open_data(ocds.record_package(tender, clock.now()), f"{tender.number}-record.json")
