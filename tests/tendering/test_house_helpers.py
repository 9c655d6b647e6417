"""The house rules of tendering's services, each written once: row locks in one order
(``tendering.services.locks``), work queued after commit (``tendering.services.after_commit``),
and no import circle among the services, none of which imports the worker's code."""

from __future__ import annotations

import ast
import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from tendering.models import BidOpening, Opening, Tender
from tendering.services.after_commit import Work, enqueue_after_commit, task_for
from tendering.services.locks import LOCK_ORDER, LockOrderError, LockOutsideTransaction, lock, lock_one

ROOT = Path(__file__).resolve().parents[2]


def _try_lock_elsewhere(tender_pk: int) -> str:
    """From another connection (another thread), try to lock the tender's row without waiting."""
    outcome: list[str] = []

    def attempt() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT id FROM tendering_tender WHERE id = %s FOR UPDATE NOWAIT", [tender_pk])
                outcome.append("locked")
        except OperationalError:
            outcome.append("busy")
        finally:
            connections.close_all()

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join()
    return outcome[0]


# --- locks ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_lock_asked_for_outside_a_transaction_is_refused_and_runs_no_query(draft_tender: Tender) -> None:
    assert not connection.in_atomic_block
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(LockOutsideTransaction, match="outside a transaction"),
    ):
        lock_one(Tender.objects.filter(pk=draft_tender.pk))
    assert len(queries) == 0
    assert _try_lock_elsewhere(draft_tender.pk) == "locked"


@pytest.mark.django_db(transaction=True)
def test_a_locked_row_is_held_for_update_of_its_own_table_until_the_commit(draft_tender: Tender) -> None:
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            locked = lock(Tender.objects.select_related("tenderer").filter(pk=draft_tender.pk))
        assert [t.pk for t in locked] == [draft_tender.pk]
        sql = queries.captured_queries[-1]["sql"]
        assert 'FOR UPDATE OF "tendering_tender"' in sql
        assert 'ORDER BY "tendering_tender"."id" ASC' in sql
        assert _try_lock_elsewhere(draft_tender.pk) == "busy"
    assert _try_lock_elsewhere(draft_tender.pk) == "locked"


@pytest.mark.django_db
def test_locking_a_model_that_comes_earlier_in_the_order_than_one_already_locked_is_refused() -> None:
    assert LOCK_ORDER.index(Tender) < LOCK_ORDER.index(Opening) < LOCK_ORDER.index(BidOpening)
    with transaction.atomic():
        lock(Tender.objects.filter(pk=-1))
        lock(Opening.objects.filter(pk=-1))
        lock(BidOpening.objects.filter(pk=-1))
        lock(BidOpening.objects.filter(pk=-2))  # the same model again is in order
        with pytest.raises(LockOrderError, match="Opening locked after BidOpening") as refused:
            lock(Opening.objects.filter(pk=-1))
        assert "Tender → Question → BidUpload → Bid → Opening → BidOpening" in str(refused.value)
        with pytest.raises(LockOrderError):
            lock(Tender.objects.filter(pk=-1))


@pytest.mark.django_db
def test_the_order_starts_again_in_every_transaction_and_after_a_savepoint_rolled_back() -> None:
    with transaction.atomic():
        lock(BidOpening.objects.filter(pk=-1))
    with transaction.atomic():
        lock(Tender.objects.filter(pk=-1))  # a new transaction: nothing held
    with transaction.atomic():
        lock(Tender.objects.filter(pk=-1))
        try:
            with transaction.atomic():
                lock(BidOpening.objects.filter(pk=-1))
                raise RuntimeError("roll the savepoint back")
        except RuntimeError:
            pass
        lock(Opening.objects.filter(pk=-1))  # the rolled-back savepoint released its BidOpening locks


@pytest.mark.django_db
def test_a_model_outside_the_lock_order_cannot_be_locked_here() -> None:
    with (
        transaction.atomic(),
        pytest.raises(LockOrderError, match=r"User is not in tendering\.services\.locks\.LOCK_ORDER"),
    ):
        lock(User.objects.filter(pk=-1))


