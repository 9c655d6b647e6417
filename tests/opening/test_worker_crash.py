"""A whole opening decrypted by the real worker: a ``manage.py db_worker`` process of its own, frozen and
killed in the middle of a bid, and a new worker that takes the bid over once its lease expires.

The worker shares this test's database, object store and PKI (so the platform data key); both processes
read the system clock shifted by the same offset, which puts "now" just after the opening time. Moving
time on for the whole platform means restarting the worker with a new offset, as a demo would.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import F

from accounts.models import User
from archive.ledger import verify_ledger
from archive.models import LedgerEntry
from archive.pdf import verify_pdf_signature
from archive.signing import platform_signer
from archive.storage import get_object_store
from config import clock
from tendering.models import BidOpening, BidOpeningState, KeySource, Opening, OpeningEvent, Phase, Tender
from tendering.sealing import LotPrice, PriceSummary
from tendering.services import decryption, opened_files
from tendering.services.opening import admission, conclusion, confirmations, custodian_parts
from tendering.services.opening import keys as keys_service
from tests.bids.conftest import keys_for, seal, submit
from tests.fixtures.personas import Personas
from tests.opening.conftest import Entry, OpeningCase

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

MiB = 1024 * 1024
# Large enough that a decryption renews its lease several times (every 8 MiB read): the test sees a
# bid part-way through and stops the worker there.
BID_BYTES = 32 * MiB
LEASE_SECONDS = 5
PRICES = ["6123456.70", "5980000.00", "6050000.50"]
WAIT_SECONDS = 120


@pytest.fixture
def large_bids(
    personas: Personas, published_tender: Tender, frozen_clock: Any, tmp_path: Path, third_bidder: User
) -> OpeningCase:
    entries = []
    for number, (user, price) in enumerate(
        zip([personas.bidder_a, personas.bidder_b, third_bidder], PRICES, strict=True), start=1
    ):
        frozen_clock.advance(minutes=1)
        keys = keys_for(user)
        sealed = seal(published_tender, keys, tmp_path / f"bidder{number}", price=price, content=os.urandom(BID_BYTES))
        entries.append(Entry(keys, sealed, submit(user, published_tender, sealed)))
    return OpeningCase(published_tender, personas, entries, frozen_clock)


# --- the worker process --------------------------------------------------------------------------------------


def database_url() -> str:
    """This test's database (pytest-django's test database, not the configured one), as the worker reads it."""
    db = connection.settings_dict
    options = urlencode({k: v for k, v in (db.get("OPTIONS") or {}).items() if isinstance(v, (str, int))})
    query = f"?{options}" if options else ""
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}{query}"
    assert connection.vendor == "postgresql", connection.vendor
    credentials = quote(db["USER"] or "", safe="") + (":" + quote(db["PASSWORD"], safe="") if db["PASSWORD"] else "")
    host = (f"{credentials}@" if credentials else "") + (db["HOST"] or "") + (f":{db['PORT']}" if db["PORT"] else "")
    return f"postgres://{host}/{quote(db['NAME'], safe='')}{query}"


class Workers:
    """``manage.py db_worker`` processes started by this test; each logs to a file of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[subprocess.Popen[bytes]] = []
        # The worker derives its PKI folder (so the platform data key) from ETENDER_VAR_DIR: VAR_DIR/pki.
        pki = Path(settings.DEVELOPMENT_PKI_DIR)
        assert pki.name == "pki", pki
        self.env = {
            **os.environ,
            "ETENDER_ENV": "test",
            "ETENDER_VAR_DIR": str(pki.parent),
            "DATABASE_URL": database_url(),
            "S3_ENDPOINT": "",
            "OBJECT_STORE_ROOT": str(settings.OBJECT_STORE_ROOT),
            "OPENING_LEASE_SECONDS": str(LEASE_SECONDS),
            # The lease is renewed every 8 MiB (not only once a second): the test catches a bid part-way.
            "OPENING_PROGRESS_SECONDS": "0",
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, clock_offset: int) -> subprocess.Popen[bytes]:
        log = (self.folder / f"worker-{len(self.started) + 1}.log").open("wb")
        with log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "db_worker",
                    "--queue-name",
                    "*",
                    "--interval",
                    "0.2",
                    "--no-reload",
                    "--no-startup-delay",
                ],
                cwd=settings.BASE_DIR,
                env={**self.env, "ETENDER_CLOCK_OFFSET_SECONDS": str(clock_offset)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.started.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- worker {n} (exit {p.poll()}) ---\n"
            f"{(self.folder / f'worker-{n}.log').read_text(errors='replace')[-4000:]}"
            for n, p in enumerate(self.started, start=1)
        )

    def wait_for(self, what: str, condition: Callable[[], Any], *, pause: float = 0.05) -> Any:
        """Poll until ``condition`` returns something true; fail at once if a worker died on its own."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found
            for process in self.started:
                returncode = process.poll()
                assert returncode is None or returncode in (-signal.SIGKILL, 0), (
                    f"a worker stopped by itself\n{self.logs()}"
                )
            time.sleep(pause)
        raise AssertionError(f"waited {WAIT_SECONDS} s for {what}\n{self.logs()}")

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """A graceful stop (as a deployment restarts the worker): it ends its task, then exits."""
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, self.logs()

    def kill_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)


@pytest.fixture
def workers(tmp_path: Path) -> Any:
    started = Workers(tmp_path)
    try:
        yield started
    finally:
        # Before the test database is flushed: a worker left running would hold it.
        started.kill_all()


# --- reading what was filed ----------------------------------------------------------------------------------


def bid_openings(case: OpeningCase) -> list[BidOpening]:
    return list(BidOpening.objects.filter(opening__tender=case.tender).select_related("bid").order_by("position"))


def ledger(case: OpeningCase, action: str) -> list[dict[str, Any]]:
    return [
        json.loads(e.data) for e in LedgerEntry.objects.filter(case=case.tender.case, action=action).order_by("seq")
    ]


def read_sha256(bid_opening: BidOpening) -> str:
    """The bid's file read as the evaluation will, straight out of the accepted ciphertext by the index, hashed."""
    digest = hashlib.sha256()
    for chunk in opened_files.stream_bid_file(bid_opening, bid_opening.files[0]["path"]):
        digest.update(chunk)
    return digest.hexdigest()


