"""Background work of tendering, run by the worker (django-tasks, database backend)."""

from __future__ import annotations

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
