"""Pool.map: bounded window, lazy input, ordered or not, cancels on early exit or error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from tests import _pool_helpers as h

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")


async def test_map_ordered_yields_results_in_input_order() -> None:
    async with offload.Pool(max_workers=2) as pool:
        assert [r async for r in pool.map(h.square, range(100))] == [i * i for i in range(100)]


async def test_map_unordered_yields_every_result() -> None:
    async with offload.Pool(max_workers=2) as pool:
        got = [r async for r in pool.map(h.square, range(100), ordered=False)]
        assert sorted(got) == [i * i for i in range(100)]


async def test_map_accepts_async_iterables() -> None:
    async def numbers() -> AsyncIterator[int]:
        for i in range(10):
            await asyncio.sleep(0)
            yield i

    async with offload.Pool("thread", max_workers=2) as pool:
        assert [r async for r in pool.map(h.square, numbers())] == [i * i for i in range(10)]


async def test_map_never_reads_more_than_the_window_ahead() -> None:
    pulled = 0

    def endless() -> Iterator[int]:
        nonlocal pulled
        while True:
            pulled += 1
            yield pulled

    async with offload.Pool(max_workers=2) as pool:
        results = pool.map(h.square, endless(), window=4)
        got = [await anext(results) for _ in range(10)]
        assert got == [i * i for i in range(1, 11)]
        assert pulled <= 10 + 4
        await results.aclose()  # type: ignore[attr-defined]


async def test_map_stops_outstanding_tasks_when_the_consumer_stops() -> None:
    async with offload.Pool(max_workers=2) as pool:
        results = pool.map(h.sleep_then, [0.01] + [30] * 5, window=4)
        assert await anext(results) is None
        await results.aclose()  # type: ignore[attr-defined]
        await asyncio.sleep(0.05)  # cancellation callbacks run on the next loop turns
        stats = pool.stats()
        assert stats.queued == 0
        assert stats.cancelled == 3  # the window held three more
        assert await asyncio.wait_for(pool.run(h.square, 3), 10) == 9


async def test_map_raises_the_first_failure_and_cancels_the_rest() -> None:
    async with offload.Pool(max_workers=2) as pool:
        got: list[object] = []

        async def consume() -> None:
            async for r in pool.map(h.raise_boom, ["a", "b", "c"]):
                got.append(r)

        with pytest.raises(h.Boom):
            await consume()
        assert got == []
        assert await pool.run(h.square, 2) == 4


async def test_map_with_a_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    async with offload.Pool("thread", max_workers=2) as pool:
        got = [r async for r in pool.map(h.square, range(20), progress=True)]
    assert got == [i * i for i in range(20)]
