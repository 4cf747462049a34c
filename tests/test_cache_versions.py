"""offload.cached on the running Python: the hit path docs/recipes.md describes for it.

Python 3.11: a hit returns the entry's completed awaitable, read when the function is
called. Python 3.12+: every call returns a coroutine, the cache is read when it runs.
`make test` runs this file on each supported Python found; only the public API is used.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import sys
import warnings

import pytest

import offload

ON_3_11 = sys.version_info < (3, 12)


class Counter:
    def __init__(self) -> None:
        self.calls: list[int] = []

    @offload.cached(ttl=60)
    async def double(self, x: int) -> int:
        self.calls.append(x)
        return x * 2


def counting() -> tuple[list[int], offload.Cached[[int], int]]:
    calls: list[int] = []

    @offload.cached(ttl=60)
    async def double(x: int) -> int:
        calls.append(x)
        return x * 2

    return calls, double


def never_awaited_warnings(make: object) -> list[str]:
    """The warnings raised when the awaitable `make()` returns is dropped unawaited."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pending = [make()]  # type: ignore[operator]
        pending.clear()
        gc.collect()
    return [str(w.message) for w in caught]


def test_a_cached_function_and_method_are_coroutine_functions_on_every_version() -> None:
    _, double = counting()
    assert inspect.iscoroutinefunction(double)
    if sys.version_info < (3, 14):  # asyncio.iscoroutinefunction is deprecated from 3.14
        assert asyncio.iscoroutinefunction(double)
    assert inspect.iscoroutinefunction(Counter().double)  # a bound method of one
    if sys.version_info < (3, 14):
        assert asyncio.iscoroutinefunction(Counter().double)
    assert inspect.iscoroutinefunction(Counter.double.__call__)


@pytest.mark.skipif(not ON_3_11, reason="Python 3.11's hit path")
async def test_on_3_11_a_hit_is_the_completed_awaitable_read_when_called() -> None:
    calls, double = counting()
    assert await double(1) == 2
    hit = double(1)
    assert not inspect.iscoroutine(hit)
    assert asyncio.iscoroutine(hit)  # asyncio accepts it wherever a coroutine goes
    assert await hit == 2
    assert await hit == 2  # the same hit awaited twice
    hit = double(1)
    double.invalidate(1)
    assert await hit == 2
    assert calls == [1]  # the value as it was when called: no second call
    assert await double(1) == 2  # a miss again, stored again
    assert never_awaited_warnings(lambda: double(1)) == []  # a hit dropped is silent
    counter = Counter()
    assert await counter.double(3) == 6
    method_hit = counter.double(3)
    assert not inspect.iscoroutine(method_hit)
    assert await method_hit == 6
    assert counter.calls == [3]


@pytest.mark.skipif(ON_3_11, reason="the hit path of Python 3.12 and later")
async def test_from_3_12_a_hit_is_a_coroutine_that_reads_the_cache_when_it_runs() -> None:
    calls, double = counting()
    assert await double(1) == 2
    hit = double(1)
    assert inspect.iscoroutine(hit)
    double.invalidate(1)
    assert await hit == 2
    assert calls == [1, 1]  # read when it ran, after the invalidation: a second call
    with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
        await hit
    dropped = never_awaited_warnings(lambda: double(1))
    assert len(dropped) == 1
    assert "never awaited" in dropped[0]
    counter = Counter()
    assert await counter.double(3) == 6
    method_hit = counter.double(3)
    assert inspect.iscoroutine(method_hit)
    assert await method_hit == 6
    assert counter.calls == [3]


async def test_a_hit_is_counted_and_awaitable_the_same_way_on_every_version() -> None:
    calls, double = counting()
    assert await double(2) == 4
    assert list(await asyncio.gather(double(2), asyncio.create_task(double(2)))) == [4, 4]
    assert await asyncio.wait_for(double(2), timeout=5) == 4
    info = double.info()
    assert (info.misses, info.hits) == (1, 3)
    assert calls == [2]
