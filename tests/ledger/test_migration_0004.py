"""Migration 0004 fills the subtree hashes of a ledger recorded before it, without changing a ledger row."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from archive import ledger, merkle
from archive.canonical import GENESIS_HASH, format_timestamp, ledger_entry_bytes
from archive.models import LedgerEntry, LedgerHead, LedgerSubtree

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("archive", "0003_checkpoint_timestamp")
AFTER = ("archive", "0004_ledger_subtrees")


def migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.fixture(autouse=True)
def _back_to_the_latest() -> Iterator[None]:
    """Each test stops at 0004: the later migrations of ``archive`` are applied again after it."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes("archive"))


def record_the_old_way(count: int) -> list[str]:
    """Entries and the head row as the code before migration 0004 wrote them (raw SQL: the models are newer)."""
    prev, entry_hashes = GENESIS_HASH, []
    moment = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
    with connection.cursor() as cursor:
        for seq in range(1, count + 1):
            recorded_at = moment + dt.timedelta(seconds=seq)
            content = ledger_entry_bytes(
                seq=seq,
                case="tender:3",
                action="tendering.bid.submitted",
                actor_id=None,
                actor="",
                recorded_at=format_timestamp(recorded_at),
                data={"bid_id": seq},
                prev=prev,
            )
            entry_hash = hashlib.sha256(content).hexdigest()
            cursor.execute(
                'INSERT INTO archive_ledgerentry (seq, "case", action, actor_id, actor_label, data, recorded_at, '
                "prev_hash, entry_hash, leaf_hash) VALUES (%s, %s, %s, NULL, '', %s, %s, %s, %s, %s)",
                [
                    seq,
                    "tender:3",
                    "tendering.bid.submitted",
                    f'{{"bid_id":{seq}}}',
                    recorded_at,
                    prev,
                    entry_hash,
                    merkle.leaf_hash(content).hex(),
                ],
            )
            prev = entry_hash
            entry_hashes.append(entry_hash)
        cursor.execute("INSERT INTO archive_ledgerhead (id, seq, entry_hash) VALUES (1, %s, %s)", [count, prev])
    return entry_hashes


def test_it_fills_the_subtree_hashes_and_the_frontier_of_an_existing_ledger_and_appends_go_on() -> None:
    migrate(BEFORE)
    try:
        entry_hashes = record_the_old_way(11)
    finally:
        migrate(AFTER)
    ledger._head_hints.clear()  # as in a process started after the upgrade

    leaves = [bytes.fromhex(h) for h in LedgerEntry.objects.order_by("seq").values_list("leaf_hash", flat=True)]
    stored = {(s.seq, s.level): bytes(s.hash) for s in LedgerSubtree.objects.all()}
    assert sorted(stored) == [(2, 1), (4, 1), (4, 2), (6, 1), (8, 1), (8, 2), (8, 3), (10, 1)]
    for (seq, level), value in stored.items():
        assert value == merkle.root(leaves[seq - (1 << level) : seq])
    head = LedgerHead.objects.get()
    assert bytes(head.frontier) == merkle.root(leaves[:8]) + merkle.root(leaves[8:10]) + leaves[10]
    assert list(LedgerEntry.objects.order_by("seq").values_list("entry_hash", flat=True)) == entry_hashes
    assert ledger.verify_ledger().ok

    entry = ledger.record("tender:3", "tendering.bid.submitted", {"bid_id": 12}, None)
    leaves.append(bytes.fromhex(entry.leaf_hash))
    assert (entry.seq, entry.prev_hash) == (12, entry_hashes[-1])
    assert bytes(LedgerSubtree.objects.get(seq=12, level=2).hash) == merkle.root(leaves[8:12])
    proof = ledger.inclusion_proof_for(5)
    assert proof["proof"] == [p.hex() for p in merkle.inclusion_proof(4, 12, leaves)]
    assert ledger.verify_ledger().ok


def test_an_empty_ledger_migrates_to_an_empty_store() -> None:
    migrate(BEFORE)
    migrate(AFTER)

    assert not LedgerSubtree.objects.exists()
    assert ledger.record("tender:3", "tendering.tender.published", {}, None).seq == 1
    assert ledger.verify_ledger().ok
