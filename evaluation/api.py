"""API of the evaluation: the signed evaluation report (PDF), once every member decided and the platform filed it."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from ninja import Router

from config.api_auth import AUTHENTICATED, actor
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
