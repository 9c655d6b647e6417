"""Closing a tender's case (归档): its dossier built, stored under the procedure type's retention and
registered, by the worker (``Work.FILE_DOSSIER``, queued when the case is filed: ``tenders.file_case``).

Idempotent: a case whose dossier is registered is not filed again (a retried or duplicated task). A store
that fails raises, and django-tasks records the failure; the task can be run again
(``manage.py build_dossier`` builds one by hand). docs/dossier.md.
"""

from __future__ import annotations

import logging

from archive.dossier import dossiers_of, file_dossier
from archive.storage.retention import dossier_retention
from tendering.models import Tender
from tendering.services.case_records import file_bid_records

logger = logging.getLogger(__name__)


def close_case(tender_id: int) -> str:
    """File the dossier of the filed tender ``tender_id``: "filed", "already filed" or "not filed yet"."""
    tender = Tender.objects.get(pk=tender_id)
    if tender.filed_at is None:
        return "not filed yet"
    if dossiers_of(tender.case).exists():
        return "already filed"
    file_bid_records(tender.pk)  # what a store outage at the opening left out
    dossier, stored = file_dossier(tender.case, dossier_retention(tender.procedure_type, tender.filed_at))
    logger.info("dossier of tender %s filed as %s (%s)", tender.number, stored.key, dossier.sha256)
    return "filed"
