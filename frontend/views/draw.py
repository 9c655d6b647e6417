"""The expert draw's pages: the tenderer's request (专家抽取申请), the supervisor's commitment and reveal, the
expert's answer to an invitation, and the pool for the platform admin. Each validates and calls one service."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.errors import DomainError
from accounts.models import Role, User
from config import clock
from evaluation.models import DrawParty, Evaluation, Expert, MemberState, Specialty
from evaluation.services import confirmation, draw, pool
from frontend.views.common import refuse, signed_in, visible_tender
from tendering.models import Phase, Tender
from tendering.permissions import can_manage

MAX_UPLOAD = pool.MAX_BYTES


def draw_summary(user: Any, tender: Tender) -> dict[str, Any] | None:
    """What the tender page shows of the draw: counts only (never names) until the names are published."""
    evaluation = Evaluation.objects.filter(tender=tender).first()
    manager = can_manage(user, tender)
    regulator = bool(user.is_authenticated and user.has_role(Role.REGULATOR))
    if evaluation is None:
        if manager and tender.phase(clock.now()) == Phase.OPEN_FOR_BIDS:
            return {"evaluation": None, "manager": True, "regulator": False}
        return None
    names = None
    if evaluation.names_published_at is not None:
        names = [m.expert.name for m in evaluation.members.filter(state=MemberState.CONFIRMED).select_related("expert")]
    return {
        "evaluation": evaluation,
        "counts": confirmation.committee_counts(evaluation),
        "drawn": evaluation.drawn_at is not None,
        "manager": manager,
        "regulator": regulator,
        "names": names,
    }


def _draw_context(user: User, tender: Tender, evaluation: Evaluation | None) -> dict[str, Any]:
    now = clock.now()
    phase = tender.phase(now)
    supervisor = evaluation is not None and evaluation.supervisor_id == user.pk
    commitments = {c.party: c for c in evaluation.commitments.all()} if evaluation else {}
    lines = {line.specialty.code: line.count for line in evaluation.request_lines.all()} if evaluation else {}
    return {
        "tender": tender,
        "evaluation": evaluation,
        "specialties": [(s, lines.get(s.code, 0)) for s in Specialty.objects.all()],
        "excluded_regions": " ".join(evaluation.excluded_regions) if evaluation else "",
        "manager": can_manage(user, tender),
        "regulator": user.has_role(Role.REGULATOR),
        "supervisor": supervisor,
        "before_deadline": phase == Phase.OPEN_FOR_BIDS,
        "in_evaluation": phase == Phase.EVALUATION,
        "platform_commitment": commitments.get(DrawParty.PLATFORM),
        "supervisor_commitment": commitments.get(DrawParty.SUPERVISOR),
        "counts": confirmation.committee_counts(evaluation) if evaluation else None,
        "request_lines": list(evaluation.request_lines.select_related("specialty")) if evaluation else [],
        # The draw's result by expert code (as the public record has it), never by name.
        "seats": list(evaluation.members.select_related("expert", "specialty", "replaces__expert"))
        if evaluation and evaluation.drawn_at
        else [],
    }


@login_required
@require_http_methods(["GET", "POST"])
def draw_page(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """专家抽取: the manager's request and freeze, the supervisor's commitment and reveal, on one page."""
    user = signed_in(request)
    tender = visible_tender(user, public_id)
    if not (can_manage(user, tender) or user.has_role(Role.REGULATOR)):
        raise PermissionDenied(_("只有本项目的招标人、代理机构或监督人员可以查看专家抽取。"))
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            _act(user, tender, action, request)
        except DomainError as exc:
            if exc.status in (403, 404) and exc.code not in ("no_expert_request",):
                refuse(exc)
            messages.error(request, str(exc.message))
            for field_messages in getattr(exc, "fields", {}).values():
                for message in field_messages[1:]:
                    messages.error(request, str(message))
        return redirect(reverse("frontend:tender-draw", args=[tender.public_id]))
    evaluation = Evaluation.objects.filter(tender=tender).first()
    return render(request, "frontend/draw.html", _draw_context(user, tender, evaluation))


def _act(user: User, tender: Tender, action: str, request: HttpRequest) -> None:
    if action == "request":
        lines: dict[str, Any] = {}
        for specialty in Specialty.objects.all():
            raw = request.POST.get(f"count_{specialty.code}", "").strip()
            if raw and raw != "0":
                lines[specialty.code] = int(raw) if raw.isdigit() else raw
        regions = request.POST.get("excluded_regions", "").replace("，", " ").replace(",", " ").split()
        draw.request_experts(user, tender, lines, regions)
        messages.success(request, _("专家抽取申请已保存。"))
    elif action == "commit":
        draw.commit_supervisor(user, tender, request.POST.get("commitment", ""))
        messages.success(request, _("承诺值已提交。请妥善保存揭示值文件，抽取时需要它。"))
    elif action == "freeze":
        draw.freeze_candidates(user, tender)
        messages.success(request, _("候选专家已锁定并记录。"))
    elif action == "reveal":
        draw.reveal_supervisor(user, tender, request.POST.get("secret", ""))
        messages.success(request, _("抽取完成：已向抽中的专家发出邀请。"))
    else:
        messages.error(request, _("未知的操作。"))


def draws_for(user: Any) -> list[tuple[Tender, str]]:
    """The supervision page's draws that wait for a regulator: a commitment before the deadline (nobody has
    committed yet, or this user did), or this user's reveal once the candidates are frozen."""
    if not user.is_authenticated or not user.has_role(Role.REGULATOR):
        return []
    now = clock.now()
    found = []
    pending = Evaluation.objects.filter(drawn_at__isnull=True).select_related("tender").order_by("-requested_at")
    for evaluation in pending[:50]:
        tender = evaluation.tender
        if tender.phase(now) == Phase.OPEN_FOR_BIDS and evaluation.supervisor_id in (None, user.pk):
            found.append((tender, _("待提交抽取承诺值") if evaluation.supervisor_id is None else _("已提交承诺值")))
        elif evaluation.supervisor_id == user.pk and evaluation.candidates_frozen_at is not None:
            found.append((tender, _("候选专家已锁定，待您揭示并抽取")))
    return found


