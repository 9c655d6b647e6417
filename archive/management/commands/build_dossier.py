"""Build a case's dossier into a file (and, with ``--store``, file it in the object store under retention)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from archive.dossier import DossierError, build_dossier, file_dossier
from archive.ledger import LedgerError
from archive.storage import RetentionMode
from archive.storage.retention import records_retention


class Command(BaseCommand):
    help = (
        "Build the dossier of a case (e.g. tender:42): every filed object, the case's ledger entries with their "
        "proofs and a signed checkpoint, in one signed BagIt bag (docs/dossier.md). Check it with "
        "python -m archive.verify dossier FILE --ca CA.pem."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("case", help="the case, as the ledger names it: tender:<id>")
        parser.add_argument("--out", type=Path, help="write the dossier to this file (.tar)")
        parser.add_argument(
            "--store",
            choices=["governance", "compliance"],
            help="also store it at dossiers/<case>/ under this object-lock mode for the records period",
        )

    def handle(self, *args: Any, case: str, out: Path | None, store: str | None, **options: Any) -> None:
        if out is None and store is None:
            raise CommandError("say where the dossier goes: --out FILE, --store MODE, or both")
        if out is not None and (out.exists() or not out.parent.is_dir()):
            raise CommandError(f"{out}: the file exists already, or its folder does not: nothing was written")
        try:
            if out is not None:
                dossier = build_dossier(case, out)
                self.stdout.write(
                    f"{out}: {dossier.objects} objects, {dossier.entries} ledger entries, checkpoint of "
                    f"{dossier.tree_size} entries, {dossier.size} bytes, SHA-256 {dossier.sha256}"
                )
            if store is not None:
                stored_dossier, stored = file_dossier(case, records_retention(RetentionMode(store.upper())))
                self.stdout.write(
                    f"stored as {stored.key} (version {stored.version_id or '-'}), SHA-256 {stored_dossier.sha256}, "
                    f"under {store.upper()} retention"
                )
        except (DossierError, LedgerError) as exc:
            raise CommandError(str(exc)) from exc
