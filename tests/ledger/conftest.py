"""Fixtures of the ledger tests: a private development PKI and a user who acts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from archive import signing


@pytest.fixture(autouse=True)
def development_pki(settings: Any, tmp_path: Path) -> Iterator[Path]:
    """Every test signs with a PKI of its own, never with var/pki."""
    settings.DEVELOPMENT_PKI_DIR = tmp_path / "pki"
    signing.reset_platform_signer_cache()
    yield settings.DEVELOPMENT_PKI_DIR
    signing.reset_platform_signer_cache()


@pytest.fixture
def clerk(db: Any) -> User:
    return User.objects.create_user(username="clerk", password="Clerk-Password-2026")
