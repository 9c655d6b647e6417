"""Recompute the whole ledger, its stored subtree hashes and its signed checkpoints; exit 1 at the first mismatch."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from archive.ledger import CHUNK_SIZE, verify_ledger


class Command(BaseCommand):
    help = "Check every ledger entry, the hash chain, the Merkle root, the stored subtree hashes and every checkpoint."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="rows fetched per round trip")

    def handle(self, *args: Any, chunk_size: int, **options: Any) -> None:
        result = verify_ledger(chunk_size=chunk_size)
        if not result.ok:
            raise CommandError(f"ledger FAILED after {result.entries_checked} good entries: {result.reason}")
        self.stdout.write(f"ledger OK: {result.entries_checked} entries, root {result.root}")
        if result.checkpoints_checked:
            self.stdout.write(f"{result.checkpoints_checked} signed checkpoints verified")
