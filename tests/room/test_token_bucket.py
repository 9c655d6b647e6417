"""A room connection's token bucket (tendering.room.consumer.TokenBucket), on a clock the test moves."""

from __future__ import annotations

from tendering.room.consumer import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_lets_a_burst_through_then_refills_at_its_rate_and_never_above_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=30, now=clock)
    assert [bucket.take() for _ in range(31)] == [True] * 30 + [False]
    clock.now += 0.25  # 2.5 tokens back: two frames
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock.now += 3600  # an hour idle fills it to the burst, not beyond
    assert sum(bucket.take() for _ in range(100)) == 30
