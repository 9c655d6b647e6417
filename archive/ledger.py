"""The append-only ledger (账本): record events, prove them, sign checkpoints, verify.

Every event of significance is one entry, appended by ``record`` inside the
transaction of the change it records. Entries are chained (each names the hash
of the one before it) and are the leaves of an RFC 9162 Merkle tree whose root
the platform signs in checkpoints; the hashes of the tree's perfect subtrees are
stored as entries complete them, so that proofs take O(log n). ``verify_ledger``
recomputes all of it from the stored columns. docs/ledger.md describes the formats.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import operator
import re
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import reduce
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Max, Q, QuerySet

from archive import merkle, timestamps
from archive.canonical import (
    GENESIS_HASH,
    canonical_json,
    checkpoint_body,
    format_timestamp,
    ledger_entry_bytes,
    ledger_entry_bytes_with_data_json,
)
from archive.models import LedgerCheckpoint, LedgerEntry, LedgerHead, LedgerSubtree
from archive.signing import (
    certificate_fingerprint,
    is_issued_by,
    load_certificate,
    platform_signer,
    verify_with_certificate,
)
from config import clock

ACTION_PATTERN = re.compile(r"[a-z]+(\.[a-z_]+)+")
ACTION_MAX_LENGTH = 100
CASE_MAX_LENGTH = 100
CHUNK_SIZE = 2000
_HEX64 = re.compile(r"[0-9a-f]{64}")


class LedgerError(Exception):
    """The stored ledger is not what it should be (run ``manage.py verify_ledger``)."""


# --- Appending -----------------------------------------------------------------


def record(case: str, action: str, data: Mapping[str, Any], actor: Any) -> LedgerEntry:
    """Append one entry: ``case`` like ``tender:42``, ``action`` like ``tendering.bid.submitted``.

    Joins the caller's transaction, so the entry commits or rolls back with the
    change it records. ``actor`` is the user who acted, or None for the platform.
    Refuses (before touching the database) a malformed case or action and data
    the ledger does not accept (see ``archive.canonical``).

    The entry, the subtree hashes it completes and the new head are written by
    one statement on PostgreSQL, conditional on the head still being what this
    connection last wrote (the usual case for a busy writer); otherwise the head
    row is locked and read first. Either way the head row's lock serializes
    appends until the transaction ends (docs/ledger.md §1). Called outside a
    transaction on PostgreSQL, that one statement is the whole transaction.
    """
    _check_case(case)
    _check_action(action)
    if not isinstance(data, Mapping):
        raise TypeError(f"data must be a mapping (a JSON object), not {type(data).__name__}")
    data_json = canonical_json(data)
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) and actor.pk is not None else None
    fields = {
        "case": case,
        "action": action,
        "actor": user,
        "actor_label": user.get_username() if user is not None else "",
        "data": data_json.decode("utf-8"),
    }

    connection = transaction.get_connection()
    hint = _head_hints.get(connection)
    if hint is not None and connection.vendor == "postgresql" and not connection.in_atomic_block:
        # Outside a transaction, the one statement is a transaction of its own: no BEGIN, no COMMIT to wait for.
        appended = _append(connection, hint, fields, data_json)
        if appended is not None:
            _head_hints[connection] = appended[1]
            return appended[0]
        hint = None
    # No savepoint of its own: an append is one statement, and if it fails the caller's transaction fails with it.
    with transaction.atomic(savepoint=False):
        appended = _append(connection, hint, fields, data_json) if hint is not None else None
        if appended is None:
            appended = _append(connection, _lock_head(), fields, data_json)
        if appended is None:
            raise LedgerError("the ledger head changed while this transaction held its lock")
        entry, head = appended
        _head_hints[connection] = head
    return entry


@dataclass(frozen=True)
class _Head:
    """What the head row holds: the last entry's number and hash, and the tree's frontier."""

    seq: int
    entry_hash: str
    frontier: tuple[bytes, ...]


# The head as each connection last wrote it: a guess that saves reading (and locking) the head row first.
# Only ever a guess: an append made from it is conditional on the head row still holding exactly it.
_head_hints: weakref.WeakKeyDictionary[BaseDatabaseWrapper, _Head] = weakref.WeakKeyDictionary()


def _append(
    connection: BaseDatabaseWrapper, head: _Head, fields: dict[str, Any], data_json: bytes
) -> tuple[LedgerEntry, _Head] | None:
    """Writes the entry that follows ``head`` if the head row still holds ``head``; None (nothing written) if not."""
    seq = head.seq + 1
    recorded_at = clock.now()
    if recorded_at.tzinfo is None:
        raise ValueError("the clock returned a naive datetime")
    recorded_at = recorded_at.astimezone(dt.UTC)
    user = fields["actor"]
    content = ledger_entry_bytes_with_data_json(
        seq=seq,
        case=fields["case"],
        action=fields["action"],
        actor_id=user.pk if user is not None else None,
        actor=fields["actor_label"],
        recorded_at=format_timestamp(recorded_at),
        data_json=data_json,
        prev=head.entry_hash,
    )
    leaf = merkle.leaf_hash(content)
    accumulator = merkle.RootAccumulator.resume(head.seq, head.frontier)
    completed = accumulator.append(leaf)
    entry = LedgerEntry(
        seq=seq,
        recorded_at=recorded_at,
        prev_hash=head.entry_hash,
        entry_hash=hashlib.sha256(content).hexdigest(),
        leaf_hash=leaf.hex(),
        **fields,
    )
    new_head = _Head(seq, entry.entry_hash, tuple(accumulator.frontier))
    subtrees = [(seq, level, value) for level, value in enumerate(completed, start=1)]
    pk = _write(connection, head, new_head, entry, subtrees)
    if pk is None:
        return None
    entry.pk = pk
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry, new_head


def _entry_fields() -> list[models.Field[Any, Any]]:
    """The entry's columns as ``record`` writes them (all but the id)."""
    fields = [field for field in LedgerEntry._meta.concrete_fields if not field.primary_key]
    return [field for field in fields if isinstance(field, models.Field)]


