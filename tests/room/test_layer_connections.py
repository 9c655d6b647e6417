"""The channel layer's Redis connections (config/settings.py, CHANNEL_LAYERS): a new connection costs no
lookup of redis-py's version in the installed packages' metadata, and still tells Redis its name and version
(CLIENT SETINFO)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
import redis.utils
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from redis.driver_info import DriverInfo

from tendering.room import groups


def test_new_channel_layer_connections_look_nothing_up_and_still_name_the_driver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layer = get_channel_layer()
    if not isinstance(layer, RedisChannelLayer):
        pytest.skip("REDIS_URL is not set: the in-memory layer makes no connections")
    lookups = []
    original = redis.utils.get_lib_version

    def counted() -> str:
        lookups.append(1)
        return original()

    monkeypatch.setattr(redis.utils, "get_lib_version", counted)

    async def connect_many() -> DriverInfo:
        # A new event loop: channels_redis makes a new pool, so new connections, as under a crowd of sockets.
        channel = await layer.new_channel()
        group = groups.group_name("test", uuid.uuid4().int % 10**9, groups.ALL)
        await asyncio.gather(*(layer.group_add(group, channel) for _ in range(8)))
        connection = layer.connection(layer.consistent_hash(group))
        driver = connection.connection_pool.connection_kwargs["driver_info"]
        await layer.group_discard(group, channel)
        await connection.aclose()
        return driver

    driver = asyncio.run(connect_many())
    assert lookups == []
    # What each connection sends with CLIENT SETINFO (where the server knows it: Redis 7.2 and later).
    assert (driver.formatted_name, driver.lib_version) == ("redis-py", original())
