"""The chair closes a stage of the session: ``stages.close_stage``, and when the summary closes, the report built
in the same transaction (``report.build_report``), so that the committee never stands in the report stage
without its report.

It sits above both: the report reads the stages' results (``evaluation.services.session``), and the session's
services import nothing of the report's.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from evaluation.models import Stage
from evaluation.services import report
from evaluation.services.session import stages
from evaluation.services.session.common import lock_evaluation
from tendering.models import Tender


def close_stage(user: Any, tender: Tender, stage: str) -> Stage:
    """The chair closes the current stage ``stage``; the next stage (the report built once it is REPORT)."""
    with transaction.atomic():
        following = stages.close_stage(user, tender, stage)
        if following == Stage.REPORT:
            report.build_report(lock_evaluation(tender))
    return following
