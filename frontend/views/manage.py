"""Pages of tenderer and agency staff: drafts, documents, publication, questions, amendments.

Every page checks ``can_manage`` before showing a form; every change goes
through a service, which checks again and refuses what the page let through.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.forms import BaseFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.errors import DomainError, InvalidInput
from accounts.models import Role
from config import clock
from frontend.forms import (
    AmendmentForm,
    AnswerForm,
    DocumentUploadForm,
    LotFormSet,
    TenderForm,
    lot_initial,
    lots_from,
)
from frontend.views import draw as draw_pages
from frontend.views import evaluation as evaluation_pages
from frontend.views.common import managed_tender, refuse, show_on_form, signed_in, visible_tender
from tendering import permissions
from tendering.models import Phase, Question, Tender
from tendering.services import amendments, documents, questions, tenders


@dataclass(frozen=True)
class ManagedRow:
    tender: Tender
    phase: Phase
    unanswered: int
    bids: int | None  # None before the opening time (招标投标法 Art 22)


def _rows(found: list[Tender]) -> list[ManagedRow]:
    now = clock.now()
    return [
        ManagedRow(
            t,
            Phase(t.phase(now)),
            getattr(t, "unanswered", 0),
            getattr(t, "standing_bids", 0) if permissions.bids_disclosed(t, now) else None,
        )
        for t in found
    ]


def _with_unanswered(qs: QuerySet[Tender]) -> QuerySet[Tender]:
    return (
        qs.select_related("tenderer", "agency")
        .annotate(
            unanswered=Count("questions", filter=Q(questions__answered_at__isnull=True), distinct=True),
            # How many bids stand, never whose; shown only from the opening time (``_rows``).
            standing_bids=Count("bids", filter=Q(bids__status="accepted"), distinct=True),
        )
        .order_by("-created_at")
    )


@login_required
def my_tenders(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    if not permissions.can_create_tenders(user):
        raise PermissionDenied(_("只有招标人或招标代理机构的经办人可以管理招标项目。"))
    org_id = user.organization_id
    found = _with_unanswered(Tender.objects.filter(Q(tenderer_id=org_id) | Q(agency_id=org_id)))
    rows = _rows([t for t in found if permissions.can_manage(user, t)])
    return render(request, "frontend/my_tenders.html", {"rows": rows})


@login_required
def supervision(request: HttpRequest) -> HttpResponse:
    """Every tender, drafts included, for the regulator (read-only)."""
    user = signed_in(request)
    if not user.has_role(Role.REGULATOR):
        raise PermissionDenied(_("只有监督人员可以查看全部招标项目。"))
    rows = _rows(list(_with_unanswered(Tender.objects.all())))
    sessions = evaluation_pages.sessions_for(user)
    draws = draw_pages.draws_for(user)
    return render(request, "frontend/supervision.html", {"rows": rows, "sessions": sessions, "draws": draws})


def _tender_form_page(
    request: HttpRequest, form: TenderForm, formset: BaseFormSet, tender: Tender | None, lot_errors: list[str]
) -> HttpResponse:
    return render(
        request,
        "frontend/tender_form.html",
        {"form": form, "formset": formset, "tender": tender, "lot_errors": lot_errors},
    )


def _show_problems(form: TenderForm, problems: dict[str, list[str]]) -> list[str]:
    """The service's findings on the form, except on fields that already show why they did not parse;
    the lot rules concern the rows together, so they are returned to be shown above the rows."""
    lot_errors = [str(m) for m in problems.get("lots", [])]
    others = {
        field: messages
        for field, messages in problems.items()
        if field != "lots" and TenderForm.FIELD_MAP.get(field, field) not in form.errors
    }
    if others:
        show_on_form(form, InvalidInput(others), TenderForm.FIELD_MAP)
    return lot_errors


def _save_tender(request: HttpRequest, tender: Tender | None) -> HttpResponse:
    """Every problem of the form at once: what did not parse, and what the service's rules say of the rest."""
    user = signed_in(request)
    form = TenderForm(request.POST, actor=user, tender=tender)
    formset = LotFormSet(request.POST, prefix="lots")
    parsed = form.is_valid() & formset.is_valid()  # both run, whatever the first finds
    data = form.to_input(lots_from(formset))
    if not parsed:
        lot_errors = _show_problems(form, tenders.draft_problems(data, existing=tender))
        return _tender_form_page(request, form, formset, tender, lot_errors)
    lot_errors = []
    try:
        if tender is None:
            tender = tenders.create_draft(user, data)
            messages.success(request, _("草稿已保存。请上传招标文件，然后发布。"))
            return redirect("frontend:tender-documents", public_id=tender.public_id)
        tenders.update_draft(user, tender, data)
        messages.success(request, _("草稿已保存。"))
        return redirect("frontend:tender-detail", public_id=tender.public_id)
    except InvalidInput as exc:
        lot_errors = _show_problems(form, exc.fields)
    except DomainError as exc:
        show_on_form(form, exc, TenderForm.FIELD_MAP)
    return _tender_form_page(request, form, formset, tender, lot_errors)


