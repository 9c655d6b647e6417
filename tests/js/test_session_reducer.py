"""The session page's reducer under Node (tests/js/session-reducer.test.mjs): snapshot + events = fresh snapshot."""

from __future__ import annotations

from tests.js.conftest import ROOT, run_node_test


def test_the_session_reducer_turns_an_old_snapshot_and_its_events_into_the_fresh_snapshot(node: str) -> None:
    run_node_test(node, ROOT / "tests" / "js" / "session-reducer.test.mjs")
