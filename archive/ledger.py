"""The append-only ledger (账本): record events, prove them, sign checkpoints, verify.

Every event of significance is one entry, appended by ``record`` inside the
transaction of the change it records. Entries are chained (each names the hash
of the one before it) and are the leaves of an RFC 9162 Merkle tree whose root
the platform signs in checkpoints. ``verify_ledger`` recomputes all of it from
the stored columns. docs/ledger.md describes the formats.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet

from archive import merkle, timestamps
from archive.canonical import (
    GENESIS_HASH,
    canonical_json,
    checkpoint_body,
    format_timestamp,
    ledger_entry_bytes,
    ledger_entry_bytes_with_data_json,
)
from archive.models import LedgerCheckpoint, LedgerEntry, LedgerHead
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
    """
    _check_case(case)
    _check_action(action)
    if not isinstance(data, Mapping):
        raise TypeError(f"data must be a mapping (a JSON object), not {type(data).__name__}")
    data_json = canonical_json(data)
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) and actor.pk is not None else None
    actor_id = user.pk if user is not None else None
    actor_label = user.get_username() if user is not None else ""

    with transaction.atomic():
        head = _lock_head()
        seq = head.seq + 1
        recorded_at = clock.now()
        if recorded_at.tzinfo is None:
            raise ValueError("the clock returned a naive datetime")
        recorded_at = recorded_at.astimezone(dt.UTC)
        entry_bytes = ledger_entry_bytes(
            seq=seq,
            case=case,
            action=action,
            actor_id=actor_id,
            actor=actor_label,
            recorded_at=format_timestamp(recorded_at),
            data=json.loads(data_json),
            prev=head.entry_hash,
        )
        entry = LedgerEntry(
            seq=seq,
            case=case,
            action=action,
            actor=user,
            actor_label=actor_label,
            data=data_json.decode("utf-8"),
            recorded_at=recorded_at,
            prev_hash=head.entry_hash,
            entry_hash=hashlib.sha256(entry_bytes).hexdigest(),
            leaf_hash=merkle.leaf_hash(entry_bytes).hex(),
        )
        entry.save()
        LedgerHead.objects.filter(pk=head.pk).update(seq=seq, entry_hash=entry.entry_hash)
    return entry


def _check_case(case: str) -> None:
    if not isinstance(case, str) or not case or len(case) > CASE_MAX_LENGTH:
        raise ValueError(f"case must be a non-empty string of at most {CASE_MAX_LENGTH} characters: {case!r}")
    if case != case.strip() or not case.isprintable():
        raise ValueError(f"case must not contain control characters or surrounding spaces: {case!r}")


def _check_action(action: str) -> None:
    if not isinstance(action, str) or len(action) > ACTION_MAX_LENGTH or not ACTION_PATTERN.fullmatch(action):
        raise ValueError(f"action must be namespaced lowercase words like 'tendering.bid.submitted': {action!r}")


def _lock_head() -> LedgerHead:
    """The head row, locked until the transaction ends: appends queue up behind it."""
    head = LedgerHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # First append (or the table was flushed): start from the last entry, if any.
        last = LedgerEntry.objects.order_by("-seq").only("seq", "entry_hash").first()
        LedgerHead.objects.bulk_create(
            [LedgerHead(pk=1, seq=last.seq if last else 0, entry_hash=last.entry_hash if last else GENESIS_HASH)],
            ignore_conflicts=True,
        )
        head = LedgerHead.objects.select_for_update().get(pk=1)
    return head


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
    """The leaf hashes of entries 1..size. A cached subtree store can replace this O(n) read."""
    leaves: list[bytes] = []
    rows = LedgerEntry.objects.filter(seq__lte=size).order_by("seq").values_list("seq", "leaf_hash")
    for expected, (seq, leaf) in enumerate(rows.iterator(chunk_size=CHUNK_SIZE), start=1):
        if seq != expected:
            raise LedgerError(f"entry {expected} is missing; run manage.py verify_ledger")
        leaves.append(bytes.fromhex(leaf))
    if len(leaves) != size:
        raise LedgerError(f"the ledger has {len(leaves)} entries, not {size}")
    return leaves


def _sizes(size: int | None) -> int:
    current = tree_size()
    if size is None:
        return current
    if not 0 <= size <= current:
        raise ValueError(f"tree size {size} is outside 0..{current}")
    return size


def inclusion_proof_for(seq: int, tree_size: int | None = None) -> dict[str, Any]:
    """Proof that entry ``seq`` is leaf ``seq - 1`` of the tree of ``tree_size`` entries (default: all)."""
    size = _sizes(tree_size)
    if not 1 <= seq <= size:
        raise ValueError(f"entry {seq} is not in a tree of {size} entries")
    leaves = _leaf_hashes(size)
    return {
        "seq": seq,
        "leaf_index": seq - 1,
        "tree_size": size,
        "leaf_hash": leaves[seq - 1].hex(),
        "proof": [node.hex() for node in merkle.inclusion_proof(seq - 1, size, leaves)],
        "root": merkle.root(leaves).hex(),
    }


def consistency_proof_between(old_size: int, new_size: int) -> dict[str, Any]:
    """Proof that the tree of ``new_size`` entries extends the tree of ``old_size`` entries."""
    new = _sizes(new_size)
    if not 0 <= old_size <= new:
        raise ValueError(f"no consistency proof from {old_size} to {new} entries")
    leaves = _leaf_hashes(new)
    return {
        "old_size": old_size,
        "new_size": new,
        "old_root": merkle.root(leaves[:old_size]).hex(),
        "new_root": merkle.root(leaves).hex(),
        "proof": [node.hex() for node in merkle.consistency_proof(old_size, new, leaves)],
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
    with transaction.atomic():
        # Read in this order: entries only grow, so neither may claim more than the entries show.
        head = LedgerHead.objects.filter(pk=1).first()
        checkpoints = list(LedgerCheckpoint.objects.order_by("tree_size"))
        anchors = platform_signer().trust_anchors if checkpoints else []
        return _verify(head, checkpoints, anchors, chunk_size)


def _verify(
    head: LedgerHead | None, checkpoints: list[LedgerCheckpoint], anchors: list[Any], chunk_size: int
) -> LedgerVerification:
    accumulator = merkle.RootAccumulator()
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
        accumulator.append(leaf)
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
    return LedgerVerification(True, size, None, "", accumulator.root().hex(), checked_checkpoints)


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
