"""The bidder's pages for sealed bids: submitting a bid sealed in the browser, and the browser's keys.

Thin views: they render the page and hand its script what it needs (the
tender's published custodian keys, its lots, the API's addresses, the texts in
the reader's language). Everything else happens in the browser (frontend/js/):
the files are sealed there, and only ciphertext reaches the platform, through
the JSON API (tendering/api_bids.py), which makes every check.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.models import KeyPurpose, Role, User
from config import clock
from frontend.deployment import deployment_context
from frontend.views.common import signed_in, visible_tender
from tendering import permissions
from tendering.models import BidStatus, Phase, Tender
from tendering.sealing.response_index import method_items


def _locale() -> str:
    return "en-GB" if (get_language() or "").startswith("en") else "zh-CN"


def _common_messages() -> dict[str, str]:
    return {
        "failed": _("未能完成：%(reason)s"),
        "network_down": _("网络连接中断。"),
    }


def browser_path_messages() -> dict[str, str]:
    """What the pages that hold keys say about their own limits (the served JavaScript), and the custody reasons."""
    return {
        **_common_messages(),
        "custody_reason_not_confirmed": _("尚未签名确认保管"),
        "custody_reason_statement_mismatch": _("签名确认的不是本项目当前的保管安排（项目、位置、门限或公钥不同）"),
        "custody_reason_bad_signature": _("确认签名无效"),
        "custody_reason_untrusted_key": _("签名密钥不在您的信任列表中：既未手工固定指纹，也没有受信任 CA 签发的证书"),
        "custody_reason_certificate_invalid": _(
            "签名密钥的证书不可信（不是受信任 CA 签发、已过期、不是该保管人或不是该密钥）"
        ),
        "custody_reason_wrong_recipient": _("平台列出的加密公钥与其位置不符"),
        "custody_reason_key_changed": _("的加密公钥已被更换，不是各保管人签名确认时的那一把"),
        "custody_reason_malformed": _("确认数据格式错误"),
        "custody_reason_recipients_mismatch": _("保管记录列出的公钥与本页面将要使用的公钥不一致"),
        "custody_reason_tender_mismatch": _("保管记录属于另一个项目或另一个门限"),
    }


def bid_page_messages() -> dict[str, str]:
    """The texts the bid page's script shows, in the reader's language."""
    return {
        **browser_path_messages(),
        "custody_checking": _("正在核验各保管人的签名确认……"),
        "custody_ok": _("全部 %(n)s 名保管人的签名确认均已通过本浏览器信任列表的核验。"),
        "custody_refused": _("不能密封：保管人 %(name)s（%(username)s）%(reason)s。"),
        "custody_unavailable": _("无法取得保管确认：%(reason)s"),
        "custody_not_checked": _("保管人的签名确认未通过核验，不能密封。"),
        "custody_none": _("本项目不使用密钥保管人。"),
        "trusted_by_pinned": _("已固定的指纹"),
        "trusted_by_certificate": _("受信任 CA 签发的证书"),
        "trust_imported": _("已导入 %(n)s 个 CA 证书。"),
        "trust_no_certificate": _("所选文件中没有 PEM 格式的证书。"),
        "trust_pinned": _("已固定 %(username)s 的签名密钥指纹。"),
        "trust_bad_username": _("请填写保管人的用户名。"),
        "trust_bad_fingerprint": _("指纹应为 64 位十六进制数字（SHA-256）。"),
        "trust_removed": _("已从信任列表中删除。"),
        "trust_remove": _("删除"),
        "trust_empty": _("信任列表为空。"),
        "trust_anchor": _("CA 证书"),
        "trust_pin": _("固定指纹"),
        "trust_offer_none": _("平台没有配置 CA 证书。"),
        "trust_valid_until": _("有效期至 %(when)s"),
        "keys_missing": _("本浏览器中还没有您的签名和加密密钥。请先在“浏览器密钥”页面生成并登记。"),
        "keys_unregistered": _("本浏览器中的密钥尚未在平台登记（或已撤销）。请先在“浏览器密钥”页面登记。"),
        "keys_ready": _("密钥已就绪：签名密钥 %(signing)s…，加密密钥 %(encryption)s…（均已在平台登记）。"),
        "keys_unavailable": _("无法检查密钥：%(reason)s"),
        "keys_not_ready": _("请先生成并登记浏览器密钥，再提交投标文件。"),
        "price_invalid": _(
            "请填写以元为单位的报价：数字，最多两位小数，不带逗号、空格或正负号，例如 3050000 或 3050000.5。"
        ),
        "days_invalid": _("请填写 0 到 36500 之间的整数天数（留空为 0）。"),
        "lots_missing": _("请至少为一个标段填写报价；不投的标段整行留空。"),
        "bid_too_large": _(
            "投标文件过大：所选文件密封后共 %(size)s MiB，超过平台上限 %(limit)s MiB。请删减或压缩文件后再提交。"
        ),
        "confirm_replace": _(
            "您在本项目已有一份有效的投标文件（编号 %(bid)s，受理于 %(when)s%(prices)s）。"
            "提交新的投标文件将替换它，被替换的投标文件不参加开标。确定替换吗？"
        ),
        "confirm_replace_prices": _("，报价：%(prices)s"),
        "lot_price": _("标段 %(lot)s %(price)s 元"),
        "replace_cancelled": _("未提交：现有的投标文件保持不变。"),
        "sealing_failed": _("密封未完成，投标文件未提交。"),
        "upload_failed": _("上传未完成，投标文件未提交。"),
        "upload_paused": _("上传已暂停，投标文件尚未提交。"),
        "files_missing": _("请至少选择一个文件。"),
        "file_name_invalid": _("文件名“%(name)s”不能使用：%(reason)s"),
        "file_names_repeat": _("有两个文件同名，请改名后再选择。"),
        "sealing": _("正在本浏览器中密封（加密）投标文件……"),
        "storage_full": _("浏览器的存储空间不足，无法在本机保存密封后的投标文件。请清理磁盘空间后重试。"),
        "file_changed": _("密封过程中有文件被修改、移动或删除。请重新选择文件后再提交。"),
        "sealed_so_far": _("已密封 %(done)s / %(total)s MiB（%(rate)s MiB/s）"),
        "sealed_done": _("密封完成：%(size)s MiB，用时 %(seconds)s 秒。"),
        "sealed_earlier": _("此前已密封"),
        "uploading_part": _("正在上传第 %(n)s / %(total)s 个分片……"),
        "uploaded_so_far": _("已上传 %(done)s / %(total)s MiB"),
        "checking_parts": _("正在核对服务器已收到的分片（%(n)s / %(total)s）……"),
        "retrying": _("网络中断，%(seconds)s 秒后重试（第 %(attempt)s / %(max)s 次）……"),
        "retrying_part": _(
            "平台尚未确认第 %(n)s 个分片：%(reason)s %(seconds)s 秒后重试（第 %(attempt)s / %(max)s 次）……"
        ),
        "upload_interrupted": _("第 %(n)s 个分片多次上传失败，上传已暂停。网络恢复后请点击“继续上传”。"),
        "part_mismatch": _("服务器收到的第 %(n)s 个分片与本机密封文件不一致，请放弃此次上传并重新密封。"),
        "local_copy_lost": _("本机保存的密封文件已丢失，请重新选择文件并密封。"),
        "upload_closed": _("此次上传已在服务器上结束（%(state)s），请重新密封。"),
        "finalizing": _("正在提交：平台核验签名、密文和保管人信封……"),
        "accepted": _("投标文件已受理。"),
        "discarded": _("已放弃未完成的上传。"),
        "confirm_discard": _("确定放弃这份未上传完成的投标文件吗？本机保存的密文将被删除。"),
        "sealing_was_interrupted": _("上次的密封没有完成，已清除，请重新选择文件并提交。"),
        "resume_text": _("有一份已密封但尚未上传完成的投标文件（编号 %(bid)s，%(size)s MiB，密封于 %(when)s）。"),
        "bid_id": _("投标文件编号"),
        "status": _("状态"),
        "ciphertext_sha256": _("密文 SHA-256"),
        "size": _("大小"),
        "bytes": _("字节"),
        "accepted_at": _("受理时间"),
        "ledger_position": _("账本位置"),
        "ledger_position_value": _("第 %(seq)s 条（共 %(size)s 条）"),
        "timestamp_time": _("时间戳时间"),
        "check_format": _("回执格式正确"),
        "check_subject": _("回执记载的是本投标文件（编号、项目、密文哈希、大小）"),
        "check_entry": _("账本条目完整，且与回执记载一致"),
        "check_inclusion": _("包含证明成立：该条目在已签名的账本树中（RFC 9162）"),
        "check_signature": _("平台签名有效（ECDSA P-256）"),
        "check_chain": _("平台证书由受信任的 CA 签发，签发回执时有效"),
        "check_timestamp": _("时间戳（RFC 3161）针对的正是该签名，由受信任的时间戳机构签发"),
        "receipt_verified": _("回执核验通过。"),
        "receipt_not_verified": _("回执核验未通过：%(reason)s"),
        "verify_receipt": _("核验回执"),
        "withdraw": _("撤回"),
        "confirm_withdraw": _("确定撤回投标文件 %(bid)s 吗？撤回后它将不参加开标；截止前您可以重新提交。"),
        "withdrawn": _("投标文件 %(bid)s 已撤回。"),
        "withdrawn_at": _("撤回时间"),
        "receipt_heading_bid": _("投标回执"),
        "receipt_heading_withdrawal": _("撤回回执"),
        "verify_withdrawal_receipt": _("核验撤回回执"),
        "download_receipt": _("下载回执（JSON）"),
        "download_withdrawal_receipt": _("下载撤回回执（JSON）"),
        "check_subject_withdrawal": _("回执记载的是撤回本投标文件（编号、项目、密文哈希）"),
        "receipt_pending": _("回执尚未签发（时间戳机构暂未应答），请稍后在“我的投标文件”中点击核验再取。"),
        "deadline_passed": _("投标已于 %(when)s 截止：本页面不再提交或撤回投标文件。"),
        "opening_started": _("开标已开始。"),
        "hall_link": _("进入开标大厅"),
        "materials_missing": _("尚缺 %(n)s 项资格审查材料，补齐前不能密封（一次性告知）："),
        "material_line": _("%(item)s %(title)s：%(name)s"),
        "materials_complete": _("评标办法要求的资格审查材料均已选择。"),
        "material_required": _("请选择“%(name)s”所在的文件，或添加文件名含“%(name)s”的文件。"),
        "pointer_none": _("（未指定）"),
        "page_invalid": _("页码应为 1 到 100000 之间的整数。"),
    }


def _response_items(method: Any) -> list[dict[str, str]]:
    """The rows of the page's response index (评审因素定位): each criterion, qualification item and document."""
    kinds = {
        "technical": _("技术评分"),
        "commercial": _("商务评分"),
        "qualification": _("资格审查"),
        "document": _("所需材料"),
    }
    return [{**item, "kind_label": str(kinds.get(item["kind"], item["kind"]))} for item in method_items(method)]


