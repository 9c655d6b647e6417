"""Who may enter the session: the confirmed, non-recused members of the committee and the supervisor.

A bidder, a recused or declined expert, the tenderer or anyone else is refused (code ``not_a_member``): bidders
reach the committee only through clarifications."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _

from accounts.errors import PermissionDenied
from evaluation.models import CommitteeMember, Evaluation, MemberState
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
    """May ``user`` (as read at connect: its active flag is read here) still hear the session? One statement:
    the user is active, and a confirmed member of the tender's evaluation or its supervisor (``require_session``)."""
    if not getattr(user, "is_authenticated", False):
        return False
    member = CommitteeMember.objects.filter(
        evaluation=OuterRef("pk"), expert__user_id=user.pk, state=MemberState.CONFIRMED
    )
    active = get_user_model().objects.filter(pk=user.pk, is_active=True)
    return (
        Evaluation.objects.filter(tender_id=tender.pk)
        .filter(Exists(active))
        .filter(Q(Exists(member)) | Q(supervisor_id=user.pk))
        .exists()
    )
