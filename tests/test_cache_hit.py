"""offload.cached's hit path: what a call returns, which event loops can await it, and
the coarse clock that expiry is compared with.

Every test runs with both hit paths: hits returning the entry's completed future (the
default on Python 3.11) and an ``async def`` wrapper (the default on 3.12+), so both
are exercised whatever the Python running the tests.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import math
import sys
import threading
import time
import types
from collections.abc import Awaitable, Iterator
from typing import Any

import pytest
import uvloop
from hypothesis import given, settings
from hypothesis import strategies as st

import offload
from offload import _clock
from offload._clock import CoarseClock, ManualClock
from offload._recipes import _hitpath
from offload._recipes._cached import Cached


@pytest.fixture(autouse=True, params=[True, False], ids=["ready-hits", "async-hits"])
def ready_hits(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Which hit path functions decorated in the test get."""
    monkeypatch.setattr(_hitpath, "HITS_RETURN_READY", request.param)
    return bool(request.param)


def drop(objects: list[Any]) -> None:
    objects.clear()
    gc.collect()


def counting() -> tuple[list[int], Cached[[int], int]]:
    calls: list[int] = []

    @offload.cached(ttl=60)
    async def double(x: int) -> int:
        calls.append(x)
        return x * 2

    return calls, double


def test_a_cached_function_passes_as_a_coroutine_function(ready_hits: bool) -> None:
    _, double = counting()
    assert inspect.iscoroutinefunction(double)
    if sys.version_info < (3, 14):  # asyncio.iscoroutinefunction is deprecated from 3.14
        assert asyncio.iscoroutinefunction(double)
    # ... and yet with ready hits it runs as a plain function, even under a tracer.
    traced: list[str] = []

    def tracer(frame: types.FrameType, event: str, arg: object) -> Any:
        traced.append(event)
        return tracer

    sys.settrace(tracer)
    try:
        awaitable = double(1)
    finally:
        sys.settrace(None)
    assert ("call" in traced) is ready_hits
    assert asyncio.run(awaitable) == 2


async def test_a_hit_is_accepted_wherever_a_coroutine_is(ready_hits: bool) -> None:
    calls, double = counting()
    assert await double(1) == 2  # the miss stores the value
    assert await asyncio.create_task(double(1)) == 2
    assert list(await asyncio.gather(double(1), double(1), double(2))) == [2, 2, 4]
    assert await asyncio.wait_for(double(1), timeout=5) == 2
    assert await asyncio.shield(double(1)) == 2
    assert await asyncio.ensure_future(double(1)) == 2
    async with asyncio.TaskGroup() as group:
        task = group.create_task(double(1))
    assert task.result() == 2
    assert repr(asyncio.create_task(double(1)))  # a task over a hit has a repr
    hit = double(1)
    assert asyncio.iscoroutine(hit)
    assert not asyncio.isfuture(hit)
    assert await hit == 2
    if ready_hits:
        assert await hit == 2  # the entry's completed future can be awaited again
    assert calls == [1, 2]


async def wait(awaitable: Awaitable[int]) -> int:
    return await awaitable


def test_a_hit_is_awaitable_from_any_event_loop(ready_hits: bool) -> None:
    calls, double = counting()
    assert asyncio.run(double(3)) == 6  # stored on a loop that is now closed
    assert asyncio.run(double(3)) == 6  # run directly on a second loop ...

    async def twice() -> list[int]:
        return [await double(3), await double(3)]

    assert asyncio.run(twice()) == [6, 6]  # ... awaited on a third
    if ready_hits:  # one completed future, awaited from two loops
        hit = double(3)
        assert asyncio.run(wait(hit)) == uvloop.run(wait(hit)) == 6
    assert uvloop.run(twice()) == [6, 6]
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(double(3)) == 6
        assert loop.run_until_complete(loop.create_task(double(3))) == 6
    finally:
        loop.close()
    results: list[int] = []
    thread = threading.Thread(target=lambda: results.append(asyncio.run(twice())[0]))
    thread.start()
    thread.join()
    assert results == [6]
    assert calls == [3]


def test_a_hit_never_awaited_warns_only_if_it_is_a_coroutine(ready_hits: bool) -> None:
    _, double = counting()
    asyncio.run(double(1))
    pending = [double(1)]
    if ready_hits:
        drop(pending)  # with warnings as errors, a warning here would fail the test
    else:
        with pytest.warns(RuntimeWarning, match="never awaited"):
            drop(pending)