def keys_page_messages() -> dict[str, str]:
    return {
        **_common_messages(),
        "purpose_signing": _("签名"),
        "purpose_encryption": _("加密"),
        "state_registered": _("已在平台登记"),
        "state_registered_certified": _("已在平台登记，有 CA 证书"),
        "state_unregistered": _("尚未登记"),
        "state_revoked": _("已撤销"),
        "state_unknown": _("无法查询"),
        "generated": _("已在本浏览器中生成两对密钥。请登记到平台。"),
        "generated_encryption": _("已在本浏览器中生成加密密钥。请登记到平台。"),
        "registered": _("公钥已登记到平台。"),
        "deleted": _("已从本浏览器中删除密钥。"),
        "confirm_delete": _(
            "确定从本浏览器中删除这两对密钥吗？私钥无法导出，删除后无法恢复；已登记的公钥请到“我的密钥”页面撤销。"
        ),
        "confirm_delete_one": _(
            "确定从本浏览器中删除这对密钥吗？私钥无法导出，删除后无法恢复；已登记的公钥请到“我的密钥”页面撤销。"
        ),
        "label": _("浏览器密钥"),
    }


def _custodians(tender: Tender) -> list[dict[str, Any]]:
    slots = tender.custodian_slots.select_related("public_key").order_by("position")
    return [
        {
            "position": slot.position,
            "fingerprint": slot.public_key.fingerprint,
            "spki": base64.b64encode(bytes(slot.public_key.spki_der)).decode("ascii"),
        }
        for slot in slots
        if slot.public_key is not None
    ]


