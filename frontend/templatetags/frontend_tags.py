"""Template filters of the pages: moments and amounts as config/formatting.py writes them, the current URL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils.html import format_html, json_script
from django.utils.safestring import SafeString, mark_safe

from config import formatting

register = template.Library()


@register.filter
def beijing(value: Any) -> str:
    """A moment in the platform's zone, ``2026-03-02 09:00``, without the zone's name (see ``moment``)."""
    if not isinstance(value, dt.datetime):
        return ""
    return formatting.moment_text(value, label=False)


@register.filter
def iso_beijing(value: Any) -> str:
    """The same moment for a ``<time datetime=...>`` attribute."""
    if not isinstance(value, dt.datetime):
        return ""
    return formatting.as_local(value).isoformat(timespec="minutes")


@register.filter
def moment(value: Any) -> SafeString | str:
    """``<time datetime="2026-03-02T09:00+08:00">2026-03-02 09:00 北京时间</time>``: the one date format."""
    if not isinstance(value, dt.datetime):
        return ""
    return format_html('<time datetime="{}">{}</time>', iso_beijing(value), formatting.moment_text(value))


@register.filter
def amount(value: Any) -> str:
    """``3050000.5`` → ``3,050,000.50`` (an empty value stays empty)."""
    if value is None or value == "":
        return ""
    return formatting.group_thousands(value)


@register.filter
def amount_in_words(value: Any) -> str:
    """``3050000`` → ``叁佰零伍万元整`` (大写金额)."""
    if value is None or value == "":
        return ""
    return formatting.amount_in_words(value)


@register.simple_tag
def platform_format() -> SafeString:
    """The zone and its name for frontend/js/lib/format.js, as ``<script id="platform-format">``."""
    from django.conf import settings

    return json_script({"time_zone": settings.TIME_ZONE, "zone_label": formatting.zone_label()}, "platform-format")


@register.simple_tag
def demo_platform() -> bool:
    """Whether this platform may carry the demo (never in production, where load_demo refuses to run)."""
    from django.conf import settings

    return bool(settings.ETENDER_ENV != "production")


@register.simple_tag
def zone_label() -> str:
    """What people call the platform's zone (``北京时间``)."""
    return formatting.zone_label()


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