def test_a_miss_never_awaited_warns_like_a_coroutine_and_calls_nothing() -> None:
    calls, double = counting()
    pending = [double(5)]
    assert inspect.iscoroutine(pending[0])
    with pytest.warns(RuntimeWarning, match="double' was never awaited"):
        drop(pending)
    assert calls == []
    assert double.info().misses == 0


async def test_an_unhashable_argument_raises_when_awaited() -> None:
    @offload.cached(ttl=60)
    async def f(items: object) -> object:
        return items

    pending = f([1, 2])  # no error yet, as with an async def
    with pytest.raises(TypeError, match=r"argument items \(list"):
        await pending


async def test_the_cache_is_read_when_the_function_is_called() -> None:
    calls, double = counting()
    await double(1)
    hit = double(1)
    double.invalidate(1)
    assert await hit == 2  # the value as it was when called
    assert await double(1) == 2
    assert calls == [1, 1]


async def test_hits_are_counted() -> None:
    _, double = counting()
    await double(1)
    for _ in range(10):
        await double(1)
    info = double.info()
    assert (info.hits, info.misses) == (10, 1)


async def test_an_unbounded_cache_serves_hits_too() -> None:
    calls: list[int] = []

    @offload.cached(maxsize=None)
    async def f(x: int) -> int:
        calls.append(x)
        return x

    assert [await f(i % 3) for i in range(9)] == [0, 1, 2] * 3
    assert calls == [0, 1, 2]
    assert f.info().hits == 6


# -- the coarse clock -------------------------------------------------------------------


def manual_coarse(resolution: float = 0.01) -> tuple[ManualClock, CoarseClock]:
    base = ManualClock()
    return base, CoarseClock(base, resolution, thread=False)


async def test_an_entry_is_served_at_most_until_the_next_tick_after_expiry() -> None:
    base, coarse = manual_coarse()
    calls: list[int] = []

    @offload.cached(ttl=10, clock=coarse)
    async def f(x: int) -> int:
        calls.append(x)
        return len(calls)

    assert await f(1) == 1
    assert await f(1) == 1  # not ticking yet: the exact clock decided (and was published)
    base.advance(9.995)
    coarse.tick()
    assert await f(1) == 1
    base.advance(0.01)  # expired by 5 ms, and the clock has not ticked since
    assert await f(1) == 1  # served late: this is the precision trade-off
    coarse.tick()
    assert await f(1) == 2  # the first tick after expiry ends it
    assert calls == [1, 1]


async def test_stale_while_revalidate_and_negative_entries_with_a_coarse_clock() -> None:
    base, coarse = manual_coarse()
    calls: list[int] = []
    fail = False

    @offload.cached(ttl=10, stale=5, negative_ttl=1, clock=coarse)
    async def f(x: int) -> int:
        calls.append(x)
        if fail:
            raise KeyError(x)
        return len(calls)

    assert await f(1) == 1
    base.advance(11)
    coarse.tick()
    assert await f(1) == 1  # stale: served at once, one refresh started
    assert await f(1) == 1
    for _ in range(5):
        await asyncio.sleep(0)
    assert await f(1) == 2  # refreshed
    assert f.info().refreshes == 1
    fail = True
    for _ in range(2):
        with pytest.raises(KeyError):
            await f(2)  # the second raise comes from the negative entry
    assert calls == [1, 1, 2]


async def test_a_coarse_clock_that_is_not_ticking_never_serves_an_expired_entry() -> None:
    base, coarse = manual_coarse()

    @offload.cached(ttl=10, clock=coarse)
    async def f(x: int) -> float:
        return base()

    first = await f(1)
    coarse.now = math.inf  # what a stopped ticker leaves behind
    base.advance(10.001)
    assert await f(1) > first


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.floats(min_value=0.0, max_value=0.02), min_size=1, max_size=60))
def test_lateness_is_bounded_by_the_resolution(steps: list[float]) -> None:
    """Ticking every `resolution` of (manual) time, no entry is served a tick late."""
    resolution, ttl = 0.01, 0.05
    base, coarse = manual_coarse(resolution)
    stored: dict[int, float] = {}

    @offload.cached(ttl=ttl, clock=coarse)
    async def f(x: int) -> int:
        stored[x] = base()  # the TTL counts from here (the call takes no time)
        return len(stored)

    async def run() -> None:
        last_tick = base()
        coarse.tick()
        await f(0)
        for step in steps:
            base.advance(step)
            if base() - last_tick >= resolution:  # the ticker's schedule
                last_tick = base()
                coarse.tick()
            before = stored[0]
            await f(0)
            # Compared as the cache computes expiry (stored + ttl), not as a difference:
            # the two roundings can differ in the last bit.
            if stored[0] == before:  # served from the cache
                assert base() < before + ttl + resolution
            else:  # called again: only once the entry had expired
                assert base() >= before + ttl

    asyncio.run(run())


