"""The stored subtree hashes: written with each entry, proofs folded from them, checked by the verifier."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from archive import ledger, merkle
from archive.models import LedgerEntry, LedgerHead, LedgerSubtree
from tests.ledger.attacker import attacker_sql

pytestmark = pytest.mark.django_db


def record_many(n: int, actor: User | None = None) -> list[LedgerEntry]:
    return [ledger.record("tender:9", "tendering.question.asked", {"question_id": i}, actor) for i in range(n)]


def stored_leaves() -> list[bytes]:
    return [bytes.fromhex(leaf) for leaf in LedgerEntry.objects.order_by("seq").values_list("leaf_hash", flat=True)]


def test_each_entry_stores_the_subtree_hashes_it_completes_and_the_head_keeps_the_frontier(clerk: User) -> None:
    record_many(13, clerk)
    leaves = stored_leaves()

    stored = {(s.seq, s.level): bytes(s.hash) for s in LedgerSubtree.objects.all()}
    assert sorted(stored) == [(2, 1), (4, 1), (4, 2), (6, 1), (8, 1), (8, 2), (8, 3), (10, 1), (12, 1), (12, 2)]
    for (seq, level), value in stored.items():
        assert value == merkle.root(leaves[seq - (1 << level) : seq])
    frontier = bytes(LedgerHead.objects.get().frontier)
    assert frontier == merkle.root(leaves[:8]) + merkle.root(leaves[8:12]) + leaves[12]


def test_proofs_from_the_database_are_the_rfc_proofs_from_all_the_leaves_byte_for_byte(clerk: User) -> None:
    record_many(21, clerk)
    leaves = stored_leaves()

    for size in range(1, 22):
        for seq in range(1, size + 1):
            proof = ledger.inclusion_proof_for(seq, size)
            assert proof["proof"] == [p.hex() for p in merkle.inclusion_proof(seq - 1, size, leaves)]
            assert (proof["leaf_hash"], proof["root"]) == (leaves[seq - 1].hex(), merkle.root(leaves[:size]).hex())
        for old in range(size + 1):
            consistency = ledger.consistency_proof_between(old, size)
            assert consistency["proof"] == [p.hex() for p in merkle.consistency_proof(old, size, leaves)]
            assert consistency["old_root"] == merkle.root(leaves[:old]).hex()
            assert consistency["new_root"] == merkle.root(leaves[:size]).hex()


def test_a_proof_takes_the_same_three_queries_in_a_tree_of_5_and_of_300_entries(clerk: User) -> None:
    counts = []
    for size in (5, 300):
        record_many(size - ledger.tree_size(), clerk)
        with CaptureQueriesContext(connection) as inclusion:
            ledger.inclusion_proof_for(3)
        with CaptureQueriesContext(connection) as consistency:
            ledger.consistency_proof_between(3, size)
        counts.append((len(inclusion), len(consistency)))
        # No query reads a range of entries: each names the rows it needs.
        for query in [*inclusion.captured_queries, *consistency.captured_queries]:
            assert "BETWEEN" not in query["sql"] and "<=" not in query["sql"]

    assert counts == [(3, 3), (3, 3)]


def test_the_verifier_names_a_changed_subtree_hash(clerk: User) -> None:
    record_many(10, clerk)
    with attacker_sql("archive_ledgersubtree") as cursor:
        cursor.execute("UPDATE archive_ledgersubtree SET hash = %s WHERE seq = 8 AND level = 2", [b"\x07" * 32])

    result = ledger.verify_ledger()
    assert (result.ok, result.first_bad_seq, result.entries_checked) == (False, None, 8)
    assert result.reason == "subtree 5..8: its stored hash does not match entries 5..8 (hashes changed?)"


def test_the_verifier_names_a_missing_subtree_hash_and_a_proof_that_needs_it_is_refused(clerk: User) -> None:
    record_many(10, clerk)
    with attacker_sql("archive_ledgersubtree") as cursor:
        cursor.execute("DELETE FROM archive_ledgersubtree WHERE seq = 4 AND level = 2")

    result = ledger.verify_ledger()
    assert (result.ok, result.entries_checked) == (False, 4)
    assert result.reason == "subtree 1..4: its stored hash is missing (rows deleted?)"
    with pytest.raises(ledger.LedgerError, match=r"the subtree hash of entries 1\.\.4 is missing"):
        ledger.inclusion_proof_for(7, 8)
    assert ledger.inclusion_proof_for(9, 10)["tree_size"] == 10  # proofs that do not need it still work


def test_the_verifier_names_a_subtree_hash_the_tree_does_not_have(clerk: User) -> None:
    record_many(10, clerk)
    with attacker_sql("archive_ledgersubtree") as cursor:
        cursor.execute("INSERT INTO archive_ledgersubtree (seq, level, hash) VALUES (6, 3, %s)", [b"\x07" * 32])

    result = ledger.verify_ledger()
    assert result.reason == "a subtree hash is stored for entry 6 at level 3, which the tree does not have"


def test_the_verifier_names_subtree_hashes_left_after_the_last_entry(clerk: User) -> None:
    record_many(10, clerk)
    with attacker_sql("archive_ledgerentry") as cursor:
        cursor.execute("DELETE FROM archive_ledgerentry WHERE seq >= 9")
    LedgerHead.objects.all().delete()  # the attacker also moved the head back: only the subtrees are left to tell

    result = ledger.verify_ledger()
    assert (result.ok, result.entries_checked) == (False, 8)
    assert result.reason == "a subtree hash is stored for entry 10, after the last entry 8 (entries removed?)"


def test_a_checkpoint_is_refused_when_the_subtree_hashes_disagree_with_the_leaves(clerk: User) -> None:
    record_many(4, clerk)
    with attacker_sql("archive_ledgersubtree") as cursor:
        cursor.execute("UPDATE archive_ledgersubtree SET hash = %s WHERE seq = 4 AND level = 2", [b"\x07" * 32])

    with pytest.raises(ledger.LedgerError, match="subtree hashes do not match the entries"):
        ledger.make_checkpoint()


def test_a_rebuilt_head_takes_its_frontier_from_the_stored_subtrees(clerk: User) -> None:
    record_many(7, clerk)
    LedgerHead.objects.all().delete()
    ledger._head_hints.clear()  # as in a new process

    assert ledger.record("tender:9", "tendering.question.asked", {"question_id": 7}, clerk).seq == 8
    leaves = stored_leaves()
    assert bytes(LedgerHead.objects.get().frontier) == merkle.root(leaves)
    assert bytes(LedgerSubtree.objects.get(seq=8, level=3).hash) == merkle.root(leaves)
    assert ledger.verify_ledger().ok


def test_an_append_from_a_head_this_connection_no_longer_holds_writes_nothing_and_goes_by_the_locked_head(
    clerk: User,
) -> None:
    record_many(5, clerk)
    real = ledger._head_hints[transaction.get_connection()]
    for wrong in [
        ledger._Head(real.seq, "ab" * 32, real.frontier),  # same number, another entry (one that rolled back)
        ledger._Head(real.seq - 1, real.entry_hash, real.frontier[:1]),
        ledger._Head(real.seq + 3, real.entry_hash, real.frontier[:1]),
    ]:
        ledger._head_hints[transaction.get_connection()] = wrong
        entry = ledger.record("tender:9", "tendering.question.asked", {"question_id": 99}, clerk)
        assert entry.prev_hash == LedgerEntry.objects.get(seq=entry.seq - 1).entry_hash

    assert ledger.tree_size() == 8
    result = ledger.verify_ledger()
    assert (result.ok, result.entries_checked) == (True, 8)


def test_an_entry_rolled_back_leaves_a_hint_that_is_not_followed(clerk: User) -> None:
    record_many(3, clerk)
    with pytest.raises(RuntimeError), transaction.atomic():
        ledger.record("tender:9", "tendering.bid.submitted", {"bid_id": 1}, clerk)
        raise RuntimeError("the change the entry recorded failed")

    assert ledger.record("tender:9", "tendering.bid.submitted", {"bid_id": 2}, clerk).seq == 4
    assert not LedgerSubtree.objects.filter(seq=4, level=2).exclude(hash=merkle.root(stored_leaves())).exists()
    assert ledger.verify_ledger().ok
