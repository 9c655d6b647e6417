"""The opening hall's page (开标大厅): the shell the hall's script fills, live.

Thin: it checks that the user has a place in the hall, then hands the script
what it needs (the hall's WebSocket and API addresses, the user's role, the
texts in the reader's language). Everything the hall shows comes over the
WebSocket (tendering/consumers.py), and every action goes back through it to
the opening's services, which check it again. The private keys that open a
bid's envelopes stay in the participant's browser (frontend/js/pages/opening-page.js).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.models import User
from config import clock
from frontend.views.bids import _common_messages, _locale
from frontend.views.common import signed_in, visible_tender
from tendering import hall
from tendering.hall import HallRole
from tendering.models import BidOpeningState, KeySource, Tender
from tendering.services.outcome import FailureReason


def role_labels() -> dict[str, str]:
    return {
        HallRole.MANAGER: _("招标人/代理机构"),
        HallRole.SUPERVISOR: _("监督人"),
        HallRole.BIDDER: _("投标人"),
        HallRole.CUSTODIAN: _("密钥保管人"),
    }


def opening_page_messages() -> dict[str, str]:
    """The texts the hall's script shows, in the reader's language."""
    return {
        **_common_messages(),
        "dash": "—",
        "list_separator": pgettext("list separator", "、"),
        "attendee": _("%(name)s（%(organization)s）"),
        "status_connecting": _("正在连接开标大厅……"),
        "status_live": _("已连接，实时更新。"),
        "status_reconnecting": _("连接中断，正在重新连接（第 %(attempt)s 次）……"),
        "status_reconnecting_in": _("连接中断，%(seconds)s 秒后重新连接（第 %(attempt)s 次）……"),
        "status_waiting": _("开标大厅将于开标时间 %(when)s 开放，届时本页自动连接。"),
        "status_refused": _("无法进入开标大厅：%(reason)s"),
        "phase_decrypting": _("解密进行中，解密截止时间 %(when)s。"),
        "phase_concluded": _("解密已结束，正在等待全部投标文件解密完毕。"),
        "phase_record": _("开标记录已公布，投标人确认截止时间 %(when)s。"),
        "phase_closed": _("开标已结束。"),
        "own_bid": _("（本单位）"),
        "progress_label": _("第 %(position)s 号投标文件的解密进度"),
        "lot_price": _("标段 %(lot)s：%(price)s 元，工期 %(days)s 日历天"),
        "confirmed": _("已确认开标记录"),
        "confirmed_by_default": _("逾期未确认，视为同意开标记录"),
        "submitted_at": _("已提交（%(when)s）"),
        "not_submitted": _("未提交"),
        "custodians_rule": _("投标人未解密的投标文件，由 %(k)s 名保管人（共 %(n)s 名）共同解密。"),
        "custodians_not_used": _("本项目规定投标人未解密的投标文件视为撤销投标，不使用保管人的密钥分量。"),
        "custodian_label": _("第 %(position)s 号保管人 %(name)s"),
        "parts_failed_text": _(
            "第 %(position)s 号投标文件：保管人子集 %(subsets)s 的密钥分量合成的密钥与密钥承诺不符。"
            "分量有误的保管人在以下人员中（出现在每个不符子集中的保管人）：%(suspects)s。"
        ),
        "objection_by": _("第 %(position)s 号投标人 %(bidder)s 的异议"),
        "answer_prefix": _("答复："),
        "awaiting_answer": _("待答复"),
        "answer_label": _("答复第 %(position)s 号投标人的异议"),
        "answer_button": _("提交答复"),
        "answer_empty": _("请填写答复内容。"),
        "answer_sent": _("答复已提交。"),
        "ann_attendance": _("%(name)s 已签到。"),
        "ann_bid_state": _("第 %(position)s 号投标文件（%(bidder)s）：%(state)s。"),
        "ann_custodian": _("密钥保管人 %(name)s 已提交密钥分量。"),
        "ann_parts_failed": _("第 %(position)s 号投标文件：有密钥分量合成的密钥与密钥承诺不符。"),
        "ann_confirmed": _("%(bidder)s 已确认开标记录。"),
        "ann_objection": _("%(bidder)s 对开标记录提出了异议。"),
        "ann_answer": _("%(bidder)s 的异议已答复。"),
        "ann_record_filed": _("开标记录已由平台签名归档。"),
        "signed_in_yes": _("您已签到。"),
        "signed_in_done": _("签到成功。"),
        "refused_action": _("操作被拒绝：%(reason)s"),
        "decrypt_keys_missing": _(
            "本浏览器中没有您的加密密钥，无法解密。请使用投标时所用的浏览器（见“浏览器密钥”页面）。"
        ),
        "decrypt_working": _("正在本浏览器中打开您的投标文件的密钥信封……"),
        "decrypt_nothing": _("您的单位没有等待解密的投标文件。"),
        "decrypt_key_mismatch": _(
            "您的投标文件密封给了另一把加密密钥（指纹 %(expected)s…），"
            "本浏览器中的密钥（%(actual)s…）打不开它。请使用投标时所用的浏览器。"
        ),
        "decrypt_envelope_failed": _("无法用本浏览器中的密钥打开投标文件的密钥信封：%(reason)s"),
        "decrypt_kc_failed": _("打开的密钥与投标文件清单中的密钥承诺不符，没有提交。"),
        "decrypt_sent": _("已提交第 %(position)s 号投标文件的密钥：平台核对密钥承诺后开始解密。"),
        "key_refused": _("您提交的密钥已有 %(n)s 次与投标文件的密钥承诺不符。"),
        "parts_keys_missing": _(
            "本浏览器中没有您的加密密钥，无法解密密钥分量。请使用登记保管人公钥时所用的浏览器（见“浏览器密钥”页面）。"
        ),
        "parts_working": _("正在本浏览器中打开您在 %(bids)s 份投标文件中的密钥分量……"),
        "parts_not_custodian_key": _(
            "本浏览器中的加密密钥不是本项目登记的保管人密钥（第 %(position)s 号投标文件的信封不是密封给它的）。"
            "请使用登记保管人公钥时所用的浏览器。"
        ),
        "parts_envelope_failed": _("无法打开第 %(position)s 号投标文件中的密钥分量：%(reason)s"),
        "parts_sent": _("已一次提交 %(parts)s 个密钥分量和 %(refusals)s 份“无法打开”声明。"),
        "parts_refused": _(
            "第 %(position)s 号投标文件中您在子集 %(members)s 的密钥分量无法打开："
            "将以签名的“无法打开”声明代替，其余分量照常提交。"
        ),
        "parts_signing_missing": _(
            "有密钥分量无法打开，需要用您的签名密钥签署“无法打开”声明，但本浏览器中没有您的签名密钥（见“浏览器密钥”页面）。"
        ),
        "prices_hidden": _("全部投标文件解密完毕后公布"),
        "fault_retry": _("平台故障 %(n)s 次（%(fault)s），将于 %(when)s 自动重试。"),
        "retry_button": _("立即重试解密"),
        "retry_sent": _("已要求平台立即重试解密。"),
        "custodian_refusals": _("（其中 %(n)s 个分量无法打开，已提交签名声明）"),
        "ann_revealed": _("全部投标文件已解密完毕，报价公布。"),
        "confirm_conclude": _("确定结束解密吗？仍未取得密钥的投标文件将视为撤销投标。"),
        "concluded": _("解密已结束。"),
        "record_confirmed": _("您已确认开标记录。"),
        "objection_empty": _("请填写异议内容。"),
        "objection_sent": _("异议已提交，等待招标人答复。"),
        "confirm_close": _("确定结束开标吗？结束后开标记录将由平台签名归档，项目进入评标阶段。"),
        "closed": _("开标已结束，开标记录正在签名归档。"),
        "failed_counts": _("开标后有效投标 %(opened)s 家（共 %(bids)s 份投标文件），%(when)s 确定招标失败。"),
        "ann_tender_failed": _("招标失败：有效投标不足三家，请依法重新招标。"),
    }


def _me(user: User) -> dict[str, str]:
    """How the hall names this user in its attendance list (tendering.services.opening.payloads.attendance_view)."""
    return {
        "name": user.display_name or user.get_username(),
        "organization": user.organization.name if user.organization else "",
    }


def _custodian_position(user: User, tender: Tender, roles: set[HallRole]) -> int | None:
    if HallRole.CUSTODIAN not in roles:
        return None
    slot = tender.custodian_slots.filter(user=user).first()
    return slot.position if slot else None


def hall_config(user: User, tender: Tender, roles: set[HallRole]) -> dict[str, Any]:
    api = f"/api/tenders/{tender.public_id}/opening"
    lots = {str(lot.number): lot.name for lot in tender.lots.all()}
    return {
        "user": user.get_username(),
        "me": _me(user),
        "tender": str(tender.public_id),
        "openingTime": tender.opening_time.isoformat(),
        "roles": sorted(roles),
        "custodianPosition": _custodian_position(user, tender, roles),
        "locale": _locale(),
        "maxTextChars": settings.OBJECTION_MAX_CHARS,
        "urls": {
            "socket": f"/ws/tenders/{tender.public_id}/hall/",
            "manifests": f"{api}/manifests",
            "parts": f"{api}/custodian-parts",
            "record": f"{api}/record.pdf",
        },
        "lots": lots,
        "states": {value: str(label) for value, label in BidOpeningState.choices},
        "keySources": {value: str(label) for value, label in KeySource.choices},
        "roleLabels": {str(role): str(label) for role, label in role_labels().items()},
        "failureReasons": {value: str(label) for value, label in FailureReason.choices},
        "messages": opening_page_messages(),
    }


@never_cache
@require_GET
@login_required
def opening_hall(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = signed_in(request)
    tender = visible_tender(user, public_id)
    roles = hall.hall_roles(user, tender)
    if not roles:
        raise PermissionDenied(
            _("您不是本项目开标的参加人：只有招标人、代理机构、投标人、密钥保管人和监督人员可以进入开标大厅。")
        )
    labels = role_labels()
    context = {
        "tender": tender,
        "my_roles": [labels[role] for role in sorted(roles)],
        "read_only": roles == {HallRole.SUPERVISOR},
        "is_open": clock.now() >= tender.opening_time,
        "config": hall_config(user, tender, roles),
        "keys_url": reverse("frontend:browser-keys") + "?next=" + request.get_full_path(),
        "record_url": f"/api/tenders/{tender.public_id}/opening/record.pdf",
    }
    return render(request, "frontend/opening_hall.html", context)
