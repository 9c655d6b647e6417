"""Who may enter the session: the confirmed, non-recused members of the committee and the supervisor.

A bidder, a recused or declined expert, the tenderer or anyone else is refused (code ``not_a_member``): bidders
reach the committee only through clarifications."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from accounts.errors import PermissionDenied, WrongPhase
from evaluation.models import CommitteeMember, Evaluation
from evaluation.services.session.common import evaluation_of, is_supervisor, member_of
from evaluation.session_protocol import expert_audience
from tendering.models import Tender
from tendering.room import groups

EXPERT = "expert"
SUPERVISOR = "supervisor"


def require_session(user: Any, tender: Tender) -> tuple[Evaluation, CommitteeMember | None, str]:
    """The evaluation, the user's membership (None for the supervisor) and its role; refused otherwise."""
    evaluation = evaluation_of(tender)
    member = member_of(user, evaluation)
    if member is None and not is_supervisor(user, evaluation):
        raise PermissionDenied(
            _("您不是本项目评标委员会的成员：只有评标委员会成员和监督人员可以进入评标。"), code="not_a_member"
        )
    return evaluation, member, (EXPERT if member is not None else SUPERVISOR)


def audiences(user: Any, role: str) -> set[str]:
    """The groups a user hears: everyone's, and its own (a member) or the staff's (the supervisor)."""
    return {groups.ALL, expert_audience(user.pk) if role == EXPERT else groups.STAFF}


def may_stay(user: Any, tender: Tender) -> bool:
    try:
        require_session(user, tender)
    except (PermissionDenied, WrongPhase):
        return False
    return True
