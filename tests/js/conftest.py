"""The JavaScript sealing's tests need Node.js and the npm packages (``make js`` installs them)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


@pytest.fixture(scope="session")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip(
            "Node.js is not installed (Debian: apt-get install nodejs npm), so the JavaScript sealing is not tested"
        )
    if not (ROOT / "node_modules" / "@hpke" / "core").exists():
        pytest.skip("the npm packages are not installed: run `make js` (npm ci)")
    return found


def run_node_test(node: str, script: Path, env: dict[str, str] | None = None) -> str:
    """Run one of the Node test files (``node --test``) and require that it ran tests and none failed; its output.

    The timeout only keeps a hung Node from hanging the suite."""
    ran = subprocess.run(
        [node, "--test", str(script)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "# fail 0" in ran.stdout and "# pass 0" not in ran.stdout, ran.stdout
    return ran.stdout
