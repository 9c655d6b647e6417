"""The opening record (开标记录表) as a signed PDF, filed in the tender's case.

Rendered by the worker once the opening is closed: one line per bid (bidder,
its price for each lot, schedule, other declared fields, how it was decrypted,
its final state and the bidder's confirmation), then the objections and their
answers. The PDF is signed by the platform (PAdES, time-stamped), stored in the
object store under GOVERNANCE retention for the records period, and its SHA-256
is recorded in the ledger. Idempotent: a record already filed is left alone.
"""

from __future__ import annotations

import hashlib
import io

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from archive import cases
from archive.ledger import record
from archive.pdf import RecordDocument, RecordTable, render_record_pdf, sign_pdf
from archive.storage import Retention, RetentionMode, get_object_store
from archive.storage.retention import records_retain_until
from config import clock, formatting
from tendering import hall_protocol as hp
from tendering import object_keys
from tendering.models import BidOpening, BidOpeningState, KeySource, Opening
from tendering.services.hall_events import publish
from tendering.services.locks import lock_one


def _lots_text(bid_opening: BidOpening) -> tuple[str, str, str]:
    summary = bid_opening.price_summary or {}
    prices: list[str] = []
    schedules: list[str] = []
    declared: list[str] = []
    for lot in summary.get("lots", []):
        prices.append(
            _("标段 %(lot)s：%(price)s 元（大写：%(words)s）")
            % {
                "lot": lot["lot"],
                "price": formatting.group_thousands(lot["price_yuan"]),
                "words": formatting.amount_in_words(lot["price_yuan"]),
            }
        )
        schedules.append(_("标段 %(lot)s：%(days)s 日历天") % {"lot": lot["lot"], "days": lot["schedule_days"]})
        declared.extend(f"{key}：{value}" for key, value in lot.get("declared", {}).items() if value)
    return "\n".join(prices) or "—", "\n".join(schedules) or "—", "\n".join(declared) or "—"


def _confirmation(bid_opening: BidOpening) -> str:
    if bid_opening.confirmed_by_default:
        return _("未在时限内确认，视为认可")
    if bid_opening.confirmed_at is not None:
        return _("已确认 %(when)s") % {"when": formatting.moment_text(bid_opening.confirmed_at)}
    return "—"


def build_document(opening: Opening) -> RecordDocument:
    tender = opening.tender
    bids = list(opening.bids.select_related("bid", "bid__bidder"))
    rows = []
    for bid_opening in bids:
        price, schedule, declared = _lots_text(bid_opening)
        state = str(BidOpeningState(bid_opening.state).label)
        if bid_opening.key_source:
            state += "\n" + str(KeySource(bid_opening.key_source).label)
        if bid_opening.outcome_detail:
            state += "\n" + bid_opening.outcome_detail
        rows.append(
            [
                str(bid_opening.position),
                f"{bid_opening.bid.bidder.name}\n{bid_opening.bid.bidder.credit_code or ''}",
                price,
                schedule,
                declared,
                state,
                _confirmation(bid_opening),
            ]
        )
    tables = [
        RecordTable(
            caption=_("开标记录"),
            headers=[_("序号"), _("投标人"), _("投标报价"), _("工期"), _("其他声明"), _("解密情况"), _("投标人确认")],
            rows=rows,
            column_widths=[0.5, 2.4, 2, 1.6, 2, 2.2, 1.6],
        )
    ]
    objections = list(opening.objections.select_related("bid_opening__bid__bidder"))
    if objections:
        tables.append(
            RecordTable(
                caption=_("异议及答复"),
                headers=[_("投标人"), _("异议"), _("提出时间"), _("答复"), _("答复时间")],
                rows=[
                    [
                        o.bid_opening.bid.bidder.name,
                        o.text,
                        formatting.moment_text(o.raised_at),
                        o.answer or "—",
                        formatting.moment_text(o.answered_at) if o.answered_at else "—",
                    ]
                    for o in objections
                ],
                column_widths=[2, 3, 1.5, 3, 1.5],
            )
        )
    opened = sum(1 for b in bids if b.state == BidOpeningState.OPENED)
    assert opening.closed_at is not None
    return RecordDocument(
        title=_("开标记录表"),
        subtitle=f"{tender.number} {tender.title}",
        metadata=[
            (_("招标人"), tender.tenderer.name),
            (_("开标时间"), formatting.moment_text(tender.opening_time)),
            (_("开标结束时间"), formatting.moment_text(opening.closed_at)),
            (_("投标文件"), _("共 %(n)d 份，成功解密 %(opened)d 份") % {"n": len(bids), "opened": opened}),
        ],
        tables=tables,
        footnotes=[
            _("本记录由电子招标投标交易平台根据各投标文件中的开标一览表自动生成，并经平台电子签名和时间戳。"),
            _("投标文件因投标人原因未能解密的，视为撤销其投标文件；因其他原因未能解密的，视为撤回其投标文件。"),
        ],
        orientation="landscape",
        created_at=clock.now(),
    )


def file_record(opening_id: int) -> str:
    """Render, sign, store and record the opening record of a closed opening."""
    opening = Opening.objects.select_related("tender", "tender__tenderer").get(pk=opening_id)
    if opening.closed_at is None:
        return "not closed"
    if opening.record_sha256:
        return "already filed"
    with translation.override(settings.LANGUAGE_CODE):
        pdf = render_record_pdf(build_document(opening))
        signed = sign_pdf(pdf, reason=str(_("开标记录表")), location=str(_("电子招标投标交易平台")))
    digest = hashlib.sha256(signed).hexdigest()
    until = records_retain_until()
    stored = get_object_store().put(
        object_keys.opening_record(opening.tender),
        io.BytesIO(signed),
        length=len(signed),
        content_type="application/pdf",
        metadata={"tender": opening.tender.number},
        retention=Retention(RetentionMode.GOVERNANCE, until),
    )
    with transaction.atomic():
        locked = lock_one(Opening.objects.select_related("tender").filter(pk=opening_id))
        if locked.record_sha256:
            return "already filed"  # another worker filed it meanwhile; this copy stays an unused version
        entry = record(
            locked.tender.case,
            "tendering.opening.record_filed",
            {"object_key": stored.key, "version_id": stored.version_id or "", "sha256": digest, "size": len(signed)},
            None,
        )
        cases.file_stored(
            locked.tender.case,
            "opening/opening-record.pdf",
            stored,
            sha256=digest,
            content_type="application/pdf",
            platform_signed=True,
        )
        locked.record_object_key = stored.key
        locked.record_version_id = str(stored.version_id or "")
        locked.record_sha256 = digest
        locked.record_ledger_seq = entry.seq
        locked.save(update_fields=["record_object_key", "record_version_id", "record_sha256", "record_ledger_seq"])
        publish(locked, hp.RecordFiled(sha256=digest, ledger_seq=entry.seq))
    return "filed"