def is_ticking(clock: CoarseClock) -> bool:
    return clock.ticking


@pytest.fixture
def ticking() -> Iterator[CoarseClock]:
    clock = CoarseClock(resolution=0.005, idle=0.05)
    yield clock
    deadline = time.monotonic() + 10
    while is_ticking(clock) and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_ticker_refreshes_now_and_stops_when_idle(ticking: CoarseClock, no_leaks: None) -> None:
    assert ticking.now == math.inf
    assert not ticking.ticking
    start = ticking.read()
    assert is_ticking(ticking)  # a call, so mypy does not keep the narrowing above
    deadline = time.monotonic() + 10
    while not start < ticking.now < math.inf and time.monotonic() < deadline:
        time.sleep(0.005)
    assert start < ticking.now < math.inf  # refreshed by the thread
    while is_ticking(ticking) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not ticking.ticking  # nobody read it: the thread stopped
    assert ticking.now == math.inf


def test_a_cache_in_use_keeps_its_clock_ticking(ticking: CoarseClock, no_leaks: None) -> None:
    @offload.cached(ttl=60, clock=ticking)
    async def f(x: int) -> int:
        return x

    async def use() -> None:
        await f(1)
        until = time.monotonic() + 0.3  # several idle periods of the clock
        hits = 0
        while time.monotonic() < until or hits <= 10:
            assert await f(1) == 1
            hits += 1
            await asyncio.sleep(0.001)
        # Checked here, just after a hit: asyncio.run's shutdown may outlast the idle
        # period on a loaded machine.
        assert ticking.ticking  # still in use at the end

    asyncio.run(use())
    assert f.info().hits > 10


def test_after_a_fork_the_child_starts_its_own_ticker(ticking: CoarseClock) -> None:
    ticking.read()
    old = ticking._thread
    _clock._after_fork_in_child()  # what os.fork runs in the child
    assert not ticking.ticking
    assert ticking.now == math.inf
    assert ticking.read() < math.inf
    assert ticking._thread is not old
    assert old is not None
    old.join(5)  # the parent's thread notices it was replaced and ends
    assert not old.is_alive()


def test_expiry_with_the_default_clock_happens() -> None:
    calls: list[int] = []

    @offload.cached(ttl=0.05)
    async def f(x: int) -> int:
        calls.append(x)
        return len(calls)

    async def main() -> None:
        assert await f(1) == 1
        deadline = time.monotonic() + 10
        while await f(1) == 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    asyncio.run(main())
    assert len(calls) == 2


def test_bad_resolutions_are_value_errors() -> None:
    with pytest.raises(ValueError, match="resolution"):
        offload.cached(ttl=1, resolution=-1)
    with pytest.raises(ValueError, match="resolution"):
        CoarseClock(resolution=0)


class Users:
    def __init__(self) -> None:
        self.calls = 0

    @offload.cached(ttl=60)
    async def get(self, user_id: int) -> tuple[int, int]:
        self.calls += 1
        return (user_id, self.calls)


def test_a_method_hit_is_a_completed_awaitable_too(ready_hits: bool) -> None:
    users = Users()
    assert asyncio.run(users.get(1)) == (1, 1)  # a miss: a coroutine
    hit = users.get(1)
    assert inspect.iscoroutine(hit) is not ready_hits  # else the entry's completed future
    assert asyncio.iscoroutine(hit)
    assert asyncio.run(hit) == (1, 1)

    async def again() -> list[tuple[int, int]]:
        return list(await asyncio.gather(users.get(1), users.get(1)))

    assert asyncio.run(again()) == [(1, 1), (1, 1)]
    assert users.calls == 1
    assert Users.get.info().hits >= 3
    # Frameworks see coroutine functions: obj.method is a bound method of one, and
    # Cls.method is a callable object whose __call__ is one.
    assert inspect.iscoroutinefunction(users.get)
    assert inspect.iscoroutinefunction(Users.get.__call__)
