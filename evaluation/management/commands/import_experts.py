"""Import the expert pool from a trading centre's CSV file (all lines or none): evaluation/services/pool.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.errors import DomainError
from accounts.models import Role, User
from evaluation.services.pool import import_pool


class Command(BaseCommand):
    help = (
        "Import experts from FILE (UTF-8 CSV, header row: 专家编号, 姓名, 登录名, 行政区划代码, 所在地区, 工作单位, "
        "工作单位统一社会信用代码, 评标专业, 利害关系, 在库), in the name of a platform administrator. "
        "Nothing is stored when any line is wrong; every wrong line is listed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--admin", required=True, help="username of the platform administrator importing")

    def handle(self, *args: Any, **options: Any) -> None:
        admin = User.objects.filter(username=options["admin"], is_active=True).first()
        if admin is None or not admin.has_role(Role.PLATFORM_ADMIN):
            raise CommandError(f"{options['admin']} is not an active platform administrator")
        try:
            raw = options["file"].read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        try:
            result = import_pool(admin, raw)
        except DomainError as exc:
            lines = [str(m) for ms in getattr(exc, "fields", {}).values() for m in ms] or [str(exc.message)]
            raise CommandError("\n".join([str(exc.message), *lines])) from exc
        self.stdout.write(
            f"Imported {result.created} new and {result.updated} updated experts, {result.accounts_created} accounts "
            f"created (unusable passwords: the administrator activates them), {result.specialties_created} new "
            f"specialties, {result.relationships} relationships; file SHA-256 {result.sha256}."
        )
