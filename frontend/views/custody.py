"""The custodian's page to confirm, on its own device, that it serves on a tender (保管确认, docs/custody.md §C).

The page's script reads the tender's custody record from the API, checks that
the tender lists this browser's own encryption key at the custodian's slot,
shows the tender, k, n and the position, and signs the confirmation with the
browser's signing key; the API (tendering/api_custody.py) checks it again.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from frontend.deployment import deployment_context
from frontend.views.bids import _locale, browser_path_messages
from frontend.views.common import signed_in, visible_tender


def custody_page_messages() -> dict[str, str]:
    return {
        **browser_path_messages(),
        "keys_missing": _("本浏览器中还没有您的签名和加密密钥。请先在“浏览器密钥”页面生成并登记。"),
        "keys_unregistered": _("本浏览器中的密钥尚未在平台登记（或已撤销）。请先在“浏览器密钥”页面登记。"),
        "not_listed": _("不能确认：%(reason)s"),
        "position_value": _("第 %(position)s 位（共 %(n)s 位），开启门限 %(k)s"),
        "confirmed_by_you": _("您已于 %(when)s 确认保管本项目。"),
        "confirmed_other_key": _("本项目的确认由另一把签名密钥（%(fingerprint)s…）作出，不是本浏览器的密钥。"),
        "ready_to_confirm": _("本项目在您的位置列出的正是本浏览器的加密密钥。请核对项目、门限和位置后签名确认。"),
        "confirming": _("正在用本浏览器的签名密钥签名……"),
        "confirmed": _("已确认。投标人的客户端在密封前会核验这一签名。"),
        "state_confirmed": _("已确认"),
        "state_unconfirmed": _("未确认"),
    }


@never_cache
@require_GET
@login_required
def custody_confirm(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = signed_in(request)
    tender = visible_tender(user, public_id)
    if not tender.custodian_slots.filter(user=user).exists():
        raise PermissionDenied(_("您不是本项目的密钥保管人。"))
    config = {
        "user": user.get_username(),
        "tender": str(tender.public_id),
        "locale": _locale(),
        "published": tender.published_at is not None,
        "urls": {
            "custody": f"/api/tenders/{tender.public_id}/custody",
            "confirmation": f"/api/tenders/{tender.public_id}/custody/confirmation",
        },
        "messages": custody_page_messages(),
    }
    context = {
        "tender": tender,
        "config": config,
        **deployment_context(),
        "keys_url": reverse("frontend:browser-keys") + "?next=" + request.get_full_path(),
    }
    return render(request, "frontend/custody_confirm.html", context)
