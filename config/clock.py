"""The platform's one clock.

Every decision that depends on time (is a tender open for bids? is the enquiry
period over?) asks ``now()``. Tests and demos move time by replacing the
source with ``use_clock`` / ``frozen``; nothing else reads the system time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator

from django.conf import settings

Clock = Callable[[], dt.datetime]


def system_now() -> dt.datetime:
    return dt.datetime.now(tz=dt.UTC) + dt.timedelta(seconds=settings.CLOCK_OFFSET_SECONDS)


_source: Clock = system_now


def now() -> dt.datetime:
    """The current time, timezone-aware (UTC)."""
    return _source()


@contextlib.contextmanager
def use_clock(source: Clock) -> Iterator[None]:
    global _source
    previous = _source
    _source = source
    try:
        yield
    finally:
        _source = previous


class FrozenClock:
    """A clock that stands still until moved; for tests and scripted demos."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self.current = start

    def __call__(self) -> dt.datetime:
        return self.current

    def advance(self, **delta: float) -> dt.datetime:
        self.current += dt.timedelta(**delta)
        return self.current

    def set(self, moment: dt.datetime) -> None:
        self.current = moment


@contextlib.contextmanager
def frozen(start: dt.datetime) -> Iterator[FrozenClock]:
    clock = FrozenClock(start)
    with use_clock(clock):
        yield clock


def local_text(moment: dt.datetime) -> str:
    """A moment as people read it in messages: local time (settings.TIME_ZONE), to the minute (config/formatting.py)."""
    from config.formatting import moment_text

    return moment_text(moment, label=False)