def _write(
    connection: BaseDatabaseWrapper,
    old: _Head,
    new: _Head,
    entry: LedgerEntry,
    subtrees: list[tuple[int, int, bytes]],
) -> int | None:
    """Moves the head from ``old`` to ``new`` and inserts the entry and its subtree hashes; the entry's id.

    None, with nothing written, if the head row does not hold ``old``. On
    PostgreSQL one statement (the inserts select from the update's result, so
    they happen only if it matched); elsewhere the update, then the inserts.
    """
    statements = _statements(connection)
    head: list[Any] = [new.seq, new.entry_hash, b"".join(new.frontier), old.seq, old.entry_hash]
    values: list[Any] = [
        field.get_db_prep_save(getattr(entry, field.attname), connection) for field in statements.fields
    ]
    nodes: list[Any] = [value for row in subtrees for value in row]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(statements.append(len(subtrees)), [*head, *values, *nodes])
            row = cursor.fetchone()
            return None if row is None else int(row[0])
        cursor.execute(statements.head_update, head)
        if cursor.rowcount != 1:
            return None
        cursor.execute(statements.entry_insert, values)
        pk = int(cursor.lastrowid)
        if subtrees:
            cursor.execute(statements.subtree_insert(len(subtrees)), nodes)
        return pk


class _Statements:
    """The SQL of an append, built once per database vendor from the models (placeholders only, no values)."""

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        quote = connection.ops.quote_name
        self.postgresql = connection.vendor == "postgresql"
        self.fields = _entry_fields()
        columns = ", ".join(quote(str(field.column)) for field in self.fields)
        # PostgreSQL types the values of INSERT … SELECT from the placeholders: cast them to the columns' types.
        cast = [f"::{field.cast_db_type(connection)}" if self.postgresql else "" for field in self.fields]
        placeholders = ", ".join(f"%s{c}" for c in cast)
        head, entries, subtrees = (quote(m._meta.db_table) for m in (LedgerHead, LedgerEntry, LedgerSubtree))
        self.head_update = (
            f"UPDATE {head} SET seq = %s, entry_hash = %s, frontier = %s "  # noqa: S608 (names from the models)
            "WHERE id = 1 AND seq = %s AND entry_hash = %s"
        )
        self.entry_insert = f"INSERT INTO {entries} ({columns}) VALUES ({placeholders})"  # noqa: S608
        self._subtrees_table = subtrees
        self._append_prefix = (
            f"WITH head AS ({self.head_update} RETURNING id), "  # noqa: S608
            f"entry AS (INSERT INTO {entries} ({columns}) SELECT {placeholders} FROM head RETURNING id)"
        )
        self._by_count: dict[tuple[str, int], str] = {}

    def subtree_insert(self, count: int) -> str:
        key = ("insert", count)
        if key not in self._by_count:
            rows = ", ".join(["(%s, %s, %s)"] * count)
            self._by_count[key] = f"INSERT INTO {self._subtrees_table} (seq, level, hash) VALUES {rows}"  # noqa: S608
        return self._by_count[key]

    def append(self, subtree_count: int) -> str:
        """PostgreSQL: the head update, the entry and ``subtree_count`` subtree hashes in one statement."""
        key = ("append", subtree_count)
        if key not in self._by_count:
            sql = self._append_prefix
            if subtree_count:
                rows = ", ".join(["(%s::bigint, %s::smallint, %s::bytea)"] * subtree_count)
                sql += (
                    f", subtrees AS (INSERT INTO {self._subtrees_table} (seq, level, hash) "  # noqa: S608
                    f"SELECT s.seq, s.level, s.hash FROM head, (VALUES {rows}) AS s (seq, level, hash))"
                )
            self._by_count[key] = f"{sql} SELECT id FROM entry"  # noqa: S608
        return self._by_count[key]


