"""The records period, written once: how long the platform keeps what it files (``RECORD_RETENTION_YEARS``),
and a closed case's dossier (``DOSSIER_RETENTION_MODE``, ``DOSSIER_RETENTION_YEARS`` per procedure type).

Published tender documents and filed records are put under object-lock retention until
``records_retain_until()``: the same calendar day ``RECORD_RETENTION_YEARS`` years on (29 February
becomes 1 March), so the period is never shorter than the years it is named by.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from archive.storage.base import Retention, RetentionMode
from config import clock


def add_years(moment: dt.datetime, years: int) -> dt.datetime:
    """The same calendar day and time ``years`` years after ``moment``; 29 February gives 1 March."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February into a year that has none
        return moment.replace(year=moment.year + years, month=3, day=1)


def records_retain_until(now: dt.datetime | None = None) -> dt.datetime:
    """Until when something filed ``now`` (the platform's clock by default) is retained."""
    return add_years(clock.now() if now is None else now, settings.RECORD_RETENTION_YEARS)


def records_retention(mode: RetentionMode = RetentionMode.GOVERNANCE, now: dt.datetime | None = None) -> Retention:
    """Object-lock retention for the records period (GOVERNANCE unless the filing asks for COMPLIANCE)."""
    return Retention(mode, records_retain_until(now))


def dossier_retention(procedure_type: str, now: dt.datetime | None = None) -> Retention:
    """The object-lock retention of a closed case's dossier: its procedure type's years, in the configured mode."""
    years = settings.DOSSIER_RETENTION_YEARS.get(procedure_type)
    if years is None:
        raise ValueError(f"no dossier retention for the procedure type {procedure_type!r}")
    return Retention(
        RetentionMode(settings.DOSSIER_RETENTION_MODE), add_years(clock.now() if now is None else now, years)
    )
