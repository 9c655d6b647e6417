"""Ledger checkpoints are time-stamped over their signature, and verify_ledger checks the time-stamp."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from archive import ledger, timestamps
from archive.models import LedgerCheckpoint
from archive.timestamps import TimestampAuthorityError
from config import clock
from tests.ledger.attacker import attacker_sql
from tests.receipts import pki

pytestmark = pytest.mark.django_db


def record(n: int) -> None:
    for i in range(n):
        ledger.record("tender:9", "tendering.question.asked", {"question_id": i}, None)


def set_timestamp(value: str) -> None:
    with attacker_sql("archive_ledgercheckpoint") as cursor:
        cursor.execute("UPDATE archive_ledgercheckpoint SET timestamp = %s", [value])


# --- Refusals ---------------------------------------------------------------------------


def test_the_verifier_names_a_checkpoint_whose_timestamp_was_replaced(frozen_clock: clock.FrozenClock) -> None:
    record(3)
    ledger.make_checkpoint()
    set_timestamp(base64.b64encode(timestamps.timestamp(b"another signature")).decode())

    result = ledger.verify_ledger()
    assert not result.ok
    assert result.reason == (
        "checkpoint 3: its time-stamp does not hold "
        "(the time-stamp is over other data (its message imprint does not match))"
    )


def test_the_verifier_names_a_checkpoint_whose_timestamp_is_not_base64(frozen_clock: clock.FrozenClock) -> None:
    record(2)
    ledger.make_checkpoint()
    set_timestamp("not base64!")

    assert ledger.verify_ledger().reason.startswith("checkpoint 2: its time-stamp does not hold (")


def test_no_checkpoint_is_stored_when_no_timestamp_can_be_had(settings: Any, tmp_path: Path) -> None:
    record(2)
    _key, _certificate, ca = pki.make_tsa()
    (tmp_path / "tsa-ca.pem").write_bytes(pki.pem(ca))
    settings.TIMESTAMP_AUTHORITY_URL = "http://127.0.0.1:9/tsa"  # discard port: nothing answers
    settings.TIMESTAMP_AUTHORITY_CERTIFICATE_FILE = str(tmp_path / "tsa-ca.pem")

    with pytest.raises(TimestampAuthorityError, match="gave no time-stamp"):
        ledger.make_checkpoint()
    assert not LedgerCheckpoint.objects.exists()


# --- What is stored and checked ---------------------------------------------------------


def test_a_checkpoint_carries_a_timestamp_over_its_signature_at_the_clocks_time(
    frozen_clock: clock.FrozenClock,
) -> None:
    record(4)
    moment = frozen_clock.advance(minutes=30)
    checkpoint = ledger.make_checkpoint()

    token = base64.b64decode(checkpoint.timestamp, validate=True)
    signature = base64.b64decode(checkpoint.signature)
    assert timestamps.verify_timestamp(token, signature, timestamps.trusted_tsa_certificates()) == moment
    assert ledger.checkpoint_document(checkpoint)["timestamp"] == checkpoint.timestamp
    assert LedgerCheckpoint.objects.get().timestamp == checkpoint.timestamp
    result = ledger.verify_ledger()
    assert result.ok, result.reason
    assert result.checkpoints_checked == 1


def test_a_checkpoint_made_before_time_stamping_still_verifies(frozen_clock: clock.FrozenClock) -> None:
    record(2)
    ledger.make_checkpoint()
    set_timestamp("")  # as migration 0003 leaves the checkpoints made before it

    result = ledger.verify_ledger()
    assert result.ok, result.reason


def test_checkpoints_verify_days_later_with_the_clock_moved_on(frozen_clock: clock.FrozenClock) -> None:
    record(2)
    ledger.make_checkpoint()
    frozen_clock.advance(days=40)
    record(2)
    ledger.make_checkpoint()
    frozen_clock.set(dt.datetime(2027, 6, 1, tzinfo=dt.UTC))

    result = ledger.verify_ledger()
    assert result.ok, result.reason
    assert result.checkpoints_checked == 2
