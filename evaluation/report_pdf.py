"""The evaluation report as a PDF (评标报告), in Chinese, drawn from the content the members signed.

Pages: the cover (tender, committee, candidates), the result, the qualification, each expert's sheets, the
deviations, the clarifications, the discussion, the dissent and the members' signatures. Amounts are written
in figures with thousands separators and in capitals (大写金额), moments as ``2026-12-03 16:30 北京时间``. The
content (``report.json``) and the signatures (``signatures.json``) are attached to the PDF as embedded files,
so ``python -m evaluation.report_check`` can check it offline. Rendering uses ``archive.pdf`` (reportlab, the
CJK font the opening record uses); the platform's signature is added afterwards (``archive.pdf.sign_pdf``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
from typing import Any

from django.utils.translation import gettext as _

from archive.pdf import RecordDocument, RecordTable, render_record_pdf
from config import formatting
from evaluation.models import MemberState, SheetKind, Venue
from evaluation.report_check import CONTENT_FILE, SIGNATURES_FILE


def _moment(value: str | None) -> str:
    return formatting.moment_text(dt.datetime.fromisoformat(value)) if value else "—"


def _amount(value: str) -> str:
    return _("%(figures)s 元\n（大写：%(words)s）") % {
        "figures": formatting.group_thousands(value),
        "words": formatting.amount_in_words(value),
    }


def _or_dash(value: str | None) -> str:
    return value if value else "—"


def _yes_no(passed: bool | None) -> str:
    if passed is None:
        return "—"
    return _("通过") if passed else _("不通过")


def report_document(content: dict[str, Any], bundle: dict[str, Any], created_at: dt.datetime) -> RecordDocument:
    """The report's pages as a record document."""
    tender = content["tender"]
    method = tender["method"]
    titles = {i["id"]: i["title"] for i in method["qualification"]} | {c["id"]: c["title"] for c in method["criteria"]}
    bids = {b["bid"]: b for b in content["bids"]}
    bidder = {bid: f"{b['position']}. {b['bidder']}" for bid, b in bids.items()}
    confirmed = [m for m in content["committee"] if m["state"] == MemberState.CONFIRMED]
    candidates = [bids[bid] for bid in content["candidates"]]
    tables: list[RecordTable] = []

    ranked = sorted((b for b in content["bids"] if b["rank"] is not None), key=lambda b: b["rank"])
    criteria = method["criteria"]
    tables.append(
        RecordTable(
            caption=_("一、评标结果及推荐的中标候选人"),
            headers=[
                _("排名"),
                _("投标人"),
                _("投标报价"),
                *[f"{c['title']}（{c['weight']}）" for c in criteria],
                _("价格得分"),
                _("总分"),
            ],
            rows=[
                [
                    str(b["rank"]) + (_("\n中标候选人") if b["bid"] in content["candidates"] else ""),
                    bidder[b["bid"]],
                    _amount(b["price"]),
                    *[_or_dash(b["points"].get(c["id"])) for c in criteria],
                    _or_dash(b["price_score"]),
                    _or_dash(b["total"]),
                ]
                for b in ranked
            ],
            column_widths=[1, 2.6, 2.6, *[1.2] * len(criteria), 1.1, 1.1],
            new_page=True,
            note=_benchmark_note(content),
        )
    )

    items = [i["id"] for i in method["qualification"]]
    if items:
        tables.append(
            RecordTable(
                caption=_("二、资格审查结果（按多数意见）"),
                headers=[_("投标人"), *[titles[i] for i in items], _("结论")],
                rows=[
                    [
                        bidder[b["bid"]],
                        *[_verdict(b["qualification"].get(i)) for i in items],
                        _("合格") if b["qualified"] else _("不合格"),
                    ]
                    for b in content["bids"]
                ],
                column_widths=[2.5, *[2] * len(items), 1],
                new_page=True,
                note=_("存在不同意见的审查项共 %(n)d 项；括号内为持不同意见的专家。")
                % {"n": len(content["qualification_disagreements"])},
            )
        )

    for sheet in content["sheets"]:
        scoring = sheet["kind"] == SheetKind.SCORING
        tables.append(
            RecordTable(
                caption=(_("评分表：%(name)s") if scoring else _("资格审查表：%(name)s")) % {"name": sheet["name"]},
                headers=[_("投标人"), _("评审项"), _("得分") if scoring else _("审查结论"), _("理由"), _("依据")],
                rows=[
                    [
                        bidder.get(m["bid"], m["bid"]),
                        titles.get(m["item"], m["item"]),
                        _or_dash(m["score"]) if scoring else _yes_no(m["passed"]),
                        _or_dash(m["reason"]),
                        _("%(path)s 第 %(page)s 页") % m["evidence"] if m["evidence"] else "—",
                    ]
                    for m in sheet["marks"]
                ]
                or [["—"] * 5],
                column_widths=[2.4, 2, 1, 4, 2.2],
                new_page=True,
                note=_("提交时间：%(at)s；签名公钥指纹：%(key)s；签署内容 SHA-256：%(sha)s")
                % {
                    "at": _moment(sheet["submitted_at"]),
                    "key": _or_dash(sheet["key_fingerprint"]),
                    "sha": _or_dash(sheet["statement_sha256"]),
                },
            )
        )

    tables.append(
        RecordTable(
            caption=_("三、评分偏离及其说明或修正"),
            headers=[_("专家"), _("投标人"), _("评审项"), _("偏离"), _("说明或修正")],
            rows=[
                [
                    d["name"],
                    bidder.get(d["bid"], d["bid"]),
                    titles.get(d["item"], d["item"]),
                    _("%(percent)s%%（平均分 %(mean)s）") % d,
                    _deviation_answer(d),
                ]
                for d in content["deviations"]
            ]
            or [[_("无"), "—", "—", "—", "—"]],
            column_widths=[1.4, 2.2, 1.8, 1.6, 5],
            new_page=True,
        )
    )
    tables.append(
        RecordTable(
            caption=_("四、澄清"),
            headers=[_("投标人"), _("问题"), _("提出"), _("答复"), _("答复时间")],
            rows=[
                [
                    bidder.get(c["bid"], c["bid"]),
                    c["question"],
                    _("%(who)s\n%(at)s\n答复期限 %(deadline)s")
                    % {"who": c["asked_by"], "at": _moment(c["asked_at"]), "deadline": _moment(c["reply_deadline"])},
                    _or_dash(c["answer"]),
                    _moment(c["answered_at"]),
                ]
                for c in content["clarifications"]
            ]
            or [[_("无"), "—", "—", "—", "—"]],
            column_widths=[2, 3.5, 2.2, 3.5, 1.6],
        )
    )
    tables.append(
        RecordTable(
            caption=_("五、讨论记录"),
            headers=[_("时间"), _("发言人"), _("内容")],
            rows=[[_moment(m["created_at"]), m["author"], m["text"]] for m in content["messages"]]
            or [["—", "—", _("无")]],
            column_widths=[2, 1.5, 8],
        )
    )
    members = bundle["members"]
    dissent = [m for m in members if m["decision"] == "refused"]
    tables.append(
        RecordTable(
            caption=_("六、不同意见（拒绝签字及其理由）"),
            headers=[_("专家"), _("理由"), _("处理")],
            rows=[
                [
                    m["name"],
                    m["reasons"] or "—",
                    _("持不同意见，拒绝签字")
                    if m["reasons"]
                    else _("拒绝签字且未说明理由，视为同意评标结论（《评标委员会和评标方法暂行规定》第四十二条）"),
                ]
                for m in dissent
            ]
            or [[_("无"), "—", "—"]],
            column_widths=[1.5, 6, 4],
        )
    )
    tables.append(
        RecordTable(
            caption=_("七、评标委员会成员签字"),
            headers=[_("专家"), _("决定"), _("时间"), _("签名公钥指纹"), _("签名 SHA-256")],
            rows=[
                [
                    m["name"],
                    _decision(m),
                    _moment(m["signed_at"]),
                    _or_dash(m["key_fingerprint"]),
                    hashlib.sha256(base64.b64decode(m["signature"])).hexdigest() if m["signature"] else "—",
                ]
                for m in members
            ],
            column_widths=[1.4, 1.2, 2, 3.6, 3.6],
            new_page=True,
            note=_("评标报告内容 SHA-256：%(sha)s。各成员的签署内容、签名及公钥附于本文件（%(files)s），可离线核验。")
            % {"sha": bundle["report_sha256"], "files": f"{CONTENT_FILE}, {SIGNATURES_FILE}"},
        )
    )
    venues = dict(Venue.choices)
    return RecordDocument(
        title=_("评标报告"),
        subtitle=f"{tender['number']} {tender['title']}",
        metadata=[
            (_("招标人"), tender["tenderer"]),
            (_("评标办法"), _method_text(method)),
            (
                _("评标委员会"),
                "\n".join(
                    f"{m['name']}（{m['specialty']}，{venues.get(m['venue'], '—')} {m['location']}）"
                    + (_("，主任") if m["chair"] else "")
                    for m in confirmed
                ),
            ),
            (
                _("投标文件"),
                _("共 %(n)d 份，资格审查合格 %(q)d 份")
                % {"n": len(content["bids"]), "q": sum(1 for b in content["bids"] if b["qualified"])},
            ),
            (
                _("推荐的中标候选人"),
                "\n".join(
                    _("第 %(rank)d 名：%(bidder)s，投标报价 %(price)s")
                    % {"rank": b["rank"], "bidder": b["bidder"], "price": _amount(b["price"]).replace("\n", "")}
                    for b in candidates
                )
                or "—",
            ),
            (_("报告生成时间"), _moment(content["built_at"])),
            (_("签字完成时间"), formatting.moment_text(created_at)),
        ],
        tables=tables,
        footnotes=[
            _(
                "本报告由电子招标投标交易平台根据评标委员会成员提交并签名的评审表自动生成，"
                "经各成员签字（或拒绝签字）后由平台加盖电子签名和时间戳。"
            ),
        ],
        orientation="landscape",
        created_at=created_at,
    )


