"""Who may do what with a tender. Checked per object, in services and views alike."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.errors import NotFound, PermissionDenied
from accounts.models import Role
from config import clock
from tendering.models import Entrustment, Tender


def can_create_tenders(user: Any) -> bool:
    return bool(user.is_authenticated and (user.has_role(Role.TENDERER_STAFF) or user.has_role(Role.AGENCY_STAFF)))


def entrusted(tenderer_id: int, agency_id: int, tender_number: str, now: dt.datetime) -> bool:
    """Whether an entrustment of the tenderer lets the agency act for this tender now (招标投标法 Art 15)."""
    return bool(
        Entrustment.objects.filter(tenderer_id=tenderer_id, agency_id=agency_id, revoked_at__isnull=True)
        .filter(Q(tender_number=tender_number) | Q(tender_number="", valid_from__lte=now, valid_until__gt=now))
        .exists()
    )


def _agency_staff_of(user: Any, tender: Tender) -> bool:
    return bool(
        user.is_authenticated
        and user.organization_id is not None
        and user.has_role(Role.AGENCY_STAFF)
        and tender.agency_id is not None
        and user.organization_id == tender.agency_id
    )


def can_manage(user: Any, tender: Tender) -> bool:
    """Staff of the tender's tenderer, or of its agency while an entrustment covers it;
    nobody else (not admins, not regulators).
    """
    if not user.is_authenticated or user.organization_id is None:
        return False
    if user.has_role(Role.TENDERER_STAFF) and user.organization_id == tender.tenderer_id:
        return True
    return _agency_staff_of(user, tender) and entrusted(
        tender.tenderer_id, user.organization_id, tender.number, clock.now()
    )


def no_entrustment(tender_number: str) -> PermissionDenied:
    return PermissionDenied(
        _(
            "招标人未委托贵机构办理招标项目 %(number)s（或委托已撤销、已过期）："
            "代理机构只能在招标人的有效委托范围内以其名义办理。"
        )
        % {"number": tender_number},
        code="no_entrustment",
    )


def require_manage(user: Any, tender: Tender, message: Any) -> None:
    """Refuse unless ``user`` manages the tender: ``no_entrustment`` for its agency without a valid entrustment."""
    if can_manage(user, tender):
        return
    if _agency_staff_of(user, tender):
        raise no_entrustment(tender.number)
    raise PermissionDenied(message)


def can_view(user: Any, tender: Tender) -> bool:
    """Published tenders are public; drafts only for their managers, regulators and the agency that drafted them.

    An agency whose entrustment ended still sees its draft (and is told ``no_entrustment`` when it tries to change it).
    """
    if tender.published_at is not None:
        return True
    return (
        can_manage(user, tender)
        or _agency_staff_of(user, tender)
        or (user.is_authenticated and user.has_role(Role.REGULATOR))
    )


def visible_tender(user: Any, public_id: uuid.UUID | str, *, published: bool = False) -> Tender:
    """The tender ``public_id`` names, as this user may see it (``can_view``); with ``published``, only once published.

    The one lookup of the pages, the API and the hall: a tender that does not exist, an id that is not one,
    and a draft the user may not see are all the same "not found" (a draft's existence is not told).
    """
    try:
        wanted = uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound(_("找不到该招标项目。")) from None
    tender = Tender.objects.select_related("tenderer", "agency").filter(public_id=wanted).first()
    if tender is None or not can_view(user, tender) or (published and tender.published_at is None):
        raise NotFound(_("找不到该招标项目。"))
    return tender


def bids_disclosed(tender: Tender, now: dt.datetime) -> bool:
    """Whether anything about the bids of a tender (how many, whose) may be shown to anyone but their own bidder.

    招标投标法 Art 22: before the opening the tenderer must not disclose the number
    or the names of the bidders, nor who or how many obtained the documents. The
    opening is the opening time (开标时间), so the same instant opens the hall.
    """
    return tender.published_at is not None and now >= tender.opening_time


def is_bidder(user: Any) -> bool:
    return bool(user.is_authenticated and user.has_role(Role.BIDDER) and user.organization_id is not None)
