"""Sign a checkpoint of the ledger (tree size and root) with the platform key and print it."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from archive.ledger import LedgerError, checkpoint_document, make_checkpoint, verify_ledger


class Command(BaseCommand):
    help = "Verify the ledger, then sign its current size and Merkle root with the platform key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-verify", action="store_true", help="sign without recomputing every entry first (faster; not advised)"
        )

    def handle(self, *args: Any, no_verify: bool, **options: Any) -> None:
        if not no_verify:
            result = verify_ledger()
            if not result.ok:
                raise CommandError(f"not signing: the ledger does not verify: {result.reason}")
        try:
            checkpoint = make_checkpoint()
        except LedgerError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(checkpoint_document(checkpoint), ensure_ascii=False, indent=2))