def _lots(tender: Tender) -> list[dict[str, str]]:
    lots = [{"lot": str(lot.number), "name": lot.name} for lot in tender.lots.all()]
    # A tender without lots is one lot: "1".
    return lots or [{"lot": "1", "name": _("本项目（不分标段）")}]


@never_cache
@require_GET
@login_required
def bid_submit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user: User = signed_in(request)
    tender = visible_tender(user, public_id)
    if not permissions.is_bidder(user):
        raise PermissionDenied(_("只有投标人可以提交投标文件。"))
    organization = user.organization
    open_for_bids = tender.phase(clock.now()) == Phase.OPEN_FOR_BIDS
    lots = _lots(tender)
    custodians = _custodians(tender)
    method = tender.evaluation_criteria or None
    config: dict[str, Any] = {
        "user": user.get_username(),
        "tender": str(tender.public_id),
        "bidder": organization.credit_code if organization else "",
        "open": open_for_bids,
        "threshold": tender.custodian_threshold,
        "custodians": custodians,
        "lots": lots,
        # The published evaluation method: its required documents are checked here before sealing (一次性告知).
        "method": method,
        "locale": _locale(),
        # The page closes itself at the deadline by the platform's clock, not the browser's.
        "now": clock.now().isoformat(),
        "deadline": tender.bid_deadline.isoformat(),
        "openingTime": tender.opening_time.isoformat(),
        "hallUrl": reverse("frontend:opening-hall", args=[tender.public_id]),
        "maxBidBytes": settings.BID_MAX_BYTES,
        "worker": static("frontend/build/seal-worker.js"),
        "urls": {
            "custody": f"/api/tenders/{tender.public_id}/custody",
            "keyCa": "/api/pki/key-ca",
            "startUpload": f"/api/tenders/{tender.public_id}/bids/uploads",
            "uploads": "/api/bids/uploads/",
            "bids": "/api/bids",
            "trust": "/api/archive/trust",
        },
        "statuses": {value: str(label) for value, label in BidStatus.choices},
        "messages": bid_page_messages(),
    }
    context = {
        "tender": tender,
        "lots": lots,
        "open_for_bids": open_for_bids,
        "organization": organization,
        "custodian_count": len(custodians),
        "response_items": _response_items(method),
        "config": config,
        **deployment_context(),
        "keys_url": reverse("frontend:browser-keys") + "?next=" + request.get_full_path(),
    }
    return render(request, "frontend/bid_submit.html", context)


def browser_key_purposes(user: User) -> list[str]:
    """The key pairs a user keeps in the browser: both, for everyone.

    A bidder signs its manifests and opens its own envelope; a custodian opens
    its parts, and signs its custody confirmations and "does not open" statements.
    """
    return [KeyPurpose.SIGNING.value, KeyPurpose.ENCRYPTION.value]


@never_cache
@require_GET
@login_required
def browser_keys(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    purposes = browser_key_purposes(user)
    organization = (
        user.organization.credit_code if user.organization is not None and user.organization.credit_code else ""
    )
    config = {
        "user": user.get_username(),
        "organization": organization,  # what the key-proof statements must name (docs/custody.md §A)
        "locale": _locale(),
        "purposes": purposes,
        "messages": keys_page_messages(),
    }
    custodian_only = user.has_role(Role.CUSTODIAN) and not permissions.is_bidder(user)
    context = {"config": config, "next_url": next_url, "custodian_only": custodian_only, **deployment_context()}
    return render(request, "frontend/browser_keys.html", context)
