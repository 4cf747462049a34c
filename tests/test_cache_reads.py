"""Recorded reads: hits append to a buffer that is replayed before anyone observes it."""

from __future__ import annotations

import asyncio
import gc
import math
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import rule

import offload
from offload._clock import CoarseClock, ManualClock
from offload._recipes import _store
from test_cache_model import CacheModel


class BufferedCacheModel(CacheModel):
    """The dict model again, against a cache whose hits go to the read buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.coarse = CoarseClock(self.clock, thread=False)
        backend = self.cached.__wrapped__
        self.cached = offload.cached(
            ttl=self.ttl, maxsize=self.maxsize, clock=self.coarse, sweep=3600
        )(backend)

    @rule(seconds=st.sampled_from([0.0, 0.5, 4.0, 9.99, 10.0, 25.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.coarse.tick()  # the reading the hit path compares with: exact here


BufferedCacheModel.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
TestBufferedCacheModel = BufferedCacheModel.TestCase


def manual_coarse() -> tuple[ManualClock, CoarseClock]:
    base = ManualClock()
    coarse = CoarseClock(base, thread=False)
    coarse.tick()
    return base, coarse


async def test_hits_are_recorded_and_counted_by_info() -> None:
    _, coarse = manual_coarse()

    @offload.cached(ttl=60, clock=coarse)
    async def f(x: int) -> int:
        return x

    for x in range(3):
        await f(x)
    await f(0)  # the slow path makes the entry's ready state; then hits are recorded
    for _ in range(5):
        assert await f(1) == 1
    store = _store_of(f)
    assert store.reads  # recorded, not applied yet
    assert f.info().hits >= 5
    assert not store.reads  # info() replayed them


async def test_eviction_follows_the_recorded_reads() -> None:
    _, coarse = manual_coarse()
    calls: list[int] = []

    @offload.cached(ttl=60, maxsize=3, clock=coarse)
    async def f(x: int) -> int:
        calls.append(x)
        return x

    for x in (0, 1, 2):
        await f(x)
    for x in (0, 1, 2):
        await f(x)  # hits (the first may take the slow path once)
    await f(0)
    await f(2)  # recorded: 1 is now the least recently used
    await f(3)  # a miss: inserting evicts, after replaying the reads
    calls.clear()
    for x in (0, 2, 3):
        await f(x)
    assert calls == []
    await f(1)
    assert calls == [1]


async def test_a_long_read_buffer_is_drained_at_the_next_tick() -> None:
    _, coarse = manual_coarse()

    @offload.cached(clock=coarse)  # no TTL: the clock still bounds the buffer
    async def f(x: int) -> int:
        return x

    await f(1)
    await f(1)
    store = _store_of(f)
    for _ in range(_store.READS_LIMIT + 10):
        await f(1)
    assert len(store.reads) > _store.READS_LIMIT
    assert coarse.now != math.inf
    # What the ticking thread does at every tick.
    coarse.now = math.inf if coarse._overfull() else coarse.base()
    assert coarse.now == math.inf
    await f(1)  # the slow path: replays the buffer
    assert len(store.reads) == 0
    assert f.info().hits == _store.READS_LIMIT + 12


def test_hits_on_several_event_loops_are_all_counted() -> None:
    @offload.cached(ttl=60)
    async def f(x: int) -> int:
        return x

    async def hits() -> None:
        for _ in range(200):
            await f(1)

    asyncio.run(f(1))
    asyncio.run(hits())
    info = f.info()
    assert info.misses == 1
    assert info.hits == 200


def _store_of(f: Any) -> _store.Store[int]:
    core = f.info.__self__  # the CacheCore behind the wrapper
    store: _store.Store[int] = core.store
    return store


async def test_recorded_hits_keep_no_key_tuples_alive() -> None:
    _, coarse = manual_coarse()

    @offload.cached(ttl=60, clock=coarse)
    async def f(x: int, y: int) -> int:
        return x + y

    await f(1, 2)
    await f(1, 2)  # the slow path once (3.11 makes the entry's ready state)
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        for _ in range(1000):
            assert await f(1, 2) == 3
        after = len(gc.get_objects())
    finally:
        gc.enable()
    # Each hit builds the key (1, 2); the buffer holds the entry, not that tuple.
    assert after - before < 50
    assert f.info().hits == 1001