# --- the expert's invitations --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def invitation_page(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """评标邀请: the drawn expert's own invitation (the tender, its specialty, when the evaluation starts, where),
    confirmed or declined (with a reason) here; anyone without an invitation for the tender: not found."""
    user = signed_in(request)
    tender = visible_tender(user, public_id)
    if request.method == "POST":
        try:
            if request.POST.get("answer") == "confirm":
                confirmation.confirm(user, tender)
                messages.success(request, _("已确认参加评标。"))
            else:
                confirmation.decline(user, tender, request.POST.get("reason", ""))
                messages.success(request, _("已拒绝邀请。"))
        except DomainError as exc:
            if exc.status == 404:
                refuse(exc)
            messages.error(request, str(exc.message))
            for field_messages in getattr(exc, "fields", {}).values():
                for message in field_messages[1:]:
                    messages.error(request, str(message))
        return redirect(reverse("frontend:invitation", args=[tender.public_id]))
    member = confirmation.invitation_of(user, tender) if user.has_role(Role.EXPERT) else None
    if member is None:
        raise Http404(_("您没有该项目的评标邀请。"))
    return render(
        request,
        "frontend/invitation.html",
        {
            "tender": tender,
            "member": member,
            "evaluation_at": tender.opening_closed_at or tender.opening_time,
            "in_evaluation": tender.phase(clock.now()) == Phase.EVALUATION,
        },
    )


def invitations(user: Any) -> list[Any]:
    """The expert dashboard's invitations (empty for anyone else)."""
    if not user.is_authenticated or not user.has_role(Role.EXPERT):
        return []
    return confirmation.invitations_for(user)


# --- the pool ------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def pool_page(request: HttpRequest) -> HttpResponse:
    """专家库: the list with filters and the CSV upload, for the platform admin only."""
    user = signed_in(request)
    if not user.has_role(Role.PLATFORM_ADMIN):
        raise PermissionDenied(_("只有平台管理员可以管理专家库。"))
    problems: list[str] = []
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None or upload.size is None or upload.size > MAX_UPLOAD:
            problems = [_("请选择不超过 10 MB 的 CSV 文件。")]
        else:
            try:
                result = pool.import_pool(user, upload.read())
            except DomainError as exc:
                problems = [str(m) for ms in getattr(exc, "fields", {}).values() for m in ms] or [str(exc.message)]
            else:
                messages.success(
                    request,
                    _("已导入：新增 %(created)d 名、更新 %(updated)d 名专家，新建 %(accounts)d 个账号。")
                    % {"created": result.created, "updated": result.updated, "accounts": result.accounts_created},
                )
                return redirect(reverse("frontend:pool"))
    experts = Expert.objects.prefetch_related("specialties").order_by("code")
    q = request.GET.get("q", "").strip()[:100]
    specialty = request.GET.get("specialty", "").strip()[:20]
    region = request.GET.get("region", "").strip()[:6]
    if q:
        experts = experts.filter(Q(code__icontains=q) | Q(name__icontains=q) | Q(employer_name__icontains=q))
    if specialty:
        experts = experts.filter(specialties__code=specialty)
    if region:
        experts = experts.filter(region_code__startswith=region)
    if request.GET.get("active") in ("1", "0"):
        experts = experts.filter(active=request.GET["active"] == "1")
    page = Paginator(experts.distinct(), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "frontend/pool.html",
        {
            "page": page,
            "specialties": Specialty.objects.all(),
            "filters": {"q": q, "specialty": specialty, "region": region, "active": request.GET.get("active", "")},
            "problems": problems,
            "columns": pool.COLUMNS,
        },
        status=422 if problems else 200,
    )
