"""The user's registered public keys (P-256, made on their own device): list, register, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import services
from accounts.errors import DomainError
from accounts.models import PublicKey
from frontend.forms import PublicKeyForm
from frontend.views.common import refuse, signed_in


@login_required
def key_list(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    form = PublicKeyForm()
    if request.method == "POST":
        form = PublicKeyForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                key = services.register_public_key(user, data["purpose"], data["public_key"], data["label"])
            except DomainError as exc:
                if exc.status in (403, 404):
                    refuse(exc)
                form.add_error(PublicKeyForm.CODE_FIELDS.get(exc.code, "public_key"), str(exc.message))
            else:
                messages.success(request, _("公钥已登记，指纹 %(fp)s。") % {"fp": key.fingerprint})
                return redirect("frontend:keys")
    keys = PublicKey.objects.filter(owner=user)
    return render(request, "frontend/keys.html", {"form": form, "keys": keys})


@require_POST
@login_required
def key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    key = PublicKey.objects.filter(pk=pk).first()
    if key is None:
        raise Http404
    try:
        services.revoke_public_key(user, key)
    except DomainError as exc:
        if exc.status in (403, 404):
            refuse(exc)
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("公钥已撤销。"))
    return redirect("frontend:keys")
