"""Proofs from the stored ledger, and checkpoints signed by the platform."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from archive import ledger, merkle, signing
from archive.models import LedgerCheckpoint, LedgerEntry
from config import clock
from tests.ledger.attacker import attacker_sql, recompute_subtrees

pytestmark = pytest.mark.django_db


def record_many(n: int, actor: User | None = None) -> list[LedgerEntry]:
    return [ledger.record("tender:9", "tendering.question.asked", {"question_id": i}, actor) for i in range(n)]


def verifies(proof: dict[str, object], root: str) -> bool:
    leaf = LedgerEntry.objects.get(seq=proof["seq"])
    return merkle.verify_inclusion(
        merkle.leaf_hash(ledger.entry_bytes(leaf)),
        proof["leaf_index"],  # type: ignore[arg-type]
        proof["tree_size"],  # type: ignore[arg-type]
        [bytes.fromhex(p) for p in proof["proof"]],  # type: ignore[attr-defined]
        bytes.fromhex(root),
    )


def test_every_entry_has_an_inclusion_proof_that_verifies_against_the_root(clerk: User) -> None:
    record_many(13, clerk)
    root = ledger.verify_ledger().root

    for seq in range(1, 14):
        proof = ledger.inclusion_proof_for(seq)
        assert (proof["seq"], proof["leaf_index"], proof["tree_size"], proof["root"]) == (seq, seq - 1, 13, root)
        assert verifies(proof, root)
        assert not verifies({**proof, "leaf_index": (seq % 13)}, root)


def test_it_refuses_a_proof_outside_the_ledger(clerk: User) -> None:
    record_many(3, clerk)
    with pytest.raises(ValueError, match="not in a tree of 3"):
        ledger.inclusion_proof_for(4)
    with pytest.raises(ValueError, match="not in a tree of 2"):
        ledger.inclusion_proof_for(3, tree_size=2)
    with pytest.raises(ValueError, match=r"outside 0\.\.3"):
        ledger.inclusion_proof_for(1, tree_size=4)
    with pytest.raises(ValueError, match="no consistency proof"):
        ledger.consistency_proof_between(3, 2)


def test_a_proof_at_an_old_checkpoint_carries_over_to_a_later_one(clerk: User) -> None:
    record_many(5, clerk)
    earlier = ledger.make_checkpoint()
    proof = ledger.inclusion_proof_for(3, tree_size=earlier.tree_size)
    assert verifies(proof, earlier.root_hash)

    record_many(4, clerk)
    later = ledger.make_checkpoint()
    consistency = ledger.consistency_proof_between(earlier.tree_size, later.tree_size)

    assert (consistency["old_root"], consistency["new_root"]) == (earlier.root_hash, later.root_hash)
    assert merkle.verify_consistency(
        earlier.tree_size,
        later.tree_size,
        bytes.fromhex(earlier.root_hash),
        bytes.fromhex(later.root_hash),
        [bytes.fromhex(p) for p in consistency["proof"]],
    )
    assert verifies(ledger.inclusion_proof_for(3, tree_size=later.tree_size), later.root_hash)
    assert ledger.verify_ledger().checkpoints_checked == 2


def test_a_checkpoint_signature_verifies_with_its_certificate_and_fails_if_the_body_changes(clerk: User) -> None:
    record_many(4, clerk)
    with clock.frozen(dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)):
        checkpoint = ledger.make_checkpoint()
    signature = base64.b64decode(checkpoint.signature)
    body = ledger.checkpoint_bytes(checkpoint)

    assert json.loads(body) == {
        "type": "etender-ledger-checkpoint-v1",
        "tree_size": 4,
        "root": ledger.verify_ledger().root,
        "created_at": "2026-03-02T01:00:00.000000Z",
    }
    assert checkpoint.certificate_fingerprint == signing.platform_signer().fingerprint
    assert signing.verify_with_certificate(checkpoint.certificate_pem, body, signature)
    assert not signing.verify_with_certificate(
        checkpoint.certificate_pem, body.replace(b'"tree_size":4', b'"tree_size":5'), signature
    )
    assert not signing.verify_with_certificate(
        checkpoint.certificate_pem, body, signature[:-1] + bytes([signature[-1] ^ 1])
    )


def test_nothing_new_returns_the_latest_checkpoint_and_an_empty_ledger_has_none(clerk: User) -> None:
    with pytest.raises(ledger.LedgerError, match="empty"):
        ledger.make_checkpoint()
    record_many(2, clerk)
    first = ledger.make_checkpoint()

    assert ledger.make_checkpoint() == first
    assert LedgerCheckpoint.objects.count() == 1


def test_the_verifier_names_a_checkpoint_whose_root_was_changed(clerk: User) -> None:
    record_many(3, clerk)
    ledger.make_checkpoint()
    record_many(2, clerk)
    with attacker_sql("archive_ledgercheckpoint") as cursor:
        cursor.execute("UPDATE archive_ledgercheckpoint SET root_hash = %s", ["ab" * 32])

    result = ledger.verify_ledger()
    assert not result.ok
    assert result.reason.startswith("checkpoint 3: root_hash does not match entries 1..3")


def test_the_verifier_names_a_checkpoint_whose_time_was_changed(clerk: User) -> None:
    record_many(3, clerk)
    ledger.make_checkpoint()
    with attacker_sql("archive_ledgercheckpoint") as cursor:
        cursor.execute("UPDATE archive_ledgercheckpoint SET created_at = %s", [dt.datetime(2020, 1, 1, tzinfo=dt.UTC)])

    result = ledger.verify_ledger()
    assert result.reason == "checkpoint 3: its signature does not verify (size, root or time changed?)"


def test_rewriting_the_whole_chain_is_caught_by_the_signed_checkpoint(clerk: User) -> None:
    """An attacker who recomputes every hash after a change still cannot re-sign the checkpoint."""
    record_many(6, clerk)
    ledger.make_checkpoint()
    entries = list(LedgerEntry.objects.order_by("seq"))
    entries[1].data = '{"question_id":99}'

    with attacker_sql("archive_ledgerentry", "archive_ledgersubtree") as cursor:
        prev = entries[0].entry_hash
        for entry in entries[1:]:
            entry.prev_hash = prev
            content = ledger.entry_bytes(entry)
            entry.entry_hash, entry.leaf_hash = hashlib.sha256(content).hexdigest(), merkle.leaf_hash(content).hex()
            cursor.execute(
                "UPDATE archive_ledgerentry SET data = %s, prev_hash = %s, entry_hash = %s, leaf_hash = %s "
                "WHERE seq = %s",
                [entry.data, entry.prev_hash, entry.entry_hash, entry.leaf_hash, entry.seq],
            )
            prev = entry.entry_hash
        cursor.execute("UPDATE archive_ledgerhead SET entry_hash = %s", [prev])
        recompute_subtrees(cursor)

    result = ledger.verify_ledger()
    assert not result.ok
    assert result.reason.startswith("checkpoint 6: root_hash does not match")
    record_many(1, clerk)
    with pytest.raises(ledger.LedgerError, match="no longer match checkpoint 6"):
        ledger.make_checkpoint()


def test_the_verifier_refuses_a_checkpoint_signed_by_someone_else(clerk: User, settings: Any, tmp_path: Path) -> None:
    record_many(2, clerk)
    platform_pki = settings.DEVELOPMENT_PKI_DIR
    signing.platform_signer()
    settings.DEVELOPMENT_PKI_DIR = tmp_path / "another-pki"
    ledger.make_checkpoint()  # signed by a key the platform's CA never certified
    settings.DEVELOPMENT_PKI_DIR = platform_pki

    result = ledger.verify_ledger()
    assert result.reason == "checkpoint 2: its certificate is not the platform's (not issued by the platform CA)"


def test_the_checkpoint_command_verifies_signs_and_prints(clerk: User) -> None:
    record_many(3, clerk)
    out = io.StringIO()
    call_command("ledger_checkpoint", stdout=out)

    printed = json.loads(out.getvalue())
    assert printed["body"]["tree_size"] == 3
    assert printed["certificate_fingerprint"] == signing.platform_signer().fingerprint
    assert signing.verify_with_certificate(
        printed["certificate"],
        ledger.checkpoint_bytes(LedgerCheckpoint.objects.get()),
        base64.b64decode(printed["signature"]),
    )

    verify_out = io.StringIO()
    call_command("verify_ledger", stdout=verify_out)
    assert verify_out.getvalue().splitlines()[1] == "1 signed checkpoints verified"


def test_the_checkpoint_command_refuses_to_sign_a_ledger_that_does_not_verify(clerk: User) -> None:
    record_many(3, clerk)
    with attacker_sql() as cursor:
        cursor.execute("UPDATE archive_ledgerentry SET data = '{}' WHERE seq = 2")

    with pytest.raises(CommandError, match="not signing: the ledger does not verify: entry 2: "):
        call_command("ledger_checkpoint")
    assert not LedgerCheckpoint.objects.exists()
