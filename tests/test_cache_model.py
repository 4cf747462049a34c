"""A model test: offload.cached behaves like a plain dict with TTL and LRU eviction."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import offload
from offload._clock import ManualClock

KEYS = st.integers(min_value=0, max_value=6)


class CacheModel(RuleBasedStateMachine):
    """Sequential calls, clock moves, invalidations and clears, against a dict model."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = ManualClock()
        self.ttl = 10.0
        self.maxsize = 3
        self.backend_calls = 0
        self.model: OrderedDict[int, tuple[tuple[int, int], float]] = OrderedDict()
        self.hits = self.misses = self.evictions = 0

        async def backend(key: int) -> tuple[int, int]:
            self.backend_calls += 1
            await asyncio.sleep(0)
            return (key, self.backend_calls)

        self.cached = offload.cached(
            ttl=self.ttl, maxsize=self.maxsize, clock=self.clock, sweep=3600
        )(backend)

    def teardown(self) -> None:
        self.loop.close()

    @rule(key=KEYS)
    def call(self, key: int) -> None:
        got = self.loop.run_until_complete(self.cached(key))
        now = self.clock()
        entry = self.model.get(key)
        if entry is not None and entry[1] > now:
            self.model.move_to_end(key)
            self.hits += 1
            expected = entry[0]
        else:
            self.model.pop(key, None)
            self.misses += 1
            expected = (key, self.backend_calls)
            self.model[key] = (expected, now + self.ttl)
            while len(self.model) > self.maxsize:
                self.model.popitem(last=False)
                self.evictions += 1
        assert got == expected

    @rule(seconds=st.sampled_from([0.0, 0.5, 4.0, 9.99, 10.0, 25.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(key=KEYS)
    def invalidate(self, key: int) -> None:
        assert self.cached.invalidate(key) == (self.model.pop(key, None) is not None)

    @rule()
    def clear(self) -> None:
        self.cached.clear()
        self.model.clear()

    @invariant()
    def counters_match(self) -> None:
        info = self.cached.info()
        assert info.size == len(self.model)
        assert (info.hits, info.misses, info.evictions) == (self.hits, self.misses, self.evictions)
        assert info.misses == self.backend_calls


CacheModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestCacheModel = CacheModel.TestCase
