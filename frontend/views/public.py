"""Public pages: the list of tender announcements, a tender's page, document downloads, questions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.errors import DomainError, InvalidInput
from config import clock
from frontend.forms import QuestionForm, TenderSearchForm
from frontend.views import draw as draw_pages
from frontend.views.common import refuse, show_on_form, signed_in, visible_tender
from tendering import hall, permissions
from tendering.http import document_download_response
from tendering.models import Phase, Tender
from tendering.services import custody, documents, questions, tenders
from tendering.services.outcome import FailureReason

PAGE_SIZE = 20
DOWNLOAD_CHUNK = 64 * 1024


@dataclass(frozen=True)
class TenderRow:
    tender: Tender
    phase: Phase


@require_GET
def tender_list(request: HttpRequest) -> HttpResponse:
    form = TenderSearchForm(request.GET or None)
    q = phase = ""
    if form.is_bound and form.is_valid():
        q = form.cleaned_data["q"].strip()
        phase = form.cleaned_data["phase"]
    found = Tender.objects.filter(published_at__isnull=False).select_related("tenderer")
    if q:
        found = found.filter(Q(title__icontains=q) | Q(number__icontains=q) | Q(tenderer__name__icontains=q))
    now = clock.now()
    # The phase follows from the clock, so it is filtered here rather than in SQL.
    rows = [TenderRow(t, Phase(t.phase(now))) for t in found]
    if phase:
        rows = [row for row in rows if row.phase == phase]
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "frontend/tender_list.html",
        {
            "form": form if form.is_bound else TenderSearchForm(),
            "page": page,
            "query": query.urlencode(),
            "searched": bool(q or phase),
        },
    )


def detail_context(request: HttpRequest, tender: Tender, question_form: QuestionForm | None = None) -> dict[str, Any]:
    user = request.user
    now = clock.now()
    manager = permissions.can_manage(user, tender)
    answered = list(questions.public_questions(tender))
    # A bidder also sees their own questions still waiting for an answer (never anyone else's).
    own_pending = []
    if user.is_authenticated and not manager:
        own_pending = [q for q in questions.questions_for(user, tender) if q.answered_at is None]
    phase = Phase(tender.phase(now))
    can_ask = permissions.is_bidder(user) and tender.enquiry_open(now)
    # The hall is linked for its participants once the opening time has come (the page itself checks again).
    hall_open = tender.published_at is not None and now >= tender.opening_time and bool(hall.hall_roles(user, tender))
    return {
        "tender": tender,
        "phase": phase,
        "documents": documents.visible_documents(user, tender),
        "lots": tender.lots.all(),
        "custodians": tender.custodian_slots.select_related("user", "user__organization", "public_key"),
        "custody_confirmed": custody.confirmed_count(tender)[0],
        "amendments": tender.amendments.all(),
        "answered_questions": answered,
        "own_pending_questions": own_pending,
        "can_manage": manager,
        "is_draft": phase == Phase.DRAFT,
        "can_amend": manager and phase == Phase.OPEN_FOR_BIDS,
        "enquiry_open": tender.enquiry_open(now),
        "can_ask": can_ask,
        "question_form": question_form or (QuestionForm() if can_ask else None),
        "unanswered_count": tender.questions.filter(answered_at__isnull=True).count() if manager else 0,
        "hall_open": hall_open,
        "opening_closed": tender.opening_closed_at is not None,
        "failure": FailureReason(tender.failure_reason).label if tender.failed_at and tender.failure_reason else None,
        "draw": draw_pages.draw_summary(user, tender),
        "method": tenders.tender_method(tender),
    }


@require_GET
def tender_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    tender = visible_tender(request.user, public_id)
    return render(request, "frontend/tender_detail.html", detail_context(request, tender))


@require_POST
@login_required
def ask_question(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = signed_in(request)
    tender = visible_tender(user, public_id)
    form = QuestionForm(request.POST)
    if form.is_valid():
        try:
            questions.ask_question(user, tender, form.cleaned_data["text"])
        except InvalidInput as exc:
            show_on_form(form, exc)
        except DomainError as exc:
            # The enquiry period is over (or the tender is no longer open): the form is gone.
            if exc.status in (403, 404):
                refuse(exc)
            messages.error(request, str(exc.message))
            return redirect(reverse("frontend:tender-detail", args=[tender.public_id]) + "#questions")
        else:
            messages.success(request, _("问题已提交。答复后将在本页公开（不显示提问人）。"))
            return redirect(reverse("frontend:tender-detail", args=[tender.public_id]) + "#questions")
    return render(request, "frontend/tender_detail.html", detail_context(request, tender, question_form=form))


@require_GET
def download_document(request: HttpRequest, public_id: uuid.UUID, document_id: uuid.UUID) -> FileResponse:
    tender = visible_tender(request.user, public_id)
    try:
        document = documents.document_for_download(request.user, tender, str(document_id))
    except DomainError as exc:
        refuse(exc)
    return document_download_response(request, document, request.user)
