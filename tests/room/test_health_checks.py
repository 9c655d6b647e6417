"""The rooms' database threads skip Django's health check (``SELECT 1`` before a call's first query, with
CONN_HEALTH_CHECKS) for a connection the thread used without error less than ``HEALTHY_FOR_SECONDS`` ago, and
still close a connection whose query failed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections

from accounts.models import User
from tendering.room import consumer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def health_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    if (
        not connections["default"].settings_dict["CONN_HEALTH_CHECKS"]
        or not connections["default"].settings_dict["CONN_MAX_AGE"]
    ):
        pytest.skip("the database is set without persistent, health-checked connections")
    checks: list[str] = []
    wrapper = type(connections["default"])
    original = wrapper.is_usable

    def is_usable(connection: Any) -> bool:
        checks.append(connection.alias)
        return bool(original(connection))

    monkeypatch.setattr(wrapper, "is_usable", is_usable)
    yield checks
    asyncio.run(asyncio.to_thread(consumer.close_db_threads_connections))


def count_users() -> int:
    return User.objects.count()


def test_a_connection_used_within_the_second_is_not_checked_again(
    health_checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = consumer.in_db_thread(count_users)

    async def calls(n: int) -> None:
        for _ in range(n):
            await run()

    asyncio.run(calls(2 * consumer._db_pool.threads() + 2))
    assert health_checks == []
    # Without the allowance, every call on an open connection is checked first (Django's behaviour).
    monkeypatch.setattr(consumer, "HEALTHY_FOR_SECONDS", 0.0)
    asyncio.run(calls(2 * consumer._db_pool.threads() + 2))
    assert len(health_checks) >= consumer._db_pool.threads() + 2


def test_a_connection_whose_query_failed_is_checked_after_the_call(health_checks: list[str]) -> None:
    def fail() -> None:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT no_such_column FROM accounts_user")

    async def call(function: Any) -> Any:
        return await consumer.in_db_thread(function)()

    asyncio.run(call(count_users))
    assert health_checks == []
    with pytest.raises(Exception, match="no_such_column"):
        asyncio.run(call(fail))
    # The error marked the connection: Django's close_old_connections checked it after the call, not trusting it.
    assert health_checks == ["default"]
