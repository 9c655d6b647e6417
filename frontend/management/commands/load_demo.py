from typing import Any

from django.core.management.base import BaseCommand

from frontend.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo organizations, users, keys and a published tender (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        rows = load_demo()
        self.stdout.write(self.style.SUCCESS("Demo users (username / password / roles):"))
        for username, password, roles in rows:
            self.stdout.write(f"  {username:<12} {password:<26} {roles}")
        self.stdout.write("Private keys of bidders and custodians: var/demo-keys/ (development only).")
