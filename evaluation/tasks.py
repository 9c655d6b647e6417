"""Background work of the evaluation, run by the worker (django-tasks, as ``tendering.tasks``).

Services queue these by name after commit (``evaluation.services.report.FILE_TASK``); none imports this module.
"""

from __future__ import annotations

from django_tasks import task

from evaluation.services.report import file_report


@task()
def file_evaluation_report(evaluation_id: int) -> str:
    """Render the report every member decided on, sign it (PAdES) and file it in the case (idempotent)."""
    return file_report(evaluation_id)
