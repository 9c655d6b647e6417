"""Fixtures of the ledger tests: a private development PKI and a user who acts."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User


@pytest.fixture
def clerk(db: Any) -> User:
    return User.objects.create_user(username="clerk", password="Clerk-Password-2026")
