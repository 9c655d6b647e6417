"""Work for the worker, queued once the transaction that asked for it commits.

Services never import ``tendering.tasks``: the worker's code sits above the
services it runs (``tendering.tasks`` imports them), so a service names the task
it wants (``Work``) and ``enqueue_after_commit`` queues it after commit. A
transaction that rolls back queues nothing; outside a transaction the task is
queued at once (Django's ``on_commit``). ``tests/tendering/test_house_helpers.py``
checks that every name is a task of ``tendering.tasks``.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string


class Work(enum.StrEnum):
    """The tasks a service may queue, by their import path in ``tendering.tasks``."""

    EXPIRE_BID_UPLOADS = "tendering.tasks.expire_bid_uploads"
    DECRYPT_BID = "tendering.tasks.decrypt_bid"
    WATCH_OPENING = "tendering.tasks.watch_opening"
    FILE_OPENING_RECORD = "tendering.tasks.file_opening_record"
    FILE_DOSSIER = "tendering.tasks.file_dossier"
    FILE_BID_RECORDS = "tendering.tasks.file_bid_records"


def task_for(work: Work) -> Any:
    """The django-tasks task that does ``work``."""
    return import_string(work.value)


def enqueue_now(
    work: Work, *args: Any, run_after: dt.datetime | None = None, delay: dt.timedelta | None = None
) -> None:
    """Queue ``work`` at once. ``delay`` counts on the queue's clock (the real one, not the platform's offset)."""
    if run_after is not None and delay is not None:
        raise ValueError("give run_after or delay, not both")
    if delay is not None:
        run_after = timezone.now() + delay
    task = task_for(work)
    if run_after is not None:
        task = task.using(run_after=run_after)
    task.enqueue(*args)


def enqueue_after_commit(
    work: Work, *args: Any, run_after: dt.datetime | None = None, delay: dt.timedelta | None = None
) -> None:
    """Queue ``work`` with ``args`` once the current transaction commits (never if it rolls back).

    ``delay`` is measured from the commit, on the queue's clock; ``run_after`` is an instant.
    """
    if run_after is not None and delay is not None:
        raise ValueError("give run_after or delay, not both")
    transaction.on_commit(lambda: enqueue_now(work, *args, run_after=run_after, delay=delay))
