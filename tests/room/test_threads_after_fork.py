"""A process forked after the rooms' database threads or the publisher ran gets threads of its own.

A forked child inherits the parent's pool objects but none of their threads: work handed to them would
wait for ever (a Daphne forked by a test hung on its first WebSocket). The child here must finish its
work within its alarm, or it is killed and the test fails.
"""

from __future__ import annotations

import asyncio
import os
import signal

from tendering.room import consumer
from tendering.room.publisher import Publisher


def _in_a_forked_child(work: object) -> int:
    """Run ``work()`` in a forked child; its exit status (0 = done, else failed or killed by its alarm)."""
    pid = os.fork()
    if pid == 0:  # the child
        signal.alarm(20)
        try:
            work()  # type: ignore[operator]
        except BaseException:
            os._exit(2)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return status


def test_a_forked_child_runs_its_database_work_in_threads_of_its_own() -> None:
    def thread_name() -> str:
        import threading

        return threading.current_thread().name

    run = consumer.in_db_thread(thread_name)
    parent_thread = asyncio.run(run())
    assert parent_thread.startswith("room-db")

    def child_work() -> None:
        assert asyncio.run(run()).startswith("room-db")

    assert _in_a_forked_child(child_work) == 0


def test_a_forked_child_starts_its_own_publisher_loop() -> None:
    publisher = Publisher()

    async def answer() -> int:
        return 42

    assert publisher.run(answer()) == 42
    assert publisher.loops_started == 1

    def child_work() -> None:
        assert publisher.run(answer(), timeout=10) == 42
        assert publisher.loops_started == 2

    assert _in_a_forked_child(child_work) == 0
