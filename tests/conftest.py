"""Fixtures shared by the whole suite: the clock, the S3 server, personas."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from config import clock


@receiver(connection_created)
def allow_the_test_runner_to_flush_the_ledger(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Django empties tables with one TRUNCATE after transactional tests; the ledger's
    append-only trigger (PostgreSQL) lets TRUNCATE through only where this is set.
    UPDATE and DELETE stay refused. Production never sets it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET etender.ledger_allow_truncate = 'on'")


pytest_plugins = [
    "tests.fixtures.s3",
    "tests.fixtures.personas",
    "tests.fixtures.operator",
    "tests.evaluation.factories",
]


@pytest.fixture(autouse=True)
def development_pki(settings: Any, tmp_path: Path) -> Iterator[Path]:
    """Every test signs and time-stamps with a PKI of its own (made under its own clock), never var/pki."""
    from archive import signing, timestamps

    settings.DEVELOPMENT_PKI_DIR = tmp_path / "pki"
    # The demo key CA too: made under the test's clock, as valid as the test's time says.
    settings.DEMO_KEY_CA_DIR = tmp_path / "demo-ca"
    signing.reset_platform_signer_cache()
    timestamps.reset_timestamp_caches()
    yield settings.DEVELOPMENT_PKI_DIR
    signing.reset_platform_signer_cache()
    timestamps.reset_timestamp_caches()


@pytest.fixture
def frozen_clock() -> Iterator[clock.FrozenClock]:
    """Time stands still at 2026-03-02 09:00 Beijing time until a test moves it."""
    start = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    with clock.frozen(start) as c:
        yield c
