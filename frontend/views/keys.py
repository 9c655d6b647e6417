"""The user's registered public keys (P-256, made on their own device): list, revoke; where to register one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import services
from accounts.errors import DomainError
from accounts.models import PublicKey
from frontend.views.common import refuse, signed_in


@require_GET
@login_required
def key_list(request: HttpRequest) -> HttpResponse:
    """The user's keys. No form registers a pasted key here: a key is registered only with a
    proof that its owner holds the private key, made on the owner's device (the browser keys
    page or ``etender keys register``), never by pasting a public key anyone could copy."""
    user = signed_in(request)
    keys = PublicKey.objects.filter(owner=user)
    return render(request, "frontend/keys.html", {"keys": keys})


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
