from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from archive.ledger import make_checkpoint
from frontend.demo import demo_tenders, load_demo
from frontend.demo_evaluation import VISITOR_EXPERT, demo_evaluation


class Command(BaseCommand):
    help = (
        "Load the demo organizations, users, keys, a published tender, a tender at its opening and one in "
        "evaluation (idempotent)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        # Demo users sign in with printed passwords and their private keys lie in var/demo-keys:
        # never on a production database (etender.E013 and E014 refuse one that has them).
        if settings.ETENDER_ENV == "production":
            raise CommandError("load_demo refuses to run with ETENDER_ENV=production: its users' passwords are public.")
        rows = load_demo()
        evaluation = demo_evaluation(Path(settings.VAR_DIR) / "demo-keys")
        make_checkpoint()
        self.stdout.write(self.style.SUCCESS("Demo users (username / password / roles):"))
        for username, password, roles in rows:
            self.stdout.write(f"  {username:<12} {password:<26} {roles}")
        self.stdout.write("Private keys of bidders and custodians: var/demo-keys/ (development only).")
        self.stdout.write('Tenders (README, "A demo to walk through"):')
        for tender in demo_tenders():
            self.stdout.write(f"  {tender.number}  /tenders/{tender.public_id}/  {tender.title}")
        self.stdout.write(f"  {evaluation.number}  /evaluation/{evaluation.public_id}/session/  {evaluation.title}")
        self.stdout.write(
            "In a second terminal, `make play-demo` plays the other devices in the hall of the opening, "
            f"and experts 2–5 in the evaluation session (join it as {VISITOR_EXPERT})."
        )
