"""`make run` installs only what the platform needs and says what it is doing; Ceph, Redis and
Chromium belong to `make test` (deploy/install-system-deps.sh, Makefile)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "install-system-deps.sh"
TEST_ONLY = {"chromium", "radosgw", "ceph-mon", "ceph-osd", "poppler-utils"}


def missing(purpose: str) -> set[str]:
    """What the script would install for ``purpose`` on a machine with no program on its PATH."""
    result = subprocess.run(
        ["/bin/bash", str(SCRIPT), purpose, "--check"],
        env={"PATH": "/nonexistent"},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.split())


def test_make_run_installs_what_the_platform_needs_and_nothing_only_the_tests_need():
    run = missing("run")
    assert {"gettext", "nodejs", "npm"} <= run
    assert not run & TEST_ONLY


def test_make_test_installs_the_tests_s3_server_browser_and_pdf_reader_too():
    test = missing("test")
    assert missing("run") <= test
    assert test >= TEST_ONLY


def test_an_unknown_purpose_is_refused_with_its_usage():
    result = subprocess.run(["/bin/bash", str(SCRIPT), "everything"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "usage:" in result.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_asks_for_the_run_packages_and_make_test_for_the_test_packages_too():
    def plan(target: str) -> str:
        # -n: print the commands without running them; -B: as on a fresh machine
        return subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, check=True).stdout

    run, test = plan("run"), plan("test")
    assert "install-system-deps.sh run" in run and "install-system-deps.sh test" not in run
    assert "install-system-deps.sh test" in test
    # What it is doing, said while it does it.
    for step in ("Installing the Python packages", "Bundling the browser scripts", "Migrating the database"):
        assert step in run, step
    assert "pip install --quiet --disable-pip-version-check -c" not in run  # pip's own progress is shown
    # The platform's packages for `make run`; the tests' and linters' tools only for `make test`.
    assert "-c constraints.txt -e .\n" in run and "'.[dev]'" not in run
    assert "-c constraints.txt -e '.[dev]'" in test
