"""Who is in a tender's opening hall (开标大厅), in which role, and which audiences of its events they hear.

The hall is one room of the room protocol (tendering/room): its groups are named by
``tendering.room.groups``, one per audience: ``all`` (everyone entitled to the hall), ``staff``
(the tender's managers and supervisors), ``bidder:<organization>`` and ``custodian:<user>``. A
bidder never joins another bidder's group, nor a custodian's.
"""

from __future__ import annotations

import enum
from typing import Any

from accounts.models import Role
from tendering import permissions
from tendering.hall_protocol import ROOM
from tendering.models import BidStatus, Tender
from tendering.room import groups

# The audiences' names, from the one place that builds them.
ALL = groups.ALL
STAFF = groups.STAFF
bidder_audience = groups.bidder
custodian_audience = groups.custodian


class HallRole(enum.StrEnum):
    MANAGER = "manager"  # the tenderer's or agency's staff who run the opening
    SUPERVISOR = "supervisor"  # a regulator watching, read-only
    BIDDER = "bidder"  # staff of a company whose bid stood at the deadline
    CUSTODIAN = "custodian"  # one of the tender's custodians


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
    names = {groups.ALL} if roles else set()
    if roles & {HallRole.MANAGER, HallRole.SUPERVISOR}:
        names.add(groups.STAFF)
    if HallRole.BIDDER in roles:
        names.add(groups.bidder(user.organization_id))
    if HallRole.CUSTODIAN in roles:
        names.add(groups.custodian(user.pk))
    return names


def group_name(tender_id: int, audience: str) -> str:
    """The channel-layer group of one audience of one tender's hall."""
    return groups.group_name(ROOM, tender_id, audience)
