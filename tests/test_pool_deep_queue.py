"""Deep queues: a queued task holds few objects the garbage collector must traverse."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")

QUEUED = 2000


def wait_for(event: threading.Event) -> None:
    event.wait(30)


def identity(x: int) -> int:
    return x


def tracked_per_task(make: object, count: int) -> float:
    """Garbage-collected objects alive per call of ``make()`` (kept until counted)."""
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        kept = [make() for _ in range(count)]  # type: ignore[operator]
        after = len(gc.get_objects())
    finally:
        gc.enable()
    del kept
    return (after - before - 1) / count  # the list itself: 1


async def test_a_queued_submitted_task_holds_three_tracked_objects() -> None:
    async with offload.Pool("process", max_workers=1) as pool:
        busy = pool.submit(time.sleep, 60)  # the worker is taken: the rest queue
        handles = [pool.submit(identity, 1)]  # first use of the function: cached now

        def submit() -> offload.TaskHandle[int]:
            handle = pool.submit(identity, 1)
            handles.append(handle)
            return handle

        # The handle, its task, the task's future: no callback objects, no lists.
        assert tracked_per_task(submit, QUEUED) < 3.5
        busy.cancel()  # the worker is stopped and replaced
        assert await asyncio.gather(*handles) == [1] * (QUEUED + 1)


async def test_a_queued_run_call_adds_two_tracked_objects() -> None:
    release = threading.Event()
    loop = asyncio.get_running_loop()

    async def waiter() -> None:  # what any caller awaiting a future holds
        await loop.create_future()

    async def started(make: Callable[[], Coroutine[Any, Any, Any]]) -> tuple[float, list[Any]]:
        """Tracked objects per coroutine, each run as a task up to its first wait."""
        gc.collect()
        gc.disable()
        try:
            before = len(gc.get_objects())
            tasks = [loop.create_task(make()) for _ in range(QUEUED)]
            await asyncio.sleep(0)
            after = len(gc.get_objects())
        finally:
            gc.enable()
        return (after - before - 1) / QUEUED, tasks

    async with offload.Pool("thread", max_workers=1) as pool:
        await pool.run(identity, 1)  # first use of the function
        busy = pool.submit(wait_for, release)  # the worker is taken: the rest queue
        floor, waiters = await started(waiter)
        for task in waiters:
            task.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        made, calls = await started(lambda: pool.run(identity, 1))
        # Over what a caller awaiting a future holds: the pool's task object and the
        # thread kind's copy of the caller's context.
        assert made - floor < 2.5
        release.set()
        await busy
        assert await asyncio.gather(*calls) == [1] * QUEUED


async def test_progress_reported_after_submit_is_still_delivered() -> None:
    async with offload.Pool("thread", max_workers=1) as pool:
        handle = pool.submit(report_three)
        seen = [value async for value in handle.progress()]
        assert seen == [1, 2, 3]
        assert await handle == 3


def report_three() -> int:
    for i in (1, 2, 3):
        offload.report(i)
    return 3
