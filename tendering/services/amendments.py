"""Amendments to published tender documents (澄清或修改) and the notices they send."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import IO

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import InvalidInput, WrongPhase
from accounts.models import User
from archive.ledger import record
from config import clock
from tendering import permissions
from tendering.models import Amendment, DocumentDownload, Notification, NotificationKind, Phase, Tender
from tendering.services.after_commit import Work, enqueue_after_commit
from tendering.services.documents import add_document
from tendering.services.locks import lock_tender


def minimum_notice(tender: Tender) -> dt.timedelta:
    return dt.timedelta(days=settings.AMENDMENT_MIN_DAYS.get(tender.procedure_type, 15))


@transaction.atomic
def issue_amendment(
    actor: User,
    tender: Tender,
    summary: str,
    files: Sequence[tuple[str, IO[bytes], int | None]] = (),
    new_deadline: dt.datetime | None = None,
    new_opening_time: dt.datetime | None = None,
) -> Amendment:
    """Issue an amendment. Issued less than the minimum notice before the deadline,
    it must move the deadline so that the notice is respected (实施条例 Art 21)."""
    tender = lock_tender(tender.pk)
    permissions.require_manage(actor, tender, _("您无权为此招标项目发布澄清或修改。"))
    now = clock.now()
    phase = tender.phase(now)
    if phase != Phase.OPEN_FOR_BIDS:
        raise WrongPhase(
            _("当前阶段为「%(phase)s」：只有投标截止前才能发布澄清或修改。") % {"phase": Phase(phase).label},
            code="amendment_after_deadline",
        )
    summary = (summary or "").strip()
    errors: dict[str, list[str]] = {}
    if not summary or len(summary) > 20000:
        errors["summary"] = [_("请填写澄清或修改的内容（不超过 20000 字）。")]
    deadline = new_deadline or tender.bid_deadline
    if new_deadline is not None and new_deadline < tender.bid_deadline:
        errors.setdefault("new_deadline", []).append(_("澄清或修改不能提前投标截止时间。"))
    notice = minimum_notice(tender)
    if deadline - now < notice:
        earliest = now + notice
        errors.setdefault("new_deadline", []).append(
            _("距投标截止不足 %(days)d 日，必须将投标截止时间顺延至 %(earliest)s 或之后。")
            % {"days": notice.days, "earliest": clock.local_text(earliest)}
        )
    opening = new_opening_time or (tender.opening_time if new_deadline is None else None)
    if opening is None and new_deadline is not None:
        opening = new_deadline + (tender.opening_time - tender.bid_deadline)
    if opening is not None and opening < deadline:
        errors.setdefault("new_opening_time", []).append(_("开标时间不能早于投标截止时间。"))
    if tender.enquiry_deadline > deadline:
        errors.setdefault("new_deadline", []).append(_("投标截止时间不能早于提问截止时间。"))
    if errors:
        raise InvalidInput(errors)
    assert opening is not None
    number = (tender.amendments.count() or 0) + 1
    amendment = Amendment.objects.create(
        tender=tender,
        number=number,
        summary=summary,
        issued_at=now,
        issued_by=actor,
        previous_deadline=tender.bid_deadline,
        new_deadline=new_deadline,
        new_opening_time=opening if opening != tender.opening_time else None,
    )
    tender.bid_deadline = deadline
    tender.opening_time = opening
    tender.save(update_fields=["bid_deadline", "opening_time", "updated_at"])
    documents = [add_document(actor, tender, name, stream, size, amendment=amendment) for name, stream, size in files]
    record(
        tender.case,
        "tendering.amendment.issued",
        {
            "tender_id": tender.pk,
            "number": number,
            "summary": summary,
            "previous_deadline": amendment.previous_deadline.isoformat(),
            "bid_deadline": tender.bid_deadline.isoformat(),
            "opening_time": tender.opening_time.isoformat(),
            "documents": [{"id": str(d.public_id), "name": d.name, "sha256": d.sha256} for d in documents],
        },
        actor,
    )
    _notify_earlier_downloaders(tender, amendment)
    if new_deadline is not None:
        enqueue_after_commit(Work.EXPIRE_BID_UPLOADS, tender.pk, run_after=tender.bid_deadline)
    return amendment


def _notify_earlier_downloaders(tender: Tender, amendment: Amendment) -> None:
    user_ids = set(
        DocumentDownload.objects.filter(document__tender=tender, downloaded_at__lt=amendment.issued_at).values_list(
            "user_id", flat=True
        )
    )
    params = {
        "number": amendment.number,
        "new_deadline": tender.bid_deadline.isoformat() if amendment.new_deadline else None,
    }
    Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=uid,
                tender=tender,
                kind=NotificationKind.AMENDMENT,
                params=params,
                created_at=amendment.issued_at,
            )
            for uid in sorted(user_ids)
        ]
    )
