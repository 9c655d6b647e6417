"""Background work of tendering, run by the worker (django-tasks, database backend).

The worker's code sits above the services it runs: this module imports them,
and no service imports it back (a service queues a task by its name, through
``tendering.services.after_commit``).
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django_tasks import task

from config import clock
from tendering.models import Opening, Tender
from tendering.services import bids, decryption
from tendering.services.case_file import close_case
from tendering.services.case_records import file_bid_records as file_the_bid_records
from tendering.services.opening.admission import WATCH_INTERVAL_SECONDS
from tendering.services.opening_record import file_record


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
        expire_bid_uploads.using(run_after=tender.bid_deadline).enqueue(tender.pk)
        return 0
    return bids.expire_uploads(tender_id)


# --- the opening -------------------------------------------------------------------------------------------


@task()
def decrypt_bid(bid_opening_id: int) -> str:
    """Decrypt one opened bid (idempotent: a bid already done or held by a live worker is left alone)."""
    return decryption.decrypt_bid(bid_opening_id)


@task()
def watch_opening(opening_id: int) -> int:
    """Queue again the bids whose worker died mid-decryption, while the opening runs.

    The next check is queued first, so a worker killed in the middle of this
    one does not end the watch.
    """
    opening = Opening.objects.filter(pk=opening_id).first()
    if opening is None or opening.closed_at is not None:
        return 0
    watch_opening.using(run_after=timezone.now() + dt.timedelta(seconds=WATCH_INTERVAL_SECONDS)).enqueue(opening_id)
    return decryption.resume_stalled(opening)


@task()
def file_opening_record(opening_id: int) -> str:
    """Render the closed opening's record (开标记录表) as a signed PDF and file it (idempotent)."""
    return file_record(opening_id)


@task()
def file_dossier(tender_id: int) -> str:
    """Build, store and register the filed tender's dossier (idempotent)."""
    return close_case(tender_id)


@task()
def file_bid_records(tender_id: int) -> int:
    """File the opening's bid records (manifests, signatures, receipts) in the case (idempotent)."""
    return file_the_bid_records(tender_id)
