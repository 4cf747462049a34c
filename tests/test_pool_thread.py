"""The thread kind: same API, tasks in this process, cooperative cancellation."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest
from tests import _pool_helpers as h

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


def thread_name() -> str:
    return threading.current_thread().name


async def test_thread_tasks_run_in_pool_threads() -> None:
    async with offload.Pool("thread", max_workers=2, name="crunch") as pool:
        assert await pool.run(h.square, 6) == 36
        assert (await pool.run(thread_name)).startswith("crunch")


async def test_thread_tasks_see_a_copy_of_the_callers_context() -> None:
    async with offload.Pool("thread", max_workers=1) as pool:
        VAR.set("from caller")
        assert await pool.run(VAR.get) == "from caller"


async def test_thread_timeout_answers_at_once_and_tells_the_task_to_stop() -> None:
    async with offload.Pool("thread", max_workers=1) as pool:
        started = time.monotonic()
        handle = pool.submit(h.wait_for_cancel, 10, timeout=0.2)
        with pytest.raises(offload.TaskTimeout):
            await handle
        assert time.monotonic() - started < 5
        # the task saw its token and returned; the worker is free again
        assert await asyncio.wait_for(pool.run(h.square, 2), 5) == 4


async def test_thread_cancel_is_cooperative() -> None:
    async with offload.Pool("thread", max_workers=1) as pool:
        seen: list[bool] = []

        def watch() -> None:
            token = offload.current_token()
            while not token.cancelled:
                time.sleep(0.005)
            seen.append(True)

        handle = pool.submit(watch)
        await asyncio.sleep(0.1)
        handle.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handle
        await asyncio.wait_for(pool.run(h.square, 1), 5)
        assert seen == [True]


async def test_thread_exceptions_and_crash_free_close() -> None:
    pool = offload.Pool("thread", max_workers=2)
    with pytest.raises(h.Boom):
        await pool.run(h.raise_boom, "x")
    await pool.close()
    with pytest.raises(offload.ClosedError):
        pool.submit(h.square, 1)


async def test_thread_initializer_failure_gives_worker_start_failed() -> None:
    async with offload.Pool("thread", max_workers=1, initializer=h.failing_initializer) as pool:
        with pytest.raises(offload.WorkerStartFailed, match="initializer refuses"):
            await asyncio.wait_for(pool.run(h.square, 1), 10)


async def test_executor_shutdown_closes_the_pool() -> None:
    pool = offload.Pool("thread", max_workers=1)
    executor = pool.executor

    def use_and_shut_down() -> int:
        value: int = executor.submit(h.square, 4).result(timeout=10)
        executor.shutdown(wait=True)
        return value

    assert await asyncio.to_thread(use_and_shut_down) == 16
    with pytest.raises(offload.ClosedError):
        pool.submit(h.square, 1)
