from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ArchiveConfig(AppConfig):
    """Records: object store, ledger, platform signatures. Imports nothing above accounts."""

    name = "archive"
    verbose_name = _("档案")

    def ready(self) -> None:
        from archive import receivers  # noqa: F401  (records accounts' events in the ledger)
