"""Background work of tendering, run by the worker (django-tasks, database backend)."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from config import clock
from tendering.models import Tender


@task()
def expire_bid_uploads(tender_id: int) -> int:
    """At the deadline, uploads not finalized count as not submitted (their parts are removed).

    Idempotent; scheduled for the deadline at publication and after every amendment.
    If the deadline moved later, it schedules itself again for the new one.
    """
    tender = Tender.objects.filter(pk=tender_id).first()
    if tender is None:
        return 0
    if clock.now() < tender.bid_deadline:
        schedule_deadline_work(tender)
        return 0
    from tendering.services import bids

    return bids.expire_uploads(tender_id)


def schedule_deadline_work(tender: Tender) -> None:
    expire_bid_uploads.using(run_after=tender.bid_deadline).enqueue(tender.pk)


# --- the opening -------------------------------------------------------------------------------------------

# How often a running opening is checked for bids whose worker died (seconds of real time).
WATCH_INTERVAL_SECONDS = 10


@task()
def decrypt_bid(bid_opening_id: int) -> str:
    """Decrypt one opened bid (idempotent: a bid already done or held by a live worker is left alone)."""
    from tendering.services import decryption

    return decryption.decrypt_bid(bid_opening_id)


def schedule_decryption(bid_opening_id: int, delay: dt.timedelta) -> None:
    """Queue a bid's next attempt after a fault (the queue's clock is the real one, not the platform's offset)."""
    from django.utils import timezone

    decrypt_bid.using(run_after=timezone.now() + delay).enqueue(bid_opening_id)


@task()
def watch_opening(opening_id: int) -> int:
    """Queue again the bids whose worker died mid-decryption, while the opening runs.

    The next check is queued first, so a worker killed in the middle of this
    one does not end the watch.
    """
    from tendering.models import Opening
    from tendering.services import decryption

    opening = Opening.objects.filter(pk=opening_id).first()
    if opening is None or opening.closed_at is not None:
        return 0
    schedule_watch(opening_id)
    return decryption.resume_stalled(opening)


def schedule_watch(opening_id: int) -> None:
    from django.utils import timezone

    watch_opening.using(run_after=timezone.now() + dt.timedelta(seconds=WATCH_INTERVAL_SECONDS)).enqueue(opening_id)


@task()
def file_opening_record(opening_id: int) -> str:
    """Render the closed opening's record (开标记录表) as a signed PDF and file it (idempotent)."""
    from tendering.services.opening_record import file_record

    return file_record(opening_id)
