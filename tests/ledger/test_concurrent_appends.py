"""Appends from several connections at once stay serialized on the head row, on PostgreSQL for real."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from archive import ledger, merkle
from archive.models import LedgerEntry, LedgerSubtree

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks and one-statement appends: PostgreSQL"),
]


def append(tag: str) -> LedgerEntry:
    return ledger.record("tender:7", "tendering.bid.submitted", {"by": tag}, None)


class Appender(threading.Thread):
    """A second connection: appends when told to, reports what it got."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.jobs: list[Callable[[], Any]] = []
        self.ready = threading.Semaphore(0)
        self.done = threading.Semaphore(0)
        self.results: list[Any] = []
        self.backend_pid = 0

    def run(self) -> None:
        try:
            while True:
                self.ready.acquire()
                job = self.jobs.pop(0)
                if job is None:
                    return
                try:
                    self.results.append(job())
                except BaseException as exc:  # reported by the test
                    self.results.append(exc)
                self.done.release()
        finally:
            connection.close()

    def submit(self, job: Callable[[], Any] | None) -> None:
        self.jobs.append(job)  # type: ignore[arg-type]
        self.ready.release()

    def result(self) -> Any:
        self.done.acquire()
        outcome = self.results.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def wait_until_blocked_on_a_lock(pid: int) -> None:
    """Polls pg_stat_activity (through a connection of its own) until backend ``pid`` waits on a lock."""
    database = settings.DATABASES["default"]
    with psycopg.connect(
        host=database["HOST"],
        port=database["PORT"] or 5432,
        user=database["USER"],
        password=database["PASSWORD"] or None,
        dbname=database["NAME"],
        autocommit=True,
    ) as observer:
        while True:
            row = observer.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
            if row is not None and row[0] == "Lock":
                return
            time.sleep(0.01)  # polling only; the test's own timeout bounds the wait


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


@pytest.fixture
def other() -> Any:
    appender = Appender()
    appender.start()
    appender.submit(backend_pid)
    appender.backend_pid = appender.result()
    yield appender
    appender.submit(None)
    appender.join()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("other_has_appended_before", [False, True], ids=["locks-the-head", "stale-own-head"])
def test_an_append_waits_for_the_transaction_that_holds_the_head_then_follows_its_entry(
    other: Appender, other_has_appended_before: bool
) -> None:
    if other_has_appended_before:
        other.submit(lambda: append("other, before"))
        other.result()  # the other connection now remembers the head it wrote, soon stale
    with transaction.atomic():
        mine = append("mine")
        other.submit(lambda: append("other, while mine is open"))
        wait_until_blocked_on_a_lock(other.backend_pid)
        # It waits on the head row: nothing of it is written while this transaction is open.
        assert list(LedgerEntry.objects.values_list("seq", flat=True)) == list(range(1, mine.seq + 1))
    theirs = other.result()

    assert theirs.seq == mine.seq + 1
    assert theirs.prev_hash == mine.entry_hash
    result = ledger.verify_ledger()
    assert (result.ok, result.entries_checked) == (True, mine.seq + 1)


@pytest.mark.timeout(60)
def test_two_connections_appending_in_turn_form_one_chain_with_every_subtree_hash(other: Appender) -> None:
    for turn in range(9):
        append(f"mine {turn}")  # each append after the other's finds this connection's remembered head stale
        other.submit(lambda turn=turn: append(f"other {turn}"))
        other.result()

    leaves = [bytes.fromhex(h) for h in LedgerEntry.objects.order_by("seq").values_list("leaf_hash", flat=True)]
    assert len(leaves) == 18
    for subtree in LedgerSubtree.objects.all():
        assert bytes(subtree.hash) == merkle.root(leaves[subtree.seq - (1 << subtree.level) : subtree.seq])
    assert LedgerSubtree.objects.count() == 18 - 2  # n minus the number of ones in n's binary digits
    assert ledger.verify_ledger().ok


def test_an_append_outside_a_transaction_is_one_statement_that_commits_by_itself() -> None:
    append("first")  # reads and locks the head: this connection remembers it
    with CaptureQueriesContext(connection) as queries:
        entry = append("second")

    assert [q["sql"].split(" ", 1)[0] for q in queries.captured_queries] == ["WITH"]
    database = settings.DATABASES["default"]
    with psycopg.connect(
        host=database["HOST"],
        port=database["PORT"] or 5432,
        user=database["USER"],
        password=database["PASSWORD"] or None,
        dbname=database["NAME"],
    ) as elsewhere:
        seen = elsewhere.execute("SELECT entry_hash FROM archive_ledgerentry WHERE seq = %s", [entry.seq]).fetchone()
    assert seen == (entry.entry_hash,)
    assert ledger.verify_ledger().ok
