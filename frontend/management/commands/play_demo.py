from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from frontend.demo import live_demo_opening
from frontend.demo_devices import play
from tendering.models import Tender


class Command(BaseCommand):
    help = (
        "Play the other participants' devices in the demo tender at its opening (frontend/demo_devices.py): "
        "sign-ins, a bidder's key, two custodians' parts, the record's confirmations, over the platform's API."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running platform (make run's)")
        parser.add_argument("--tender", help="the tender's number (default: the live demo opening)")
        parser.add_argument("--pause", type=float, default=3.0, help="seconds between two devices' actions")
        parser.add_argument("--wait", type=float, default=300.0, help="seconds to wait for the worker or a manager")
        parser.add_argument(
            "--everyone", action="store_true", help="play the visitor's parts too (bidder1, custodian1, tenderer)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.ETENDER_ENV == "production":
            raise CommandError("play_demo refuses to run with ETENDER_ENV=production: it acts with the demo's keys.")
        number = options["tender"]
        tender = Tender.objects.filter(number=number).first() if number else live_demo_opening()
        if tender is None:
            raise CommandError("no demo tender at its opening: run `manage.py load_demo` (or `make demo`) first")
        hall = play(
            options["url"].rstrip("/"),
            tender,
            pause=options["pause"],
            everyone=options["everyone"],
            wait=options["wait"],
            say=lambda line: self.stdout.write(line),
        )
        states = ", ".join(f"bid {b['position']}: {b['state']}" for b in hall["bids"])
        self.stdout.write(self.style.SUCCESS(f"Done. {states}"))
