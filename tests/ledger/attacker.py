"""Raw SQL as an attacker with superuser access to the database would run it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.db import connection

from archive import merkle


@contextlib.contextmanager
def attacker_sql(*tables: str) -> Iterator[Any]:
    """A cursor of someone with superuser access to the database.

    On PostgreSQL they first switch off the append-only trigger (and switch it
    back on, to hide it); SQLite has no trigger to switch off.
    """
    tables = tables or ("archive_ledgerentry",)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Run the test transaction's deferred foreign-key checks now: ALTER TABLE
            # refuses a table with pending trigger events.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        yield cursor
        if connection.vendor == "postgresql":
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def recompute_subtrees(cursor: Any) -> None:
    """What a thorough attacker does after rewriting leaves: store the subtree hashes that fit them.

    Needs ``attacker_sql("archive_ledgerentry", "archive_ledgersubtree")``.
    """
    cursor.execute("SELECT leaf_hash FROM archive_ledgerentry ORDER BY seq")
    accumulator = merkle.RootAccumulator()
    rows = []
    for seq, (leaf,) in enumerate(cursor.fetchall(), start=1):
        rows += [(seq, level, value) for level, value in enumerate(accumulator.append(bytes.fromhex(leaf)), start=1)]
    cursor.execute("DELETE FROM archive_ledgersubtree")
    cursor.executemany("INSERT INTO archive_ledgersubtree (seq, level, hash) VALUES (%s, %s, %s)", rows)
    frontier = b"".join(accumulator.frontier)
    cursor.execute("UPDATE archive_ledgerhead SET frontier = %s", [frontier])