_statements_by_vendor: dict[str, _Statements] = {}


def _statements(connection: BaseDatabaseWrapper) -> _Statements:
    statements = _statements_by_vendor.get(connection.vendor)
    if statements is None:
        statements = _statements_by_vendor[connection.vendor] = _Statements(connection)
    return statements


def _check_case(case: str) -> None:
    if not isinstance(case, str) or not case or len(case) > CASE_MAX_LENGTH:
        raise ValueError(f"case must be a non-empty string of at most {CASE_MAX_LENGTH} characters: {case!r}")
    if case != case.strip() or not case.isprintable():
        raise ValueError(f"case must not contain control characters or surrounding spaces: {case!r}")


def _check_action(action: str) -> None:
    if not isinstance(action, str) or len(action) > ACTION_MAX_LENGTH or not ACTION_PATTERN.fullmatch(action):
        raise ValueError(f"action must be namespaced lowercase words like 'tendering.bid.submitted': {action!r}")


def _lock_head() -> _Head:
    """The head row, locked until the transaction ends: appends queue up behind it."""
    row = LedgerHead.objects.select_for_update().filter(pk=1).values_list("seq", "entry_hash", "frontier").first()
    if row is None:
        # First append (or the table was flushed): start from the last entry, if any.
        last = LedgerEntry.objects.order_by("-seq").only("seq", "entry_hash").first()
        LedgerHead.objects.bulk_create(
            [LedgerHead(pk=1, seq=last.seq if last else 0, entry_hash=last.entry_hash if last else GENESIS_HASH)],
            ignore_conflicts=True,
        )
        row = LedgerHead.objects.select_for_update().filter(pk=1).values_list("seq", "entry_hash", "frontier").get()
    seq, entry_hash, stored = row
    stored = bytes(stored)
    frontier = [stored[i : i + merkle.HASH_SIZE] for i in range(0, len(stored), merkle.HASH_SIZE)]
    if len(stored) % merkle.HASH_SIZE or len(frontier) != seq.bit_count():
        # A head row rebuilt above (or from before migration 0004): the frontier from the stored subtrees.
        nodes = merkle.perfect_subtrees(0, seq) if seq else []
        hashes = _stored_nodes(set(nodes))
        frontier = [hashes[node] for node in nodes]
    return _Head(seq, entry_hash, tuple(frontier))


