"""Someone with direct database access changes the ledger: the verifier names the row."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from archive import ledger, merkle
from archive.models import LedgerEntry, LedgerHead
from tests.ledger.attacker import attacker_sql

pytestmark = pytest.mark.django_db


@pytest.fixture
def ten_entries(clerk: User) -> list[LedgerEntry]:
    return [
        ledger.record("tender:1", "tendering.bid.submitted", {"bid_id": i, "price": f"{1000 + i}.00"}, clerk)
        for i in range(1, 11)
    ]


def assert_verifier_names(seq: int, reason: str) -> None:
    result = ledger.verify_ledger(chunk_size=3)
    assert not result.ok
    assert result.first_bad_seq == seq
    assert result.reason.startswith(f"entry {seq}: ")
    assert reason in result.reason
    assert result.entries_checked == seq - 1
    with pytest.raises(CommandError, match=f"entry {seq}: "):
        call_command("verify_ledger")


def test_an_untouched_ledger_passes_the_command(ten_entries: list[LedgerEntry]) -> None:
    out = io.StringIO()
    call_command("verify_ledger", stdout=out)
    assert out.getvalue() == f"ledger OK: 10 entries, root {ledger.verify_ledger().root}\n"


def test_it_names_the_entry_whose_data_was_changed(ten_entries: list[LedgerEntry]) -> None:
    with attacker_sql() as cursor:
        cursor.execute("UPDATE archive_ledgerentry SET data = %s WHERE seq = 7", ['{"bid_id":7,"price":"1.00"}'])

    assert_verifier_names(7, "entry_hash does not match its contents (data changed?)")


def test_it_names_the_entry_whose_data_was_changed_into_non_canonical_json(ten_entries: list[LedgerEntry]) -> None:
    with attacker_sql() as cursor:
        cursor.execute("UPDATE archive_ledgerentry SET data = %s WHERE seq = 4", ['{"price": "1004.00", "bid_id": 4}'])

    assert_verifier_names(4, "data is not in canonical form")


def test_it_names_the_entry_whose_data_was_changed_with_its_hashes_recomputed(ten_entries: list[LedgerEntry]) -> None:
    forged = LedgerEntry.objects.get(seq=5)
    forged.data = '{"bid_id":5,"price":"1.00"}'
    content = ledger.entry_bytes(forged)
    with attacker_sql() as cursor:
        cursor.execute(
            "UPDATE archive_ledgerentry SET data = %s, entry_hash = %s, leaf_hash = %s WHERE seq = 5",
            [forged.data, hashlib.sha256(content).hexdigest(), merkle.leaf_hash(content).hex()],
        )

    # The next entry still names the old hash.
    assert_verifier_names(6, "prev_hash does not match entry 5's entry_hash")


def test_it_names_the_entry_whose_actor_or_time_was_changed(ten_entries: list[LedgerEntry]) -> None:
    with attacker_sql() as cursor:
        cursor.execute("UPDATE archive_ledgerentry SET actor_label = 'someone_else' WHERE seq = 2")

    assert_verifier_names(2, "entry_hash does not match its contents")


def test_it_names_a_deleted_entry(ten_entries: list[LedgerEntry]) -> None:
    with attacker_sql() as cursor:
        cursor.execute("DELETE FROM archive_ledgerentry WHERE seq = 5")

    assert_verifier_names(5, "missing (the next entry is 6; rows deleted?)")


def test_it_notices_deleted_entries_at_the_end_through_the_head_pointer(ten_entries: list[LedgerEntry]) -> None:
    with attacker_sql() as cursor:
        cursor.execute("DELETE FROM archive_ledgerentry WHERE seq >= 9")

    result = ledger.verify_ledger()
    assert (result.ok, result.first_bad_seq, result.entries_checked) == (False, 9, 8)
    assert "head pointer is at entry 10 but only 8 entries remain" in result.reason


def test_it_names_the_first_of_two_swapped_entries(ten_entries: list[LedgerEntry]) -> None:
    with attacker_sql() as cursor:
        cursor.execute("UPDATE archive_ledgerentry SET seq = 1000 WHERE seq = 3")
        cursor.execute("UPDATE archive_ledgerentry SET seq = 3 WHERE seq = 4")
        cursor.execute("UPDATE archive_ledgerentry SET seq = 4 WHERE seq = 1000")

    assert_verifier_names(3, "prev_hash does not match entry 2's entry_hash")


def test_it_names_the_first_of_two_entries_whose_data_was_swapped(ten_entries: list[LedgerEntry]) -> None:
    with attacker_sql() as cursor:
        cursor.execute("UPDATE archive_ledgerentry SET data = %s WHERE seq = 8", [ten_entries[2].data])
        cursor.execute("UPDATE archive_ledgerentry SET data = %s WHERE seq = 3", [ten_entries[7].data])

    assert_verifier_names(3, "entry_hash does not match its contents")


def test_it_does_not_trust_the_head_pointer(ten_entries: list[LedgerEntry]) -> None:
    LedgerHead.objects.update(seq=0, entry_hash="0" * 64)
    with attacker_sql() as cursor:
        cursor.execute("UPDATE archive_ledgerentry SET data = '{}' WHERE seq = 10")

    result = ledger.verify_ledger()
    assert (result.ok, result.first_bad_seq) == (False, 10)


def test_it_names_an_entry_holding_a_float_the_ledger_never_writes(ten_entries: list[LedgerEntry]) -> None:
    with attacker_sql() as cursor:
        cursor.execute("UPDATE archive_ledgerentry SET data = %s WHERE seq = 1", ['{"bid_id":1,"price":1.5}'])

    assert_verifier_names(1, "data holds a value the ledger never writes")


def test_it_names_the_entry_whose_leaf_hash_alone_was_changed(ten_entries: list[LedgerEntry]) -> None:
    # No checkpoint covers the entries: only recomputing the leaf from the entry notices it.
    forged_leaf = merkle.leaf_hash(b"an entry that was never recorded").hex()
    with attacker_sql() as cursor:
        cursor.execute("UPDATE archive_ledgerentry SET leaf_hash = %s WHERE seq = 6", [forged_leaf])

    assert_verifier_names(6, "leaf_hash does not match its contents")


def test_the_root_it_reports_follows_from_the_entries_contents(ten_entries: list[LedgerEntry]) -> None:
    accumulator = merkle.RootAccumulator()
    for entry in LedgerEntry.objects.order_by("seq"):
        accumulator.append(merkle.leaf_hash(ledger.entry_bytes(entry)))

    assert ledger.verify_ledger().root == accumulator.root().hex()
