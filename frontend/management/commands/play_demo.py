import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from frontend.demo import live_demo_opening
from frontend.demo_devices import play
from frontend.demo_evaluation import DEMO_EVALUATION_NUMBER
from frontend.demo_session import play_session
from tendering.models import Tender

ROOMS = ("all", "hall", "session")


class Command(BaseCommand):
    help = (
        "Play the other participants' devices in the demo tender at its opening (frontend/demo_devices.py): "
        "sign-ins, a bidder's key, two custodians' parts, the record's confirmations, over the platform's API; "
        "and experts 2–5 of the demo evaluation session (frontend/demo_session.py), while the visitor is expert1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running platform (make run's)")
        parser.add_argument("--room", choices=ROOMS, default="all", help="the opening hall, the session, or both")
        parser.add_argument("--tender", help="the hall's tender number (default: the live demo opening)")
        parser.add_argument("--pause", type=float, default=3.0, help="seconds between two devices' actions")
        parser.add_argument("--wait", type=float, default=300.0, help="seconds to wait for the worker or a manager")
        parser.add_argument(
            "--session-wait", type=float, default=1800.0, help="seconds to wait for the visitor in the session"
        )
        parser.add_argument(
            "--everyone", action="store_true", help="play the visitor's parts too (bidder1, custodian1, tenderer)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.ETENDER_ENV == "production":
            raise CommandError("play_demo refuses to run with ETENDER_ENV=production: it acts with the demo's keys.")
        room = options["room"]
        session_thread = None
        if room in ("all", "session"):
            evaluation_tender = Tender.objects.filter(number=DEMO_EVALUATION_NUMBER).first()
            if evaluation_tender is None:
                raise CommandError("no demo evaluation: run `manage.py load_demo` (or `make demo`) first")
            session_thread = threading.Thread(
                target=self._session, args=(evaluation_tender, options), name="demo-session", daemon=True
            )
            session_thread.start()
        if room in ("all", "hall"):
            self._hall(options, required=room == "hall")
        if session_thread is not None:
            session_thread.join()

    def _session(self, tender: Tender, options: dict[str, Any]) -> None:
        try:
            play_session(
                tender,
                pause=options["pause"],
                wait=options["session_wait"],
                say=lambda line: self.stdout.write(f"[session] {line}"),
            )
        finally:
            connections.close_all()

    def _hall(self, options: dict[str, Any], required: bool) -> None:
        """Play the opening hall; with ``--room hall`` (``required``) a missing demo opening is an error."""
        number = options["tender"]
        tender = Tender.objects.filter(number=number).first() if number else live_demo_opening()
        if tender is None and required:
            raise CommandError(
                "no demo tender at its opening (its decryption window has passed): "
                "run `manage.py load_demo` (or `make demo`) to make one"
            )
        if tender is None:
            self.stdout.write(
                "No demo tender at its opening (its decryption window has passed): `make demo` makes one."
            )
            return
        hall = play(
            options["url"].rstrip("/"),
            tender,
            pause=options["pause"],
            everyone=options["everyone"],
            wait=options["wait"],
            say=lambda line: self.stdout.write(f"[hall] {line}"),
        )
        states = ", ".join(f"bid {b['position']}: {b['state']}" for b in hall["bids"])
        self.stdout.write(self.style.SUCCESS(f"[hall] Done. {states}"))
