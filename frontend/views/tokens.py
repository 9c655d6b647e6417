"""API tokens for the user's programs (the bidder's command-line client): issue, list, revoke."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts import services
from accounts.errors import DomainError
from accounts.models import ApiToken
from frontend.views.common import refuse, signed_in


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("令牌名称"), max_length=100, help_text=gettext_lazy("例如：办公室电脑上的投标客户端")
    )


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    form = TokenForm()
    plaintext = None
    if request.method == "POST":
        form = TokenForm(request.POST)
        if form.is_valid():
            try:
                plaintext, _token = services.issue_api_token(user, form.cleaned_data["name"])
            except DomainError as exc:
                if exc.status in (403, 404):
                    refuse(exc)
                form.add_error("name", str(exc.message))
            else:
                form = TokenForm()
    tokens = ApiToken.objects.filter(user=user)
    response = render(request, "frontend/tokens.html", {"form": form, "tokens": tokens, "plaintext": plaintext})
    add_never_cache_headers(response)  # the new token is shown once and must not be cached
    return response


@require_POST
@login_required
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    token = ApiToken.objects.filter(pk=pk, user=user).first()
    if token is None:
        raise Http404
    services.revoke_api_token(user, token)
    messages.success(request, _("令牌已撤销。"))
    return redirect("frontend:tokens")
