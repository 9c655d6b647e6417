"""Who may do what with a tender. Checked per object, in services and views alike."""

from __future__ import annotations

from typing import Any

from accounts.models import Role
from tendering.models import Tender


def can_create_tenders(user: Any) -> bool:
    return bool(user.is_authenticated and (user.has_role(Role.TENDERER_STAFF) or user.has_role(Role.AGENCY_STAFF)))


def can_manage(user: Any, tender: Tender) -> bool:
    """Staff of the tender's tenderer or of its agency; nobody else (not admins, not regulators)."""
    if not user.is_authenticated or user.organization_id is None:
        return False
    if user.has_role(Role.TENDERER_STAFF) and user.organization_id == tender.tenderer_id:
        return True
    return bool(user.has_role(Role.AGENCY_STAFF) and tender.agency_id is not None and user.organization_id == tender.agency_id)


def can_view(user: Any, tender: Tender) -> bool:
    """Published tenders are public; drafts only for their managers and regulators."""
    if tender.published_at is not None:
        return True
    return can_manage(user, tender) or (user.is_authenticated and user.has_role(Role.REGULATOR))


def is_bidder(user: Any) -> bool:
    return bool(user.is_authenticated and user.has_role(Role.BIDDER) and user.organization_id is not None)
