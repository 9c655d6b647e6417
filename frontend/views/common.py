"""What every page module needs: finding a tender the user may see, and turning refusals into pages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, NoReturn

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _

from accounts.errors import DomainError, NotFound
from accounts.models import User
from frontend.forms import add_domain_error
from tendering import permissions
from tendering.models import Tender


def signed_in(request: HttpRequest) -> User:
    """The signed-in user of a view behind ``login_required``."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def visible_tender(user: Any, public_id: uuid.UUID) -> Tender:
    """The tender, or 404 when it does not exist or is a draft the user may not see."""
    try:
        return permissions.visible_tender(user, public_id)
    except NotFound:
        raise Http404 from None


def managed_tender(user: Any, public_id: uuid.UUID) -> Tender:
    """The tender for a management page: 404 as above, 403 for anyone who does not manage it."""
    tender = visible_tender(user, public_id)
    try:
        permissions.require_manage(user, tender, _("您无权管理此招标项目。"))
    except DomainError as exc:
        refuse(exc)  # the agency without an entrustment reads why
    return tender


def refuse(exc: DomainError) -> NoReturn:
    """Turn a refusal about who or what (not about input) into the 403 or 404 page."""
    if exc.status == 404:
        raise Http404(str(exc.message)) from exc
    raise PermissionDenied(str(exc.message)) from exc


def show_on_form(form: forms.BaseForm, exc: DomainError, field_map: Mapping[str, str] | None = None) -> None:
    """A refusal about the input goes on the form; one about the user is the 403/404 page."""
    if exc.status in (403, 404):
        refuse(exc)
    add_domain_error(form, exc, field_map)
