"""The committee's written discussion (the supervisor reads every message) and members' presence."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import InvalidInput
from config import clock
from evaluation.models import DiscussionMessage
from evaluation.services.session import events
from evaluation.services.session.common import (
    SESSION_STAGES,
    ledger,
    lock_evaluation,
    member_of,
    require_member,
    require_stage,
)
from evaluation.session_protocol import MemberPresence, MessagePosted, MessageView
from tendering.models import Tender


def message_view(row: DiscussionMessage) -> MessageView:
    return MessageView(
        id=row.pk,
        author=row.author_id,
        name=row.author.display_name or row.author.username,
        text=row.text,
        created_at=row.created_at,
    )


def post_message(user: Any, tender: Tender, text: str) -> DiscussionMessage:
    text = text.strip()
    if not text:
        raise InvalidInput({"text": [_("消息不能为空。")]})
    with transaction.atomic():
        evaluation = lock_evaluation(tender)
        require_member(user, evaluation)
        require_stage(evaluation, *SESSION_STAGES)
        row = DiscussionMessage.objects.create(evaluation=evaluation, author=user, text=text, created_at=clock.now())
        events.publish(evaluation, MessagePosted(**message_view(row).model_dump()))
        # Last: the ledger's head (one row for the platform) is held from the append to the commit.
        ledger(evaluation, "message_posted", {"message_id": row.pk, "text": text}, user)
    return row


def presence(user: Any, tender: Tender, online: bool) -> None:
    """A member's connection opened or closed (not recorded in the ledger: it changes nothing)."""
    with transaction.atomic():
        evaluation = lock_evaluation(tender)
        member = member_of(user, evaluation)
        if member is not None:
            events.publish(evaluation, MemberPresence(member=member.pk, online=online))
