"""The session page's reducer under Node (tests/js/session-reducer.test.mjs): snapshot + events = fresh snapshot."""

from __future__ import annotations

import subprocess

from tests.js.conftest import ROOT


def test_the_session_reducer_turns_an_old_snapshot_and_its_events_into_the_fresh_snapshot(node: str) -> None:
    ran = subprocess.run(
        [node, "--test", str(ROOT / "tests" / "js" / "session-reducer.test.mjs")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "# fail 0" in ran.stdout and "# pass 0" not in ran.stdout
