"""Runs node's test runner on tests/js/: the JavaScript sealing reproduces every test vector
(docs/sealed-bid-vectors/), and the properties of tests/js/*.test.mjs hold."""

from __future__ import annotations

import re
import subprocess

from tests.js.conftest import ROOT


def test_node_test_runner_passes_every_javascript_test(node):
    result = subprocess.run([node, "--test", "tests/js/"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    summary = dict(re.findall(r"^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$", result.stdout, re.M))
    failures = [line for line in result.stdout.splitlines() if line.startswith("not ok")]
    assert result.returncode == 0, f"{failures}\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert summary.get("fail") == "0" and summary.get("cancelled") == "0", summary
    # 57 checks of the vectors, and the property tests beside them.
    assert int(summary["pass"]) >= 70, summary
