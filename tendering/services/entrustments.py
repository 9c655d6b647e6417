"""Entrustments (委托, 招标投标法 Art 15): the tenderer's staff grant and revoke them; agencies act within them.

The check itself is ``tendering.permissions.entrusted`` (used by ``can_manage``
and by the creation of a draft in a tenderer's name).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from accounts.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from accounts.models import Organization, OrganizationKind, Role, User
from archive.ledger import record
from config import clock
from tendering.models import Entrustment
from tendering.services.locks import lock_first
from tendering.services.tenders import NUMBER_PATTERN


def _case(tenderer_id: int) -> str:
    return f"organization:{tenderer_id}"


def _require_tenderer_staff(actor: User) -> Organization:
    org = actor.organization if actor.is_authenticated else None
    if org is None or org.kind != OrganizationKind.TENDERER or not actor.has_role(Role.TENDERER_STAFF):
        raise PermissionDenied(_("只有招标人的经办人可以委托或撤销委托招标代理机构。"), code="not_tenderer_staff")
    return org


def entrustment_record(entrustment: Entrustment) -> dict[str, Any]:
    """What the ledger keeps of an entrustment: who entrusted whom, for what."""
    return {
        "entrustment_id": str(entrustment.public_id),
        "tenderer": entrustment.tenderer.name,
        "tenderer_credit_code": entrustment.tenderer.credit_code or "",
        "agency": entrustment.agency.name,
        "agency_credit_code": entrustment.agency.credit_code or "",
        "tender_number": entrustment.tender_number,
        "valid_from": entrustment.valid_from.isoformat() if entrustment.valid_from else None,
        "valid_until": entrustment.valid_until.isoformat() if entrustment.valid_until else None,
    }


@transaction.atomic
def grant(
    actor: User,
    agency_id: int,
    *,
    tender_number: str = "",
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
) -> Entrustment:
    """The tenderer entrusts an agency with one tender (by its number) or with every tender for a period."""
    tenderer = _require_tenderer_staff(actor)
    now = clock.now()
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    agency = Organization.objects.filter(pk=agency_id, kind=OrganizationKind.AGENCY).first()
    if agency is None:
        err("agency_id", _("找不到该招标代理机构。"))
    number = tender_number.strip()
    period = valid_from is not None or valid_until is not None
    if number and period:
        err("tender_number", _("委托范围为一个招标项目或一段期间，二者只能选一。"))
    elif not number and not period:
        err("tender_number", _("请填写委托的招标编号，或委托期间的起止时间。"))
    elif number:
        if not NUMBER_PATTERN.match(number):
            err("tender_number", _("招标编号为 3 到 50 个字母、数字或 - _ / . 字符。"))
    elif valid_from is None or valid_until is None:
        err("valid_until", _("委托期间需要起始和截止时间。"))
    elif valid_from.tzinfo is None or valid_until.tzinfo is None:
        err("valid_until", _("时间必须带时区。"))
    elif valid_until <= valid_from:
        err("valid_until", _("委托截止时间必须晚于起始时间。"))
    elif valid_until <= now:
        err("valid_until", _("委托截止时间已过，请选择将来的时间。"))
    if errors:
        raise InvalidInput(errors)
    assert agency is not None
    if (
        number
        and Entrustment.objects.filter(
            tenderer=tenderer, agency=agency, tender_number=number, revoked_at__isnull=True
        ).exists()
    ):
        raise Conflict(_("已委托该代理机构办理招标项目 %(number)s。") % {"number": number}, code="already_entrusted")
    entrustment = Entrustment.objects.create(
        tenderer=tenderer,
        agency=agency,
        tender_number=number,
        valid_from=None if number else valid_from,
        valid_until=None if number else valid_until,
        granted_by=actor,
        granted_at=now,
    )
    record(_case(tenderer.pk), "tendering.entrustment.granted", entrustment_record(entrustment), actor)
    return entrustment


@transaction.atomic
def revoke(actor: User, public_id: uuid.UUID | str) -> Entrustment:
    """Revoke an entrustment: from now on the agency can no longer act under it."""
    tenderer = _require_tenderer_staff(actor)
    entrustment = lock_first(
        Entrustment.objects.select_related("tenderer", "agency").filter(public_id=public_id, tenderer=tenderer)
    )
    if entrustment is None:
        raise NotFound(_("找不到该委托。"))
    if entrustment.revoked_at is not None:
        raise Conflict(
            _("该委托已于 %(when)s 撤销。") % {"when": clock.local_text(entrustment.revoked_at)}, code="already_revoked"
        )
    entrustment.revoked_at = clock.now()
    entrustment.revoked_by = actor
    entrustment.save(update_fields=["revoked_at", "revoked_by"])
    record(
        _case(tenderer.pk),
        "tendering.entrustment.revoked",
        {"entrustment_id": str(entrustment.public_id), "revoked_at": entrustment.revoked_at.isoformat()},
        actor,
    )
    return entrustment


def visible_entrustments(user: User) -> QuerySet[Entrustment]:
    """Those the user's organization granted (tenderer staff) or received (agency staff); nobody else's."""
    if not user.is_authenticated or user.organization_id is None:
        return Entrustment.objects.none()
    mine = Q(pk__in=[])
    if user.has_role(Role.TENDERER_STAFF):
        mine |= Q(tenderer_id=user.organization_id)
    if user.has_role(Role.AGENCY_STAFF):
        mine |= Q(agency_id=user.organization_id)
    return Entrustment.objects.filter(mine).select_related("tenderer", "agency", "granted_by", "revoked_by")


def entrusting_tenderers(agency_staff: User) -> QuerySet[Organization]:
    """The tenderers that entrust the user's agency now with something (the choices of its tender form)."""
    if agency_staff.organization_id is None or not agency_staff.has_role(Role.AGENCY_STAFF):
        return Organization.objects.none()
    now = clock.now()
    live = Entrustment.objects.filter(agency_id=agency_staff.organization_id, revoked_at__isnull=True).filter(
        Q(tender_number__gt="") | Q(valid_from__lte=now, valid_until__gt=now)
    )
    return Organization.objects.filter(kind=OrganizationKind.TENDERER, pk__in=live.values("tenderer_id")).order_by(
        "name"
    )
