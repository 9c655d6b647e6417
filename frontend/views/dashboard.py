"""The signed-in user's dashboard: what needs their attention, by role."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import KeyPurpose, Role, User
from accounts.services import active_key
from config import clock
from frontend.views import draw as draw_pages
from frontend.views import evaluation as evaluation_pages
from frontend.views.common import signed_in
from tendering import hall, permissions
from tendering.models import BidStatus, DocumentDownload, Question, Tender, TenderCustodian
from tendering.services import custody, notifications

LIMIT = 50


def open_halls(user: User, now: dt.datetime) -> list[Tender]:
    """The tenders whose opening hall this user may enter now: the opening time has come, the opening is not closed."""
    found = Tender.objects.filter(published_at__isnull=False, opening_time__lte=now, opening_closed_at__isnull=True)
    if not user.has_role(Role.REGULATOR):
        mine = Q(custodian_slots__user=user)
        if user.organization_id is not None:
            org = user.organization_id
            mine |= Q(tenderer_id=org) | Q(agency_id=org) | Q(bids__bidder_id=org, bids__status=BidStatus.ACCEPTED)
        found = found.filter(mine).distinct()
    return [t for t in found.order_by("-opening_time")[:LIMIT] if hall.hall_roles(user, t)]


@require_GET
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    context: dict[str, object] = {
        "now": clock.now(),
        "notifications": notifications.notifications_for(user)[:LIMIT],
        "halls": open_halls(user, clock.now()),
        "is_bidder": permissions.is_bidder(user),
        "is_manager": permissions.can_create_tenders(user),
        "is_custodian": user.has_role(Role.CUSTODIAN),
        "is_regulator": user.has_role(Role.REGULATOR),
        "sessions": evaluation_pages.sessions_for(user),
        "invitations": draw_pages.invitations(user),
        "clarification_tenders": evaluation_pages.clarification_tenders(user),
    }
    if context["is_bidder"]:
        context["downloads"] = DocumentDownload.objects.filter(user=user).select_related(
            "document", "document__tender"
        )[:LIMIT]
        context["my_questions"] = (
            Question.objects.filter(asked_by=user).select_related("tender").order_by("-asked_at")[:LIMIT]
        )
    if context["is_manager"]:
        org_id = user.organization_id
        managed = Tender.objects.filter(Q(tenderer_id=org_id) | Q(agency_id=org_id)).annotate(
            unanswered=Count("questions", filter=Q(questions__answered_at__isnull=True))
        )
        context["managed"] = [
            t for t in managed.select_related("tenderer", "agency") if permissions.can_manage(user, t)
        ][:LIMIT]
    if context["is_custodian"]:
        context["custodian_slots"] = TenderCustodian.objects.filter(user=user).select_related("tender", "public_key")[
            :LIMIT
        ]
        context["encryption_key"] = active_key(user, KeyPurpose.ENCRYPTION)
        context["awaiting_custody"] = list(custody.awaiting_confirmation(user)[:LIMIT])
    return render(request, "frontend/dashboard.html", context)


@require_POST
@login_required
def notifications_read(request: HttpRequest) -> HttpResponse:
    notifications.mark_read(signed_in(request))
    messages.success(request, _("通知已全部标为已读。"))
    return redirect("frontend:dashboard")
