"""The opening record's confirmations and objections: bidders confirm or object, the tenderer answers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, InvalidInput, NotFound, PermissionDenied, WrongPhase
from accounts.models import User
from archive.ledger import record
from config import clock
from tendering import hall_protocol as hp
from tendering.hall import HallRole
from tendering.models import (
    BidOpening,
    Opening,
    RecordObjection,
    Tender,
)
from tendering.services.hall_events import publish
from tendering.services.locks import lock_first
from tendering.services.opening.admission import lock_opening, require_hall, require_not_closed, require_role
from tendering.services.opening.payloads import objection_view


def _own_bid_opening(opening: Opening, user: User) -> BidOpening:
    found = lock_first(opening.bids.select_related("bid", "bid__bidder").filter(bid__bidder_id=user.organization_id))
    if found is None:
        raise PermissionDenied(_("您的单位在本次开标中没有投标文件。"), code="not_allowed_in_hall")
    return found


def _require_confirmation_open(opening: Opening) -> None:
    require_not_closed(opening)
    if opening.record_published_at is None:
        raise WrongPhase(_("开标记录尚未公布：全部投标文件解密结束后才能确认或提出异议。"), code="record_not_published")
    assert opening.confirmation_ends_at is not None
    if clock.now() >= opening.confirmation_ends_at:
        raise WrongPhase(
            _("确认开标记录的时间已于 %(when)s 结束。") % {"when": clock.local_text(opening.confirmation_ends_at)},
            code="confirmation_closed",
        )


def confirm_record(user: User, tender: Tender) -> BidOpening:
    roles = require_hall(user, tender)
    require_role(roles, HallRole.BIDDER, _("只有投标人确认开标记录。"))
    with transaction.atomic():
        opening = lock_opening(tender)
        _require_confirmation_open(opening)
        bid_opening = _own_bid_opening(opening, user)
        if bid_opening.confirmed_at is not None:
            raise Conflict(_("您已确认过开标记录。"), code="already_confirmed")
        bid_opening.confirmed_at = clock.now()
        bid_opening.confirmed_by = user
        bid_opening.save(update_fields=["confirmed_at", "confirmed_by"])
        record(tender.case, "tendering.opening.record_confirmed", {"bid_id": str(bid_opening.bid.public_id)}, user)
        publish(
            opening,
            hp.RecordConfirmed(
                position=bid_opening.position, bidder=bid_opening.bid.bidder.name, at=bid_opening.confirmed_at
            ),
        )
    return bid_opening


def raise_objection(user: User, tender: Tender, text: str) -> RecordObjection:
    roles = require_hall(user, tender)
    require_role(roles, HallRole.BIDDER, _("只有投标人可以对开标记录提出异议。"))
    text = _clean_text(text, "text")
    with transaction.atomic():
        opening = lock_opening(tender)
        _require_confirmation_open(opening)
        bid_opening = _own_bid_opening(opening, user)
        objection = RecordObjection.objects.create(
            opening=opening, bid_opening=bid_opening, raised_by=user, text=text, raised_at=clock.now()
        )
        record(
            tender.case,
            "tendering.opening.objection_raised",
            {"objection_id": objection.pk, "bid_id": str(bid_opening.bid.public_id), "text": text},
            user,
        )
        publish(opening, hp.ObjectionChanged(**objection_view(objection)))
    return objection


def answer_objection(user: User, tender: Tender, objection_id: int, text: str) -> RecordObjection:
    roles = require_hall(user, tender)
    require_role(roles, HallRole.MANAGER, _("只有招标人或代理机构可以答复异议。"))
    text = _clean_text(text, "answer")
    with transaction.atomic():
        opening = lock_opening(tender)
        require_not_closed(opening)
        objection = lock_first(
            RecordObjection.objects.select_related("bid_opening__bid__bidder").filter(opening=opening, pk=objection_id)
        )
        if objection is None:
            raise NotFound(_("找不到该异议。"))
        if objection.answered_at is not None:
            raise Conflict(_("该异议已答复。"), code="already_answered")
        objection.answer = text
        objection.answered_by = user
        objection.answered_at = clock.now()
        objection.save(update_fields=["answer", "answered_by", "answered_at"])
        record(
            tender.case, "tendering.opening.objection_answered", {"objection_id": objection.pk, "answer": text}, user
        )
        publish(opening, hp.ObjectionChanged(**objection_view(objection)))
    return objection


def _clean_text(text: Any, field: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput({field: [_("请填写内容。")]})
    text = text.strip()
    if len(text) > settings.OBJECTION_MAX_CHARS:
        raise InvalidInput({field: [_("内容过长：最多 %(n)d 个字符。") % {"n": settings.OBJECTION_MAX_CHARS}]})
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise InvalidInput({field: [_("内容含有控制字符。")]})
    return text