def refused(code: str, action: Callable[[], Any]) -> None:
    with pytest.raises(Exception) as caught:
        action()
    assert getattr(caught.value, "code", "") == code, caught.value


# --- the test --------------------------------------------------------------------------------------------------


def test_a_worker_killed_mid_bid_is_replaced_and_the_opening_ends_with_an_exact_record(
    large_bids: OpeningCase, workers: Workers, settings: Any
) -> None:
    case = large_bids
    a, b, c = case.entries
    tenderer = case.personas.tenderer
    # From here both processes read the system clock, shifted to just after the opening time.
    offset = math.ceil((case.tender.opening_time + dt.timedelta(minutes=1) - dt.datetime.now(dt.UTC)).total_seconds())
    settings.OPENING_LEASE_SECONDS = LEASE_SECONDS
    with clock.use_clock(clock.system_now):
        settings.CLOCK_OFFSET_SECONDS = offset
        op = admission.ensure_opening(case.tender)
        for person in (tenderer, case.personas.regulator, a.user, b.user, c.user, *case.custodians):
            admission.sign_in(person, case.tender)

        # Bidders A and B release their keys; C never does, so the decryption may not be concluded yet.
        keys_service.release_key(a.user, case.tender, a.bid.public_id, a.file_key())
        keys_service.release_key(b.user, case.tender, b.bid.public_id, b.file_key())
        refused("decryption_window_open", lambda: conclusion.conclude_decryption(tenderer, case.tender))
        # Custodians 1 and 3 reach the threshold for C's bid; custodian 2 submits nothing.
        custodian_parts.submit_custodian_parts(case.custodians[0], case.tender, case.parts_of(0))
        custodian_parts.submit_custodian_parts(case.custodians[2], case.tender, case.parts_of(2))
        assert [x.key_source for x in bid_openings(case)] == [KeySource.BIDDER, KeySource.BIDDER, KeySource.CUSTODIANS]

        # The first worker is caught part-way through a bid, frozen there, then killed.
        first = workers.start(offset)
        mid_bid = BidOpening.objects.filter(
            opening=op, state=BidOpeningState.DECRYPTING, progress_bytes__gt=0, progress_bytes__lt=F("bid__size")
        ).select_related("bid")

        def frozen_mid_bid() -> BidOpening | None:
            if not mid_bid.exists():
                return None
            first.send_signal(signal.SIGSTOP)
            # Read again once it stands still: what it is killed in the middle of.
            caught = mid_bid.first()
            if caught is None:
                first.send_signal(signal.SIGCONT)  # it finished the bid between the look and the stop
            return caught

        try:
            killed = workers.wait_for("a bid part-way decrypted", frozen_mid_bid, pause=0.002)
            assert killed.lease_owner and killed.lease_until is not None and killed.attempts == 1
            assert 0 < killed.progress_bytes < killed.bid.size
        finally:
            first.kill()
        assert first.wait(timeout=30) == -signal.SIGKILL

        # Its lease still runs: nobody takes the bid over yet. Every key is in, so the decryption is concluded at once.
        killed_pk = killed.pk
        assert killed_pk not in decryption.stalled(op)
        conclusion.conclude_decryption(tenderer, case.tender)
        op.refresh_from_db()
        assert op.decryption_concluded_at is not None and op.record_published_at is None

        # A new worker; once the dead one's lease has expired, the watch's check queues the bid again.
        second = workers.start(offset)
        lease_until = killed.lease_until
        workers.wait_for("the dead worker's lease to expire", lambda: clock.now() > lease_until, pause=0.1)
        assert killed_pk in decryption.stalled(op)
        assert decryption.resume_stalled(op) >= 1
        workers.wait_for(
            "the record to be published",
            lambda: Opening.objects.filter(pk=op.pk, record_published_at__isnull=False).exists(),
        )
        op.refresh_from_db()
        assert [x.state for x in bid_openings(case)] == [BidOpeningState.OPENED] * 3

        # A and B confirm; C objects and is answered, but never confirms.
        confirmations.confirm_record(a.user, case.tender)
        confirmations.confirm_record(b.user, case.tender)
        objection = confirmations.raise_objection(c.user, case.tender, "第 1 标段报价应为 6050000.50 元，请核对。")
        refused("objections_unanswered", lambda: conclusion.close_opening(tenderer, case.tender))
        confirmations.answer_objection(
            tenderer, case.tender, objection.pk, "经核对，开标记录中的报价为 6050000.50 元，记录无误。"
        )
        refused("confirmation_open", lambda: conclusion.close_opening(tenderer, case.tender))

        # The confirmation window passes for the whole platform: the worker restarts on the moved clock.
        workers.stop(second)
        assert op.confirmation_ends_at is not None
        offset += math.ceil((op.confirmation_ends_at - clock.now()).total_seconds()) + 1
        settings.CLOCK_OFFSET_SECONDS = offset
        assert clock.now() > op.confirmation_ends_at
        workers.start(offset)
        conclusion.close_opening(tenderer, case.tender)
        workers.wait_for(
            "the record to be filed", lambda: Opening.objects.filter(pk=op.pk).exclude(record_sha256="").exists()
        )
        case.tender.refresh_from_db()
        assert case.tender.phase(clock.now()) == Phase.EVALUATION
    op.refresh_from_db()

    # Every bid opened once, from the key it had; only the killed one took a second attempt.
    found = bid_openings(case)
    assert [x.state for x in found] == [BidOpeningState.OPENED] * 3
    assert [x.key_source for x in found] == [KeySource.BIDDER, KeySource.BIDDER, KeySource.CUSTODIANS]
    assert [x.attempts for x in found] == [2 if x.pk == killed_pk else 1 for x in found]
    assert [(x.confirmed_at is not None, x.confirmed_by_default) for x in found] == [
        (True, False),
        (True, False),
        (True, True),
    ]
    for entry, price, bo in zip(case.entries, PRICES, found, strict=True):
        org = entry.user.organization
        assert org is not None
        sealed_summary = PriceSummary(
            str(case.tender.public_id), entry.sealed.bid_id, org.credit_code, (LotPrice("1", price, 180),)
        )
        assert bo.price_summary == sealed_summary.to_json()
        plaintext_sha256 = hashlib.sha256(entry.sealed.plaintext).hexdigest()
        assert [(f["size"], f["sha256"]) for f in bo.files] == [(BID_BYTES, plaintext_sha256)]
        assert bo.progress_bytes == bo.bid.size and not bo.lease_owner
        # Read back through the index (the killed bid's built again from the start): exactly the bid's file.
        assert read_sha256(bo) == plaintext_sha256

    # The ledger: one opening per bid, one resumption, the filed record.
    opened = collections.Counter(e["bid_id"] for e in ledger(case, "tendering.opening.bid_opened"))
    assert opened == {str(x.bid.public_id): 1 for x in found}
    killed = next(x for x in found if x.pk == killed_pk)
    assert ledger(case, "tendering.opening.decryption_resumed") == [{"bid_id": str(killed.bid.public_id), "attempt": 2}]

    # The signed PDF covers the whole file, and its digest is the one the opening and the ledger hold.
    with get_object_store().open(op.record_object_key, op.record_version_id or None) as stored:
        pdf = stored.read()
    report = verify_pdf_signature(pdf, platform_signer().trust_anchors)
    assert report.valid and report.covers_whole_document and report.timestamp_valid, report.problem
    filed = ledger(case, "tendering.opening.record_filed")
    assert hashlib.sha256(pdf).hexdigest() == op.record_sha256 == filed[0]["sha256"] and len(filed) == 1
    assert verify_ledger().ok
    seqs = list(OpeningEvent.objects.filter(opening=op).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, op.last_seq + 1))
