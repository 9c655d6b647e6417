"""Dashboard notices: reading and marking them read. Nobody touches another's notices."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from config import clock
from tendering.models import Notification


def notifications_for(user: Any) -> Any:
    if not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(recipient=user).select_related("tender")


@transaction.atomic
def mark_read(user: Any, ids: Iterable[int] | None = None) -> int:
    """Mark the user's own notices read (all unread ones when ``ids`` is None); return how many changed.

    Ids of other users' notices are ignored, never an error that would confirm they exist.
    """
    unread = notifications_for(user).filter(read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return int(unread.update(read_at=clock.now()))
