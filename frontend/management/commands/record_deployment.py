from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from frontend.deployment import BUILD_DIRECTORY, record_deployment


class Command(BaseCommand):
    help = (
        "Record the browser sealing bundle's SHA-256 in the ledger (platform.deployment.recorded) "
        "when it differs from the last deployment recorded. Run at every release, after the bundle is built."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--release", dest="release", default="", help="the release's name or tag, recorded with the hash"
        )
        parser.add_argument(
            "--directory",
            type=Path,
            default=BUILD_DIRECTORY,
            help="the bundle's folder (default: frontend/static/frontend/build)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            digest, entry = record_deployment(version=options["release"], directory=options["directory"])
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        if entry is None:
            self.stdout.write(
                f"Browser bundle {digest.sha256} ({len(digest.files)} files): already the last deployment recorded."
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Browser bundle {digest.sha256} ({len(digest.files)} files) recorded: ledger entry {entry.seq}."
                )
            )
