"""The hall page's reducer under Node against the checked-in recording of a whole opening's frames
(tests/js/fixtures/hall-frames.json, written by tests/opening/test_hall_consumer.py with
``ETENDER_RECORD_HALL_FRAMES=1``; that test also runs the reducer over the frames it has just recorded)."""

from __future__ import annotations

from tests.js.conftest import ROOT, run_node_test


def test_the_pages_reducer_turns_each_recorded_old_snapshot_and_its_events_into_the_fresh_snapshot(node: str) -> None:
    fixture = ROOT / "tests" / "js" / "fixtures" / "hall-frames.json"
    assert fixture.stat().st_size > 0
    run_node_test(node, ROOT / "tests" / "js" / "hall-reducer.test.mjs")