def lock_head() -> None:
    """Holds the ledger's head until the caller's transaction ends,
    so that "append unless already there" appends once.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_head() holds the lock until the transaction ends: call it inside transaction.atomic")
    _lock_head()


# --- Reading and proving -------------------------------------------------------


def entries_for_case(case: str) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(case=case).order_by("seq")


def entry_bytes(entry: LedgerEntry) -> bytes:
    """The canonical bytes of a stored entry, recomputed from its columns."""
    return ledger_entry_bytes(
        seq=entry.seq,
        case=entry.case,
        action=entry.action,
        actor_id=entry.actor_id,
        actor=entry.actor_label,
        recorded_at=format_timestamp(entry.recorded_at),
        data=json.loads(entry.data),
        prev=entry.prev_hash,
    )


def tree_size() -> int:
    """The number of committed entries (they always form the prefix 1..n: appends are serialized)."""
    return LedgerEntry.objects.aggregate(n=Max("seq"))["n"] or 0


def _leaf_hashes(size: int) -> list[bytes]:
    """The leaf hashes of entries 1..size, read in one O(n) pass (checkpoints recompute their root from them)."""
    leaves: list[bytes] = []
    rows = LedgerEntry.objects.filter(seq__lte=size).order_by("seq").values_list("seq", "leaf_hash")
    for expected, (seq, leaf) in enumerate(rows.iterator(chunk_size=CHUNK_SIZE), start=1):
        if seq != expected:
            raise LedgerError(f"entry {expected} is missing; run manage.py verify_ledger")
        leaves.append(bytes.fromhex(leaf))
    if len(leaves) != size:
        raise LedgerError(f"the ledger has {len(leaves)} entries, not {size}")
    return leaves


def _stored_nodes(nodes: set[merkle.Node]) -> dict[merkle.Node, bytes]:
    """The stored hashes of the perfect subtrees ``nodes`` (level 0: the entries' leaf hashes), two indexed reads."""
    found: dict[merkle.Node, bytes] = {}
    leaves = [index + 1 for level, index in nodes if level == 0]
    if leaves:
        for seq, leaf in LedgerEntry.objects.filter(seq__in=leaves).values_list("seq", "leaf_hash"):
            found[(0, seq - 1)] = _hash_or_fail(leaf, seq, 0)
    ends: dict[int, list[int]] = {}
    for level, index in nodes:
        if level:
            ends.setdefault(level, []).append((index + 1) << level)
    if ends:
        condition = reduce(operator.or_, (Q(level=level, seq__in=seqs) for level, seqs in ends.items()))
        for seq, level, value in LedgerSubtree.objects.filter(condition).values_list("seq", "level", "hash"):
            found[(level, (seq >> level) - 1)] = _hash_or_fail(value, seq, level)
    for level, index in sorted(nodes - found.keys()):
        first, last = (index << level) + 1, (index + 1) << level
        what = f"entry {last}" if level == 0 else f"the subtree hash of entries {first}..{last}"
        raise LedgerError(f"{what} is missing; run manage.py verify_ledger")
    return found


def _hash_or_fail(stored: Any, seq: int, level: int) -> bytes:
    """A stored hash as 32 bytes (hex text for a leaf, bytes for a subtree), or LedgerError."""
    try:
        value = bytes.fromhex(stored) if isinstance(stored, str) else bytes(stored)
    except ValueError:
        value = b""
    if len(value) != merkle.HASH_SIZE:
        first = seq - (1 << level) + 1
        raise LedgerError(f"the stored hash of entries {first}..{seq} is malformed; run manage.py verify_ledger")
    return value


def _stored_subtree_hash(ranges: Iterable[tuple[int, int]]) -> merkle.SubtreeHash:
    """A ``SubtreeHash`` for ``ranges`` (and only them) from the stored subtree hashes: O(log n) rows per proof."""
    return merkle.stored_subtree_hash(_stored_nodes(merkle.needed_subtrees(ranges)))


def _sizes(size: int | None) -> int:
    current = tree_size()
    if size is None:
        return current
    if not 0 <= size <= current:
        raise ValueError(f"tree size {size} is outside 0..{current}")
    return size


def inclusion_proof_for(seq: int, tree_size: int | None = None) -> dict[str, Any]:
    """Proof that entry ``seq`` is leaf ``seq - 1`` of the tree of ``tree_size`` entries (default: all).

    O(log n): folded from the stored subtree hashes, three indexed queries whatever the size.
    """
    size = _sizes(tree_size)
    if not 1 <= seq <= size:
        raise ValueError(f"entry {seq} is not in a tree of {size} entries")
    ranges = merkle.inclusion_ranges(seq - 1, size)
    subtree = _stored_subtree_hash([*ranges, (seq - 1, seq), (0, size)])
    return {
        "seq": seq,
        "leaf_index": seq - 1,
        "tree_size": size,
        "leaf_hash": subtree(seq - 1, seq).hex(),
        "proof": [subtree(start, end).hex() for start, end in ranges],
        "root": subtree(0, size).hex(),
    }


def consistency_proof_between(old_size: int, new_size: int) -> dict[str, Any]:
    """Proof that the tree of ``new_size`` entries extends the tree of ``old_size`` entries (O(log n))."""
    new = _sizes(new_size)
    if not 0 <= old_size <= new:
        raise ValueError(f"no consistency proof from {old_size} to {new} entries")
    ranges = merkle.consistency_ranges(old_size, new)
    roots = [(0, size) for size in (old_size, new) if size]
    subtree = _stored_subtree_hash([*ranges, *roots])
    return {
        "old_size": old_size,
        "new_size": new,
        "old_root": (subtree(0, old_size) if old_size else merkle.EMPTY_ROOT).hex(),
        "new_root": (subtree(0, new) if new else merkle.EMPTY_ROOT).hex(),
        "proof": [subtree(start, end).hex() for start, end in ranges],
    }


# --- Checkpoints ---------------------------------------------------------------


def make_checkpoint() -> LedgerCheckpoint:
    """Sign the current tree size and root with the platform key (the latest one if nothing was added).

    Refuses if the entries no longer reproduce the root of the latest checkpoint:
    the platform never signs over a ledger that was changed behind its back.
    """
    signer = platform_signer()
    size = tree_size()
    if size == 0:
        raise LedgerError("the ledger is empty: there is nothing to checkpoint")
    latest = LedgerCheckpoint.objects.order_by("-tree_size").first()
    if latest is not None and latest.tree_size >= size:
        if latest.tree_size > size:
            raise LedgerError(f"checkpoint {latest.tree_size} is larger than the ledger ({size} entries)")
        return latest
    leaves = _leaf_hashes(size)
    if latest is not None and merkle.root(leaves[: latest.tree_size]).hex() != latest.root_hash:
        raise LedgerError(f"the entries no longer match checkpoint {latest.tree_size}; run manage.py verify_ledger")
    root_hash = merkle.root(leaves).hex()
    if _stored_subtree_hash([(0, size)])(0, size).hex() != root_hash:
        # Proofs are folded from the stored subtree hashes: they must lead to the root the platform signs.
        raise LedgerError("the stored subtree hashes do not match the entries; run manage.py verify_ledger")
    created_at = clock.now().astimezone(dt.UTC)
    body = checkpoint_body(tree_size=size, root=root_hash, created_at=format_timestamp(created_at))
    signature = signer.sign(body)
    checkpoint = LedgerCheckpoint(
        tree_size=size,
        root_hash=root_hash,
        created_at=created_at,
        signature=base64.b64encode(signature).decode("ascii"),
        certificate_pem=signer.certificate_pem(),
        certificate_fingerprint=signer.fingerprint,
        # RFC 3161 time-stamp over the DER signature (docs/receipts.md §3)
        timestamp=base64.b64encode(timestamps.timestamp(signature)).decode("ascii"),
    )
    try:
        with transaction.atomic():
            checkpoint.save()
    except IntegrityError:
        # Another process signed the same size a moment ago.
        return LedgerCheckpoint.objects.get(tree_size=size)
    return checkpoint


def checkpoint_bytes(checkpoint: LedgerCheckpoint) -> bytes:
    """The signed body of a stored checkpoint, recomputed from its columns."""
    return checkpoint_body(
        tree_size=checkpoint.tree_size, root=checkpoint.root_hash, created_at=format_timestamp(checkpoint.created_at)
    )


def checkpoint_document(checkpoint: LedgerCheckpoint) -> dict[str, Any]:
    """Everything needed to check a checkpoint offline, as JSON-ready values."""
    return {
        "body": json.loads(checkpoint_bytes(checkpoint)),
        "signature": checkpoint.signature,
        "certificate_fingerprint": checkpoint.certificate_fingerprint,
        "certificate": checkpoint.certificate_pem,
        "timestamp": checkpoint.timestamp,
    }


def checkpoint_signature_problem(checkpoint: LedgerCheckpoint, anchors: list[Any] | None = None) -> str | None:
    """Why the checkpoint's signature or certificate does not hold, or None."""
    try:
        certificate = load_certificate(checkpoint.certificate_pem)
    except ValueError:
        return "its certificate cannot be read"
    if certificate_fingerprint(certificate) != checkpoint.certificate_fingerprint:
        return "its certificate does not match the stored fingerprint"
    if not is_issued_by(certificate, platform_signer().trust_anchors if anchors is None else anchors):
        return "its certificate is not the platform's (not issued by the platform CA)"
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
    except (binascii.Error, ValueError):
        return "its signature is not base64"
    if not verify_with_certificate(checkpoint.certificate_pem, checkpoint_bytes(checkpoint), signature):
        return "its signature does not verify (size, root or time changed?)"
    if checkpoint.timestamp:  # empty: signed before checkpoints were time-stamped
        try:
            token = base64.b64decode(checkpoint.timestamp, validate=True)
            timestamps.verify_timestamp(token, signature, timestamps.trusted_tsa_certificates())
        except (binascii.Error, ValueError) as exc:  # TimestampError is a ValueError
            return f"its time-stamp does not hold ({exc})"
    return None


# --- Verification --------------------------------------------------------------


@dataclass(frozen=True)
class LedgerVerification:
    ok: bool
    entries_checked: int
    first_bad_seq: int | None
    reason: str
    root: str = ""  # root of the entries checked
    checkpoints_checked: int = 0


def verify_ledger(chunk_size: int = CHUNK_SIZE) -> LedgerVerification:
    """Recompute every entry, the chain, the leaves, the root and every checkpoint.

    Streams the table; stops at the first thing that does not match and says why.
    Trusts no stored hash it can recompute, and not the head pointer.
    """
    connection = transaction.get_connection()
    fresh = not connection.in_atomic_block
    with transaction.atomic():
        if fresh and connection.vendor == "postgresql":
            # One snapshot for every read: the entries and their subtree hashes are streamed by two cursors.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        # Read in this order: entries only grow, so neither may claim more than the entries show.
        head = LedgerHead.objects.filter(pk=1).first()
        checkpoints = list(LedgerCheckpoint.objects.order_by("tree_size"))
        anchors = platform_signer().trust_anchors if checkpoints else []
        return _verify(head, checkpoints, anchors, chunk_size)


def _verify(
    head: LedgerHead | None, checkpoints: list[LedgerCheckpoint], anchors: list[Any], chunk_size: int
) -> LedgerVerification:
    accumulator = merkle.RootAccumulator()
    stored_subtrees = (
        LedgerSubtree.objects.order_by("seq", "level").values_list("seq", "level", "hash").iterator(chunk_size)
    )
    next_subtree = next(stored_subtrees, None)
    prev = GENESIS_HASH
    head_hash_at_its_seq: str | None = None
    pending = iter(checkpoints)
    checkpoint = next(pending, None)
    checked_checkpoints = 0
    verified_size = 0

    def failure(seq: int | None, reason: str) -> LedgerVerification:
        return LedgerVerification(False, accumulator.size, seq, reason, accumulator.root().hex(), checked_checkpoints)

    for entry in LedgerEntry.objects.order_by("seq").iterator(chunk_size=chunk_size):
        expected = accumulator.size + 1
        if entry.seq != expected:
            return failure(expected, f"entry {expected}: missing (the next entry is {entry.seq}; rows deleted?)")
        problem, leaf = _entry_problem(entry, prev)
        if problem:
            return failure(entry.seq, f"entry {entry.seq}: {problem}")
        # The leaf recomputed from the entry, not the stored column: the root must follow from the contents alone.
        completed = accumulator.append(leaf)
        stored: list[tuple[int, int, bytes]] = []
        while next_subtree is not None and next_subtree[0] <= entry.seq:
            stored.append((next_subtree[0], next_subtree[1], bytes(next_subtree[2])))
            next_subtree = next(stored_subtrees, None)
        problem = _subtrees_problem(entry.seq, completed, stored)
        if problem:
            return failure(None, problem)
        prev = entry.entry_hash
        if head is not None and head.seq == entry.seq:
            head_hash_at_its_seq = entry.entry_hash
        while checkpoint is not None and checkpoint.tree_size == accumulator.size:
            root_hash = accumulator.root().hex()
            if checkpoint.root_hash != root_hash:
                return failure(
                    None,
                    f"checkpoint {checkpoint.tree_size}: root_hash does not match entries 1..{checkpoint.tree_size} "
                    f"(an entry after {verified_size} was rewritten together with the chain?)",
                )
            problem = checkpoint_signature_problem(checkpoint, anchors)
            if problem:
                return failure(None, f"checkpoint {checkpoint.tree_size}: {problem}")
            checked_checkpoints += 1
            verified_size = checkpoint.tree_size
            checkpoint = next(pending, None)

    size = accumulator.size
    if checkpoint is not None:
        return failure(
            size + 1,
            f"checkpoint {checkpoint.tree_size} was signed over more entries than the {size} left (entries removed?)",
        )
    if head is not None and head.seq > size:
        return failure(
            size + 1, f"the head pointer is at entry {head.seq} but only {size} entries remain (entries removed?)"
        )
    if head is not None and head.seq > 0 and head_hash_at_its_seq != head.entry_hash:
        return failure(head.seq, f"entry {head.seq}: entry_hash differs from the one the head pointer recorded")
    if next_subtree is not None:
        return failure(
            None,
            f"a subtree hash is stored for entry {next_subtree[0]}, after the last entry {size} (entries removed?)",
        )
    return LedgerVerification(True, size, None, "", accumulator.root().hex(), checked_checkpoints)


def _subtrees_problem(seq: int, completed: list[bytes], stored: list[tuple[int, int, bytes]]) -> str | None:
    """What is wrong with the subtree hashes stored up to entry ``seq`` (those entry ``seq`` completes), or None.

    Both lists are in (seq, level) order: the first difference names a missing, a stray or a changed row.
    """
    for position in range(max(len(completed), len(stored))):
        level = position + 1
        have = stored[position][:2] if position < len(stored) else None
        if position < len(completed) and (have is None or have > (seq, level)):
            return f"subtree {seq - (1 << level) + 1}..{seq}: its stored hash is missing (rows deleted?)"
        if have is None or have != (seq, level):
            stray_seq, stray_level = stored[position][:2]
            return (
                f"a subtree hash is stored for entry {stray_seq} at level {stray_level}, which the tree does not have"
            )
        if stored[position][2] != completed[position]:
            first = seq - (1 << level) + 1
            return f"subtree {first}..{seq}: its stored hash does not match entries {first}..{seq} (hashes changed?)"
    return None


def entry_problem(entry: LedgerEntry) -> str | None:
    """What is wrong with one stored entry by itself (None if nothing): its data canonical, its entry and leaf
    hashes those of its columns. Its link to the entries around it is for the caller (or ``verify_ledger``)."""
    problem = _content_problem(entry, entry.prev_hash)
    return None if isinstance(problem, bytes) else problem


def _entry_problem(entry: LedgerEntry, prev: str) -> tuple[str | None, bytes]:
    """What is wrong with ``entry`` (None if nothing), and its leaf hash recomputed from its contents."""
    problem = _content_problem(entry, prev)
    if isinstance(problem, bytes):
        return None, problem
    return problem, b""


def _content_problem(entry: LedgerEntry, prev: str) -> str | bytes:
    for name in ("prev_hash", "entry_hash", "leaf_hash"):
        if not _HEX64.fullmatch(getattr(entry, name)):
            return f"{name} is not 64 lowercase hex digits"
    try:
        data = json.loads(entry.data)
    except ValueError:
        return "data is not JSON (data changed?)"
    if not isinstance(data, dict):
        return "data is not a JSON object (data changed?)"
    try:
        canonical = canonical_json(data).decode("utf-8")
    except (TypeError, ValueError) as exc:
        return f"data holds a value the ledger never writes ({exc})"
    if canonical != entry.data:
        return "data is not in canonical form (data changed?)"
    if entry.prev_hash != prev:
        before = "the genesis value" if entry.seq == 1 else f"entry {entry.seq - 1}'s entry_hash"
        return f"prev_hash does not match {before} (entries removed, inserted or reordered?)"
    try:
        content = ledger_entry_bytes_with_data_json(
            seq=entry.seq,
            case=entry.case,
            action=entry.action,
            actor_id=entry.actor_id,
            actor=entry.actor_label,
            recorded_at=format_timestamp(entry.recorded_at),
            data_json=canonical.encode("utf-8"),
            prev=entry.prev_hash,
        )
    except (TypeError, ValueError) as exc:
        return f"cannot be canonicalized ({exc})"
    if hashlib.sha256(content).hexdigest() != entry.entry_hash:
        return "entry_hash does not match its contents (data changed?)"
    leaf = merkle.leaf_hash(content)
    if leaf.hex() != entry.leaf_hash:
        return "leaf_hash does not match its contents"
    return leaf