def test_no_service_locks_rows_but_through_the_lock_helper() -> None:
    found = {
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "tendering").rglob("*.py"))
        if path.name != "locks.py" and "migrations" not in path.parts
        if ".select_for_update(" in path.read_text()
    }
    assert found == set()


# --- work queued after commit -----------------------------------------------------------------------------


def _queued(work: Work) -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=work.value))


@pytest.mark.django_db(transaction=True)
def test_queued_work_reaches_the_queue_only_once_the_transaction_commits() -> None:
    with transaction.atomic():
        enqueue_after_commit(Work.FILE_OPENING_RECORD, 4242)
        assert _queued(Work.FILE_OPENING_RECORD) == []
    queued = _queued(Work.FILE_OPENING_RECORD)
    assert [q.args_kwargs["args"] for q in queued] == [[4242]]


@pytest.mark.django_db(transaction=True)
def test_queued_work_is_dropped_when_the_transaction_rolls_back() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_after_commit(Work.DECRYPT_BID, 77)
        raise RuntimeError("roll back")
    assert _queued(Work.DECRYPT_BID) == []


@pytest.mark.django_db(transaction=True)
def test_a_delay_counts_from_the_commit_on_the_queues_clock() -> None:
    with transaction.atomic():
        enqueue_after_commit(Work.WATCH_OPENING, 9, delay=dt.timedelta(minutes=5))
        committing = timezone.now()
    (queued,) = _queued(Work.WATCH_OPENING)
    assert queued.run_after >= committing + dt.timedelta(minutes=5)
    with pytest.raises(ValueError, match="not both"):
        enqueue_after_commit(Work.WATCH_OPENING, 9, delay=dt.timedelta(1), run_after=timezone.now())


def test_every_queued_work_names_a_task_of_the_worker_and_every_task_is_named() -> None:
    import tendering.tasks

    tasks = {name for name, value in vars(tendering.tasks).items() if isinstance(value, Task)}
    for work in Work:
        task = task_for(work)
        assert isinstance(task, Task)
        assert task.module_path == work.value
    assert {work.value.rsplit(".", 1)[1] for work in Work} == tasks


# --- no import circles ----------------------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Every module of ``modules`` that ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def _graph(package: str) -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in (ROOT / package.replace(".", "/")).rglob("*.py")}
    modules = set(paths) | {"tendering.tasks"}
    return {name: _imports(path, modules) - {name} for name, path in paths.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_the_services_import_one_another_without_a_circle_and_never_the_workers_code() -> None:
    graph = _graph("tendering.services")
    assert "tendering.services.opening.admission" in graph
    assert _cycles(graph) == []
    assert [name for name, targets in graph.items() if "tendering.tasks" in targets] == []


def test_the_worker_imports_only_what_it_runs_and_nothing_imports_it_back() -> None:
    graph: dict[str, Any] = _graph("tendering")
    assert {"tendering.services.decryption", "tendering.services.opening_record"} <= graph["tendering.tasks"]
    assert [name for name, targets in graph.items() if "tendering.tasks" in targets] == []


# --- the tender this user may see -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_one_tender_lookup_tells_nobody_that_a_draft_exists(personas: Any, draft_tender: Tender) -> None:
    from django.contrib.auth.models import AnonymousUser

    from accounts.errors import NotFound
    from tendering.permissions import visible_tender

    assert visible_tender(personas.tenderer, draft_tender.public_id) == draft_tender
    assert visible_tender(personas.regulator, str(draft_tender.public_id)) == draft_tender
    for outsider in (AnonymousUser(), personas.bidder_a, personas.other_tenderer):
        with pytest.raises(NotFound) as refused:
            visible_tender(outsider, draft_tender.public_id)
        assert refused.value.status == 404
    with pytest.raises(NotFound):
        visible_tender(personas.tenderer, draft_tender.public_id, published=True)  # the hall: published only
    for not_an_id in ("x", "", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(NotFound):
            visible_tender(personas.tenderer, not_an_id)
    Tender.objects.filter(pk=draft_tender.pk).update(published_at=timezone.now())
    assert visible_tender(AnonymousUser(), draft_tender.public_id, published=True) == draft_tender
