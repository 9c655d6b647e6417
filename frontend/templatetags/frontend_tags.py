"""Template filters of the pages: times in Beijing time, sizes, the current URL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from frontend.timezone import PLATFORM_TZ

register = template.Library()


@register.filter
def beijing(value: Any) -> str:
    """A moment as Beijing time, ``2026-03-02 09:00`` (the label says which zone)."""
    if not isinstance(value, dt.datetime):
        return ""
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(PLATFORM_TZ).strftime("%Y-%m-%d %H:%M")


@register.filter
def iso_beijing(value: Any) -> str:
    """The same moment for a ``<time datetime=...>`` attribute."""
    if not isinstance(value, dt.datetime):
        return ""
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(PLATFORM_TZ).isoformat(timespec="minutes")


@register.simple_tag(takes_context=True)
def nav_roles(context: template.Context) -> dict[str, bool]:
    """Which parts of the navigation the signed-in user has (templates cannot pass arguments)."""
    from accounts.models import Role
    from tendering import permissions

    user = context.get("user")
    if user is None or not user.is_authenticated:
        return {}
    return {
        "manager": permissions.can_create_tenders(user),
        "bidder": permissions.is_bidder(user),
        "regulator": user.has_role(Role.REGULATOR),
        "custodian": user.has_role(Role.CUSTODIAN),
    }


@register.simple_tag(takes_context=True)
def current(context: template.Context, *names: str) -> SafeString:
    """``aria-current="page"`` on the navigation link of the page being shown."""
    match = getattr(context.get("request"), "resolver_match", None)
    if match is not None and match.url_name in names:
        return mark_safe('aria-current="page"')
    return mark_safe("")
