from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EvaluationConfig(AppConfig):
    """Expert pool, draw, committees and the remote evaluation session (a later issue)."""

    name = "evaluation"
    verbose_name = _("评标")
