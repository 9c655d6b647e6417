"""Login throttling and lockout (django-axes): what a locked-out sign-in is told.

django-axes counts failed sign-ins per username *and* client address together
(``AXES_LOCKOUT_PARAMETERS``): bidders of a trading centre often share one
office address, and a lock by username alone would let anyone lock a bidder out
before a bid deadline from anywhere, so a guesser locks out only its own
address for that username. After ``LOGIN_FAILURE_LIMIT`` failures within
``LOGIN_LOCKOUT_MINUTES`` the pair is refused, the right password included,
until that time has passed since the last failure or an administrator deletes
the access attempt (admin: Axes › Access attempts). A successful sign-in resets
the count. The pages (/login/, the admin) and the API's token endpoint share
the count. docs/operations.md describes the settings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_ip_address, get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.contrib.auth import user_logged_in
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.errors import DomainError, error_body


class LoginLocked(DomainError):
    """Too many failed sign-ins for this username from this address (django-axes)."""

    code = "login_locked"
    status = 429


def retry_after(request: HttpRequest, username: str) -> dt.datetime:
    """When the lockout of this username from this request's address ends: the last failure plus the cool-off."""
    cool_off = get_cool_off(request) or dt.timedelta(0)
    last = AccessAttempt.objects.filter(username=username, ip_address=get_client_ip_address(request)).aggregate(
        last=Max("attempt_time")
    )["last"]
    return (last or timezone.now()) + cool_off


def lockout_error(request: HttpRequest, username: str) -> LoginLocked:
    until = timezone.localtime(retry_after(request, username))
    return LoginLocked(
        _(
            "登录失败次数过多：此用户名在当前网络地址已被暂时锁定，"
            "请于 %(time)s（%(zone)s）之后再试，或请平台管理员解锁。"
        )
        % {"time": date_format(until, "Y-m-d H:i"), "zone": timezone.get_current_timezone_name()}
    )


def lockout_response(request: HttpRequest, *args: Any) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the API's JSON error, or the sign-in page with the message.

    django-axes passes (response, credentials) synchronously but only (credentials)
    under ASGI: neither is needed, the username is read from what the request tried.
    """
    credentials = getattr(request, "axes_credentials", None)
    username = get_client_username(request, credentials) or ""
    error = lockout_error(request, username)
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(error_body(error.code, error.message), status=error.status)
    else:
        form = AuthenticationForm(request, initial={"username": username})
        response = render(
            request,
            "frontend/login.html",
            {"form": form, "lockout_message": error.message, "next": request.POST.get("next", "")},
            status=error.status,
        )
    response["Retry-After"] = str(max(0, int((retry_after(request, username) - timezone.now()).total_seconds())))
    return response


def password_sign_in_succeeded(request: HttpRequest, user: Any) -> None:
    """A sign-in that is not a session login (the API's token endpoint) resets the count as a login does."""
    user_logged_in.send(sender=user.__class__, request=request, user=user)


class TestClientTolerantBackend(AxesStandaloneBackend):
    """ETENDER_ENV=test only: Django's test ``Client.login`` authenticates without a request.

    Every sign-in the platform serves passes its request (tests/accounts/test_login_throttle.py
    proves the lockout on each), so the strict backend runs everywhere else.
    """

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> Any:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)
