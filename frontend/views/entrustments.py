"""Entrustments (委托): the tenderer's staff entrust agencies and revoke it;
agency staff see what they were entrusted with.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.errors import DomainError
from accounts.models import OrganizationKind, Role
from frontend.forms import EntrustmentForm
from frontend.views.common import refuse, show_on_form, signed_in
from tendering.services import entrustments


@login_required
def entrustment_list(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    org = user.organization
    grants = bool(org and org.kind == OrganizationKind.TENDERER and user.has_role(Role.TENDERER_STAFF))
    receives = bool(org and org.kind == OrganizationKind.AGENCY and user.has_role(Role.AGENCY_STAFF))
    if not (grants or receives):
        raise PermissionDenied(_("只有招标人和招标代理机构的经办人可以查看委托。"))
    form = EntrustmentForm() if grants else None
    if request.method == "POST":
        if not grants:
            raise PermissionDenied(_("只有招标人的经办人可以委托或撤销委托招标代理机构。"))
        form = EntrustmentForm(request.POST)
        if form.is_valid():
            try:
                entrustments.grant(user, form.cleaned_data["agency"].pk, **form.grant_arguments())
            except DomainError as exc:
                show_on_form(form, exc, EntrustmentForm.FIELD_MAP)
            else:
                messages.success(request, _("已委托 %(agency)s。") % {"agency": form.cleaned_data["agency"].name})
                return redirect("frontend:entrustments")
    return render(
        request,
        "frontend/entrustments.html",
        {"form": form, "grants": grants, "entrustments": entrustments.visible_entrustments(user)},
    )


@require_POST
@login_required
def entrustment_revoke(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = signed_in(request)
    try:
        revoked = entrustments.revoke(user, public_id)
    except DomainError as exc:
        if exc.status in (403, 404):
            refuse(exc)
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("已撤销对 %(agency)s 的委托。") % {"agency": revoked.agency.name})
    return redirect("frontend:entrustments")