def _decision(member: dict[str, Any]) -> str:
    if member["decision"] == "signed":
        return _("签字")
    return _("拒绝签字") if member["reasons"] else _("拒绝签字（未说明理由，视为同意）")


def _verdict(verdict: dict[str, Any] | None) -> str:
    if verdict is None:
        return "—"
    text = _yes_no(verdict["passed"])
    minority = verdict["failed_by"] if verdict["passed"] else verdict["passed_by"]
    return f"{text}（{'、'.join(minority)}）" if minority else text


def _deviation_answer(deviation: dict[str, Any]) -> str:
    lines = []
    if deviation["explanation"]:
        lines.append(
            _("说明（%(at)s）：%(text)s") % {"at": _moment(deviation["explained_at"]), "text": deviation["explanation"]}
        )
    for r in deviation["revisions"]:
        lines.append(
            _("修正 %(old)s → %(new)s（%(at)s）：%(reason)s")
            % {"old": r["old_score"], "new": r["new_score"], "at": _moment(r["revised_at"]), "reason": r["reason"]}
        )
    return "\n".join(lines) or "—"


def _benchmark_note(content: dict[str, Any]) -> str:
    benchmark = content.get("benchmark")
    if not benchmark:
        return _("排名依次按总分从高到低、报价从低到高、技术得分从高到低、开标顺序排列；前三名为中标候选人。")
    return _("评标基准价 = 有效报价的去极值平均值 %(mean)s × (1 + K)，K = %(factor)s，评标基准价 %(price)s 元。") % {
        "mean": formatting.group_thousands(benchmark["trimmed_mean"]),
        "factor": benchmark["factor"],
        "price": formatting.group_thousands(benchmark["benchmark_price"]),
    }


