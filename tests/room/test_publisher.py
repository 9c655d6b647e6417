"""Room events are sent from synchronous code over one long-lived event loop per process, so over one
channel-layer connection pool (tendering/room/publisher.py), in the order they were sent."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer

from tendering.room import groups
from tendering.room.publisher import publisher, send_after_commit


@pytest.fixture
def redis_layer() -> RedisChannelLayer:
    layer = get_channel_layer()
    if not isinstance(layer, RedisChannelLayer):
        pytest.skip("REDIS_URL is not set: the in-memory layer is sent to in the consumers' loop")
    return layer


def test_many_events_sent_from_sync_code_use_one_loop_and_arrive_in_order(redis_layer: RedisChannelLayer) -> None:
    group = groups.group_name("test", uuid.uuid4().int % 10**9, groups.ALL)

    async def listen() -> str:
        channel = await redis_layer.new_channel()
        await redis_layer.group_add(group, channel)
        return channel

    channel = publisher.run(listen())
    started = publisher.loops_started
    for n in range(50):
        send_after_commit(group, {"type": groups.EVENT_MESSAGE, "frame": {"seq": n}})
    assert publisher.loops_started == started
    # Every send went through the one loop's connection pool: the layer holds no pool for another loop.
    assert list(redis_layer._layers) == [publisher._running_loop()]

    async def receive_all() -> list[int]:
        return [(await redis_layer.receive(channel))["frame"]["seq"] for _ in range(50)]

    assert publisher.run(receive_all()) == list(range(50))


def test_a_send_the_layer_refuses_is_logged_not_raised(
    redis_layer: RedisChannelLayer, caplog: pytest.LogCaptureFixture
) -> None:
    # Channels refuses group names with characters outside its alphabet.
    send_after_commit("not a group name!", {"type": groups.EVENT_MESSAGE, "frame": {"seq": 1}})
    assert "could not send a room event to not a group name!" in caplog.text


def test_the_publisher_starts_a_new_loop_after_a_fork(redis_layer: RedisChannelLayer, monkeypatch) -> None:
    publisher.run(asyncio.sleep(0))
    before = publisher.loops_started
    monkeypatch.setattr(publisher, "_pid", -1)  # as a child process sees the parent's publisher
    publisher.run(asyncio.sleep(0))
    assert publisher.loops_started == before + 1
