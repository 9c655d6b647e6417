from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EvaluationConfig(AppConfig):
    """Expert pool, draw, committees, the remote evaluation session and the report."""

    name = "evaluation"
    verbose_name = _("评标")

    def ready(self) -> None:
        from evaluation import models as m
        from tendering.services.locks import extend_lock_order

        # After tendering's rows (a tender before its evaluation), the evaluation's own from the top down.
        extend_lock_order(
            m.Expert, m.Evaluation, m.CommitteeMember, m.Sheet, m.Mark, m.Deviation, m.Clarification, m.Report
        )