def _method_text(method: dict[str, Any]) -> str:
    rule = method["price"]["rule"]
    if rule == "lowest_evaluated":
        return _("经评审的最低投标价法")
    price = _("最低价比值法") if rule == "lowest_ratio" else _("基准价法")
    return _("综合评估法（价格分 %(weight)s 分，%(rule)s）") % {"weight": method["price"]["weight"], "rule": price}


def attach(pdf: bytes, files: dict[str, bytes], moment: dt.datetime) -> bytes:
    """``pdf`` with ``files`` (name → JSON bytes) embedded as attachments, dated ``moment``."""
    from pyhanko.pdf_utils import embed
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    params = embed.EmbeddedFileParams(creation_date=moment, modification_date=moment)
    for name, data in files.items():
        stream = embed.EmbeddedFileObject.from_file_data(writer, data, params=params, mime_type="application/json")
        embed.embed_file(writer, embed.FileSpec(file_spec_string=name, file_name=name, embedded_data=stream))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def render_report_pdf(content: bytes, bundle: bytes, *, created_at: dt.datetime) -> bytes:
    """The report's PDF (not yet signed by the platform) with ``report.json`` and ``signatures.json`` attached."""
    document = report_document(json.loads(content), json.loads(bundle), created_at)
    return attach(render_record_pdf(document), {CONTENT_FILE: content, SIGNATURES_FILE: bundle}, created_at)
