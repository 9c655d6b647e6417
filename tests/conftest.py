"""Fixtures shared by the whole suite: the clock, the S3 server, personas."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from config import clock

pytest_plugins = ["tests.fixtures.s3", "tests.fixtures.personas"]


@pytest.fixture
def frozen_clock() -> Iterator[clock.FrozenClock]:
    """Time stands still at 2026-03-02 09:00 Beijing time until a test moves it."""
    start = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    with clock.frozen(start) as c:
        yield c