@login_required
def tender_create(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    if not permissions.can_create_tenders(user):
        raise PermissionDenied(_("只有招标人或招标代理机构的经办人可以创建招标项目。"))
    if request.method == "POST":
        return _save_tender(request, None)
    form = TenderForm(actor=user)
    return _tender_form_page(request, form, LotFormSet(prefix="lots"), None, [])


@login_required
def tender_edit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = signed_in(request)
    tender = managed_tender(user, public_id)
    if tender.published_at is not None:
        messages.error(request, _("招标项目已发布，只能通过澄清或修改变更。"))
        return redirect("frontend:tender-detail", public_id=tender.public_id)
    if request.method == "POST":
        return _save_tender(request, tender)
    form = TenderForm(actor=user, tender=tender, initial=TenderForm.initial_for(tender))
    formset = LotFormSet(prefix="lots", initial=lot_initial(list(tender.lots.all())))
    return _tender_form_page(request, form, formset, tender, [])


@login_required
def tender_documents(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = signed_in(request)
    tender = managed_tender(user, public_id)
    form = DocumentUploadForm()
    if request.method == "POST":
        form = DocumentUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                # One upload, one outcome: a refused file leaves none of the others behind.
                with transaction.atomic():
                    added = [
                        documents.add_document(user, tender, f.name or "", f, f.size) for f in form.cleaned_data["file"]
                    ]
            except DomainError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("已上传：%(names)s") % {"names": "、".join(d.name for d in added)})
                return redirect("frontend:tender-documents", public_id=tender.public_id)
    return render(
        request,
        "frontend/tender_documents.html",
        {
            "tender": tender,
            "form": form,
            "documents": documents.visible_documents(user, tender),
            "is_draft": tender.published_at is None,
        },
    )


@require_POST
@login_required
def document_remove(request: HttpRequest, public_id: uuid.UUID, document_id: uuid.UUID) -> HttpResponse:
    user = signed_in(request)
    tender = visible_tender(user, public_id)
    try:
        document = documents.document_for_download(user, tender, str(document_id))
        documents.withdraw_draft_document(user, document)
    except DomainError as exc:
        if exc.status in (403, 404):
            refuse(exc)
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("已删除：%(name)s") % {"name": document.name})
    return redirect("frontend:tender-documents", public_id=tender.public_id)


@require_POST
@login_required
def tender_publish(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = signed_in(request)
    tender = visible_tender(user, public_id)
    try:
        tenders.publish(user, tender)
    except InvalidInput as exc:
        messages.error(request, _("未能发布："))
        for field_messages in exc.fields.values():
            for message in field_messages:
                messages.error(request, str(message))
    except DomainError as exc:
        if exc.status in (403, 404):
            refuse(exc)
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("招标公告已发布。"))
    return redirect("frontend:tender-detail", public_id=tender.public_id)


def _inbox(request: HttpRequest, tender: Tender, failed: tuple[Question, AnswerForm] | None = None) -> HttpResponse:
    items = []
    for question in questions.questions_for(signed_in(request), tender):
        form = None
        if question.answered_at is None:
            form = failed[1] if failed and failed[0].pk == question.pk else AnswerForm(prefix=f"q{question.pk}")
        items.append((question, form))
    can_answer = clock.now() < tender.bid_deadline
    return render(
        request, "frontend/questions_inbox.html", {"tender": tender, "items": items, "can_answer": can_answer}
    )


@login_required
def questions_inbox(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = signed_in(request)
    return _inbox(request, managed_tender(user, public_id))


@require_POST
@login_required
def question_answer(request: HttpRequest, public_id: uuid.UUID, question_id: uuid.UUID) -> HttpResponse:
    user = signed_in(request)
    tender = visible_tender(user, public_id)
    question = Question.objects.filter(tender=tender, public_id=question_id).first()
    if question is None:
        raise Http404
    form = AnswerForm(request.POST, prefix=f"q{question.pk}")
    if form.is_valid():
        try:
            questions.answer_question(user, question, form.cleaned_data["answer"])
        except DomainError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("答复已公开发布。"))
            return redirect("frontend:tender-questions", public_id=tender.public_id)
    if not permissions.can_manage(user, tender):
        raise PermissionDenied
    return _inbox(request, tender, failed=(question, form))


@login_required
def amendment_create(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = signed_in(request)
    tender = managed_tender(user, public_id)
    form = AmendmentForm()
    if request.method == "POST":
        form = AmendmentForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                amendment = amendments.issue_amendment(
                    user,
                    tender,
                    data["summary"],
                    [(f.name or "", f, f.size) for f in data["attachments"]],
                    data["new_deadline"],
                    data["new_opening_time"],
                )
            except DomainError as exc:
                show_on_form(form, exc, AmendmentForm.FIELD_MAP)
            else:
                messages.success(request, _("第 %(n)d 号澄清或修改已发布。") % {"n": amendment.number})
                return redirect("frontend:tender-detail", public_id=tender.public_id)
    notice_days = amendments.minimum_notice(tender).days
    return render(request, "frontend/amendment_form.html", {"tender": tender, "form": form, "notice_days": notice_days})
