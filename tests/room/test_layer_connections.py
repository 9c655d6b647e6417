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


def test_groups_joined_at_once_are_what_group_add_makes_and_each_hears_its_events() -> None:
    from tendering.room.consumer import join_groups

    layer = get_channel_layer()
    if not isinstance(layer, RedisChannelLayer):
        pytest.skip("REDIS_URL is not set: the in-memory layer's own group_add is used")
    room_id = uuid.uuid4().int % 10**9
    names = [groups.group_name("test", room_id, audience) for audience in (groups.ALL, groups.STAFF, "bidder:7")]

    async def joined() -> list[tuple[bool, int]]:
        pipelined, one_by_one = await layer.new_channel(), await layer.new_channel()
        await join_groups(layer, names, pipelined)
        for name in names:
            await layer.group_add(name, one_by_one)
        found = []
        for name in names:
            connection = layer.connection(layer.consistent_hash(name))
            key = layer._group_key(name)
            members = set(await connection.zrange(key, 0, -1))
            found.append((members == {pipelined.encode(), one_by_one.encode()}, await connection.ttl(key)))
            await layer.group_send(name, {"type": groups.EVENT_MESSAGE, "frame": {"group": name}})
        heard = [(await layer.receive(pipelined))["frame"]["group"] for _ in names]
        assert heard == names
        for name in names:
            await layer.group_discard(name, pipelined)
            await layer.group_discard(name, one_by_one)
        return found

    found = asyncio.run(joined())
    assert [same for same, _ttl in found] == [True, True, True]
    assert all(0 < ttl <= layer.group_expiry for _same, ttl in found)
