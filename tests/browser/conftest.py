"""The English scenario needs the compiled catalogue, as the page tests do."""

from __future__ import annotations

import pytest

from tests.frontend.conftest import ensure_english_messages


@pytest.fixture(scope="session", autouse=True)
def english_messages() -> None:
    ensure_english_messages()
