"""Ledger rows are never changed or deleted: refused by the ORM, and by PostgreSQL itself."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import DatabaseError, connection, models, transaction
from django.test import RequestFactory

from accounts.models import User
from archive import ledger
from archive.models import AppendOnlyError, LedgerCheckpoint, LedgerEntry, LedgerSubtree

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(clerk: User) -> LedgerEntry:
    ledger.record("tender:1", "tendering.tender.published", {"title": "道路改造"}, clerk)
    return ledger.record("tender:1", "tendering.tender.closed", {}, clerk)


def test_the_orm_refuses_to_save_a_changed_entry(entry: LedgerEntry) -> None:
    entry.data = '{"title":"改过的"}'
    with pytest.raises(AppendOnlyError, match="append-only"):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.save(update_fields=["data"])
    assert LedgerEntry.objects.get(pk=entry.pk).data == "{}"


def test_the_orm_refuses_to_delete_an_entry(entry: LedgerEntry) -> None:
    with pytest.raises(AppendOnlyError, match="cannot be deleted"):
        entry.delete()
    with pytest.raises(AppendOnlyError, match="cannot be deleted"):
        LedgerEntry.objects.filter(seq=1).delete()
    assert LedgerEntry.objects.count() == 2


def test_the_orm_refuses_bulk_changes_and_bulk_appends(entry: LedgerEntry) -> None:
    with pytest.raises(AppendOnlyError, match="cannot be updated"):
        LedgerEntry.objects.update(case="tender:2")
    with pytest.raises(AppendOnlyError, match="cannot be updated"):
        LedgerEntry.objects.bulk_update([entry], ["case"])
    with pytest.raises(AppendOnlyError, match="one at a time"):
        LedgerEntry.objects.bulk_create([LedgerEntry(seq=3)])
    assert set(LedgerEntry.objects.values_list("case", flat=True)) == {"tender:1"}


def test_the_orm_refuses_to_change_or_delete_a_checkpoint(entry: LedgerEntry) -> None:
    checkpoint = ledger.make_checkpoint()
    checkpoint.root_hash = "0" * 64
    with pytest.raises(AppendOnlyError):
        checkpoint.save()
    with pytest.raises(AppendOnlyError):
        checkpoint.delete()
    with pytest.raises(AppendOnlyError):
        LedgerCheckpoint.objects.all().delete()


def test_the_orm_refuses_to_change_or_delete_a_stored_subtree_hash(entry: LedgerEntry) -> None:
    subtree = LedgerSubtree.objects.get()
    assert (subtree.seq, subtree.level) == (2, 1)
    subtree.hash = b"\x00" * 32
    with pytest.raises(AppendOnlyError):
        subtree.save()
    with pytest.raises(AppendOnlyError):
        subtree.delete()
    with pytest.raises(AppendOnlyError):
        LedgerSubtree.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        LedgerSubtree.objects.update(hash=b"\x00" * 32)
    assert ledger.verify_ledger().ok


def test_a_user_named_in_the_ledger_is_protected_from_deletion() -> None:
    assert LedgerEntry._meta.get_field("actor").remote_field.on_delete is models.PROTECT


def test_the_admin_shows_the_ledger_read_only(entry: LedgerEntry, clerk: User) -> None:
    request = RequestFactory().get("/")
    request.user = User(is_superuser=True, is_staff=True, is_active=True)
    for model in (LedgerEntry, LedgerCheckpoint):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request, entry)
        assert not model_admin.has_delete_permission(request, entry)
        assert model_admin.has_view_permission(request)
        assert model_admin.get_actions(request) == {}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only")
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE archive_ledgerentry SET data = '{}' WHERE seq = 1",
        "DELETE FROM archive_ledgerentry WHERE seq = 2",
        "TRUNCATE archive_ledgerentry",
        "UPDATE archive_ledgercheckpoint SET root_hash = repeat('0', 64)",
        "DELETE FROM archive_ledgercheckpoint",
        "TRUNCATE archive_ledgercheckpoint",
        "UPDATE archive_ledgersubtree SET hash = '\\x00'",
        "DELETE FROM archive_ledgersubtree",
        "TRUNCATE archive_ledgersubtree",
    ],
)
def test_postgresql_refuses_raw_sql_that_changes_or_removes_ledger_rows(entry: LedgerEntry, statement: str) -> None:
    ledger.make_checkpoint()
    with connection.cursor() as cursor:
        # The test runner's own flush may truncate; nobody else may.
        cursor.execute("SET LOCAL etender.ledger_allow_truncate = 'off'")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE waits for no deferred check
        with pytest.raises(DatabaseError, match="ledger is append-only"), transaction.atomic():
            cursor.execute(statement)

    assert LedgerEntry.objects.count() == 2
    assert LedgerCheckpoint.objects.count() == 1
    assert LedgerSubtree.objects.count() == 1
    assert ledger.verify_ledger().ok


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only")
def test_postgresql_still_accepts_appends(clerk: User) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'archive_ledger%%' ORDER BY tgname")
        assert [name for (name,) in cursor.fetchall()] == [
            f"archive_ledger{table}_{kind}"
            for table in ("checkpoint", "entry", "subtree")
            for kind in ("no_truncate", "no_update_delete")
        ]
    ledger.record("tender:1", "tendering.tender.published", {}, clerk)
    ledger.record("tender:1", "tendering.tender.closed", {}, clerk)
    assert ledger.verify_ledger().entries_checked == 2
    assert LedgerSubtree.objects.count() == 1
