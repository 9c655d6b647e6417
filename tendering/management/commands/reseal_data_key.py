"""Seal every stored opened-bid secret again under the current data key (after a rotation)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from archive.vault import VaultError
from tendering.services.data_key_rotation import reseal_opened_secrets


class Command(BaseCommand):
    help = (
        "Seal released file keys, evaluation-copy keys and custodians' parts again under the data key in "
        "PLATFORM_DATA_KEY_FILE, opening each with the key it names (current or PLATFORM_DATA_KEY_RETIRED_FILES). "
        "Idempotent; afterwards the retired key files may be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = reseal_opened_secrets()
        except VaultError as exc:
            raise CommandError(f"stopped: {exc}") from exc
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(report.resealed.items())) or "nothing to do"
        self.stdout.write(f"Sealed again under data key {report.key_id}: {kinds} ({len(report.tenders)} tenders).")
