"""The English scenario needs the compiled catalogue, as the page tests do."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.frontend.conftest import ensure_english_messages


@pytest.fixture(scope="session", autouse=True)
def english_messages() -> None:
    ensure_english_messages()


# A hung browser test is stopped by pytest-timeout (300 s), whose dump shows threads only; Playwright's
# sync API waits inside greenlets. This prints every greenlet's stack shortly before, so the line that
# waited is known.
GREENLET_DUMP_AFTER_SECONDS = 240


def _dump_greenlets(nodeid: str) -> None:
    import gc
    import sys
    import traceback

    import greenlet

    lines = [f"==== {nodeid} still running after {GREENLET_DUMP_AFTER_SECONDS} s; greenlet stacks:"]
    for obj in gc.get_objects():
        if isinstance(obj, greenlet.greenlet) and obj.gr_frame is not None:
            lines.append(f"--- {obj!r}")
            lines.extend(traceback.format_stack(obj.gr_frame))
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    timer = threading.Timer(GREENLET_DUMP_AFTER_SECONDS, _dump_greenlets, args=(item.nodeid,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
