"""The JavaScript sealing's tests need Node.js and the npm packages (``make js`` installs them)."""

from __future__ import annotations

import shutil
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
