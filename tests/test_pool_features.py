"""Stats, executor, backpressure, recycling, growing and shrinking, logs, output, context."""

from __future__ import annotations

import asyncio
import logging

import pytest
from tests import _pool_helpers as h

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")


async def test_stats_count_outcomes() -> None:
    async with offload.Pool(max_workers=2) as pool:
        await asyncio.gather(*[pool.run(h.square, i) for i in range(20)])
        with pytest.raises(h.Boom):
            await pool.run(h.raise_boom, "x")
        with pytest.raises(offload.WorkerCrashed):
            await pool.run(h.exit_with, 1)
        handle = pool.submit(h.sleep_then, 30)
        await asyncio.sleep(0.1)
        handle.cancel()
        await asyncio.sleep(0.1)
        stats = pool.stats()
        assert stats.completed == 20
        assert stats.failed == 1
        assert stats.crashed == 1
        assert stats.cancelled == 1
        assert stats.queued == 0
        assert 0 <= stats.workers <= 2  # replacements start on demand
        assert 0 <= stats.run_p50 <= stats.run_p99
        assert 0 <= stats.wait_p50 <= stats.wait_p99
        assert 0 <= stats.utilization <= 1
        with pytest.raises(AttributeError):
            stats.workers = 3  # type: ignore[misc]


async def test_executor_works_with_run_in_executor_and_threads() -> None:
    async with offload.Pool(max_workers=1) as pool:
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(pool.executor, h.square, 9) == 81

        def from_thread() -> int:
            return pool.executor.submit(h.sleep_then, 0, 5).result(timeout=10)  # type: ignore[no-any-return]

        assert await asyncio.to_thread(from_thread) == 5


async def test_full_queue_makes_submit_raise_and_run_wait() -> None:
    async with offload.Pool(max_workers=1, max_queue=2) as pool:
        await pool.run(h.square, 1)  # the worker is up
        first = pool.submit(h.sleep_then, 0.5, "a")
        await asyncio.sleep(0.2)  # the first task is running, the queue is empty
        pool.submit(h.sleep_then, 0, "b")
        pool.submit(h.sleep_then, 0, "c")
        with pytest.raises(offload.QueueFull):
            pool.submit_nowait(h.square, 1)
        assert await pool.run(h.square, 3) == 9  # waited for space
        assert await first == "a"


async def test_max_tasks_per_worker_recycles_without_failing_tasks() -> None:
    async with offload.Pool(max_workers=1, max_tasks_per_worker=3) as pool:
        pids = [await pool.run(h.pid) for _ in range(9)]
        assert len(set(pids)) == 3
        assert [pids.count(p) for p in dict.fromkeys(pids)] == [3, 3, 3]


async def test_max_memory_per_worker_recycles_between_tasks() -> None:
    async with offload.Pool(max_workers=1, max_memory_per_worker=200 * 1024 * 1024) as pool:
        small = await pool.run(h.pid)
        assert await pool.run(h.pid) == small
        big = await pool.run(h.allocate, 300)  # succeeds although it crosses the limit
        assert big == small
        await asyncio.sleep(0.2)
        assert await pool.run(h.pid) != small  # replaced after that task


async def test_pool_grows_on_demand_and_shrinks_when_idle() -> None:
    async with offload.Pool(max_workers=2, min_workers=1, idle_timeout=0.3) as pool:
        await asyncio.sleep(0.2)
        assert pool.stats().workers == 1
        await asyncio.gather(*[pool.run(h.sleep_then, 0.2) for _ in range(4)])
        assert pool.stats().workers == 2
        for _ in range(50):
            await asyncio.sleep(0.1)
            if pool.stats().workers == 1:
                break
        assert pool.stats().workers == 1


async def test_worker_logging_reaches_the_parent_with_ids(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with offload.Pool(max_workers=1) as pool:
        handle = pool.submit(h.log_something, "from worker")
        await handle
    records = [r for r in caplog.records if r.name == "offload.tests.worker"]
    assert len(records) == 1
    record = records[0]
    assert "hello from worker" in record.getMessage()
    assert record.task == handle.id  # type: ignore[attr-defined]
    assert record.worker is not None  # type: ignore[attr-defined]
    assert f"task {handle.id}" in record.getMessage()


async def test_worker_output_is_not_lost(capfd: pytest.CaptureFixture[str]) -> None:
    async with offload.Pool(max_workers=1) as pool:
        await pool.run(h.print_something, "printed in a worker")
    out, err = capfd.readouterr()
    assert "printed in a worker" in out
    assert "printed in a worker on stderr" in err


async def test_opted_in_context_variables_travel_with_process_tasks() -> None:
    async with offload.Pool(max_workers=1, context=[h.REQUEST_ID]) as pool:
        h.REQUEST_ID.set("req-42")
        assert await pool.run(h.read_request_id) == "req-42"
        h.REQUEST_ID.set("req-43")
        assert await pool.run(h.read_request_id) == "req-43"


def test_context_variables_must_be_module_globals() -> None:
    import contextvars

    local: contextvars.ContextVar[int] = contextvars.ContextVar("local")

    async def go() -> None:
        async with offload.Pool(max_workers=1, context=[local]) as pool:
            await pool.run(h.square, 1)

    with pytest.raises(ValueError, match="module-level"):
        asyncio.run(go())
