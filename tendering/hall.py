"""Who is in a tender's opening hall (开标大厅), in which role, and the hall's group names.

Every name of a channel-layer group of the hall is built here, and each group
is one audience of the hall's events: ``all`` (everyone entitled to the hall),
``staff`` (the tender's managers and supervisors), ``bidder:<organization>``
and ``custodian:<user>``. A bidder never joins another bidder's group, nor a
custodian's.
"""

from __future__ import annotations

import enum
from typing import Any

from accounts.models import Role
from tendering import permissions
from tendering.models import BidStatus, Tender


class HallRole(enum.StrEnum):
    MANAGER = "manager"  # the tenderer's or agency's staff who run the opening
    SUPERVISOR = "supervisor"  # a regulator watching, read-only
    BIDDER = "bidder"  # staff of a company whose bid stood at the deadline
    CUSTODIAN = "custodian"  # one of the tender's custodians


ALL = "all"
STAFF = "staff"


def bidder_audience(organization_id: int) -> str:
    return f"bidder:{organization_id}"


def custodian_audience(user_id: int) -> str:
    return f"custodian:{user_id}"


def hall_roles(user: Any, tender: Tender) -> set[HallRole]:
    """The roles ``user`` has in this tender's hall; empty: not entitled to it."""
    if not getattr(user, "is_authenticated", False) or tender.published_at is None:
        return set()
    roles: set[HallRole] = set()
    if permissions.can_manage(user, tender):
        roles.add(HallRole.MANAGER)
    if user.has_role(Role.REGULATOR):
        roles.add(HallRole.SUPERVISOR)
    if (
        permissions.is_bidder(user)
        and tender.bids.filter(bidder_id=user.organization_id, status=BidStatus.ACCEPTED).exists()
    ):
        roles.add(HallRole.BIDDER)
    if user.has_role(Role.CUSTODIAN) and tender.custodian_slots.filter(user=user).exists():
        roles.add(HallRole.CUSTODIAN)
    return roles


def audiences(user: Any, roles: set[HallRole]) -> set[str]:
    """The audiences (and so the groups) whose events ``user`` may see."""
    names = {ALL} if roles else set()
    if roles & {HallRole.MANAGER, HallRole.SUPERVISOR}:
        names.add(STAFF)
    if HallRole.BIDDER in roles:
        names.add(bidder_audience(user.organization_id))
    if HallRole.CUSTODIAN in roles:
        names.add(custodian_audience(user.pk))
    return names


def group_name(tender_id: int, audience: str) -> str:
    """The channel-layer group of one audience of one hall (letters, digits, '-', '.' and '_' only)."""
    return f"hall.{tender_id}.{audience.replace(':', '.')}"
