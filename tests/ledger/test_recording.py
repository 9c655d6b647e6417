"""Recording events: the chain, the caller's transaction, and what record() refuses."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading

import pytest
from django.db import connection, transaction

from accounts.models import User
from archive import ledger, merkle
from archive.canonical import GENESIS_HASH
from archive.models import LedgerEntry, LedgerHead
from config import clock

pytestmark = pytest.mark.django_db


def test_it_refuses_a_bad_action_name_before_writing_anything(clerk: User) -> None:
    for action in [
        "published",
        "Tendering.tender.published",
        "tendering..published",
        "tendering.tender.",
        "tendering.tender.published\n",
        "tendering.2fa.on",
    ]:
        with pytest.raises(ValueError, match="action must be"):
            ledger.record("tender:1", action, {}, clerk)
    assert not LedgerEntry.objects.exists()


def test_it_refuses_an_empty_overlong_or_untidy_case(clerk: User) -> None:
    for case in ["", "x" * 101, " tender:1", "tender:1\n"]:
        with pytest.raises(ValueError, match="case must"):
            ledger.record(case, "tendering.tender.published", {}, clerk)
    assert not LedgerEntry.objects.exists()


def test_it_refuses_floats_and_types_json_does_not_have(clerk: User) -> None:
    with pytest.raises(TypeError, match=r"\$\.budget: float"):
        ledger.record("tender:1", "tendering.tender.published", {"budget": 1250000.0}, clerk)
    with pytest.raises(TypeError, match="convert it to an ISO 8601 string"):
        ledger.record(
            "tender:1", "tendering.tender.published", {"deadline": dt.datetime(2026, 3, 2, tzinfo=dt.UTC)}, clerk
        )
    with pytest.raises(TypeError, match="bytes are not JSON"):
        ledger.record("tender:1", "tendering.document.added", {"sha256": hashlib.sha256().digest()}, clerk)
    with pytest.raises(TypeError, match="must be a mapping"):
        ledger.record("tender:1", "tendering.tender.published", ["not", "an", "object"], clerk)  # type: ignore[arg-type]
    assert not LedgerEntry.objects.exists()


def test_entries_are_numbered_from_one_and_chained(clerk: User) -> None:
    first = ledger.record("tender:1", "tendering.tender.published", {"title": "道路改造"}, clerk)
    second = ledger.record("tender:1", "tendering.question.asked", {"question_id": 3}, None)

    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.entry_hash
    assert LedgerHead.objects.get().seq == 2


def test_an_entry_stores_canonical_data_and_its_hashes_cover_every_column(clerk: User) -> None:
    moment = dt.datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with clock.frozen(moment):
        entry = ledger.record(
            "tender:1", "tendering.tender.published", {"title": "道路改造", "budget": "1250000.00"}, clerk
        )

    entry = LedgerEntry.objects.get(pk=entry.pk)
    assert entry.data == '{"budget":"1250000.00","title":"道路改造"}'
    assert entry.recorded_at == moment
    assert (entry.actor_id, entry.actor_label) == (clerk.pk, "clerk")
    content = ledger.entry_bytes(entry)
    assert json.loads(content) == {
        "seq": 1,
        "case": "tender:1",
        "action": "tendering.tender.published",
        "actor_id": clerk.pk,
        "actor": "clerk",
        "recorded_at": "2026-03-02T01:00:00.123456Z",
        "data": {"budget": "1250000.00", "title": "道路改造"},
        "prev": GENESIS_HASH,
    }
    assert entry.entry_hash == hashlib.sha256(content).hexdigest()
    assert entry.leaf_hash == merkle.leaf_hash(content).hex()


def test_the_platform_itself_records_without_an_actor() -> None:
    entry = ledger.record("tender:1", "tendering.tender.opened", {}, None)
    assert (entry.actor_id, entry.actor_label) == (None, "")
    assert json.loads(ledger.entry_bytes(entry))["actor_id"] is None


def test_the_actor_label_keeps_the_username_of_the_time(clerk: User) -> None:
    entry = ledger.record("user:1", "accounts.key.registered", {}, clerk)
    clerk.username = "renamed"
    clerk.save()

    assert LedgerEntry.objects.get(pk=entry.pk).actor_label == "clerk"
    assert ledger.verify_ledger().ok


def test_a_chain_of_entries_verifies(clerk: User) -> None:
    for i in range(25):
        ledger.record(f"tender:{i % 3}", "tendering.bid.submitted", {"bid_id": i, "note": "第" + str(i)}, clerk)

    result = ledger.verify_ledger(chunk_size=4)

    assert result == ledger.LedgerVerification(
        ok=True,
        entries_checked=25,
        first_bad_seq=None,
        reason="",
        root=merkle.root([bytes.fromhex(e.leaf_hash) for e in LedgerEntry.objects.order_by("seq")]).hex(),
        checkpoints_checked=0,
    )


def test_an_empty_ledger_verifies_with_the_empty_root() -> None:
    result = ledger.verify_ledger()
    assert result.ok
    assert (result.entries_checked, result.root) == (0, merkle.EMPTY_ROOT.hex())


def test_an_entry_rolls_back_with_the_callers_transaction(clerk: User) -> None:
    ledger.record("tender:1", "tendering.tender.published", {}, clerk)
    with pytest.raises(RuntimeError), transaction.atomic():
        ledger.record("tender:1", "tendering.bid.submitted", {"bid_id": 1}, clerk)
        raise RuntimeError("the submission failed after its entry was written")

    assert list(LedgerEntry.objects.values_list("action", flat=True)) == ["tendering.tender.published"]
    assert ledger.record("tender:1", "tendering.bid.submitted", {"bid_id": 2}, clerk).seq == 2
    assert ledger.verify_ledger().ok


def test_the_head_row_is_rebuilt_from_the_last_entry_if_it_is_gone(clerk: User) -> None:
    ledger.record("tender:1", "tendering.tender.published", {}, clerk)
    LedgerHead.objects.all().delete()

    assert ledger.record("tender:1", "tendering.tender.closed", {}, clerk).seq == 2
    assert ledger.verify_ledger().ok


def test_entries_for_a_case_come_in_order(clerk: User) -> None:
    for case in ["tender:1", "tender:2", "tender:1"]:
        ledger.record(case, "tendering.tender.updated", {}, clerk)

    assert list(ledger.entries_for_case("tender:1").values_list("seq", flat=True)) == [1, 3]


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_form_one_unbroken_chain() -> None:
    errors: list[BaseException] = []

    def append_many(worker: int) -> None:
        try:
            for i in range(8):
                ledger.record(f"tender:{worker}", "tendering.bid.submitted", {"worker": worker, "i": i}, None)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=append_many, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert list(LedgerEntry.objects.values_list("seq", flat=True)) == list(range(1, 33))
    assert ledger.verify_ledger().ok
