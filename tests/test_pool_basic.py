"""Pool basics: results, errors with remote tracebacks, serialization failures, options."""

from __future__ import annotations

import asyncio
import functools
import os
import threading

import pytest
from tests import _pool_helpers as h

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")


async def test_run_returns_the_result_of_the_function() -> None:
    async with offload.Pool(max_workers=2) as pool:
        assert await pool.run(h.square, 7) == 49
        results = await asyncio.gather(*[pool.run(h.square, i) for i in range(500)])
        assert results == [i * i for i in range(500)]


async def test_run_goes_to_another_process() -> None:
    async with offload.Pool(max_workers=1) as pool:
        assert await pool.run(h.pid) != os.getpid()


async def test_lambdas_closures_and_partials_work() -> None:
    offset = 10

    def closure(x: int) -> int:
        return x + offset

    async with offload.Pool(max_workers=1) as pool:
        assert await pool.run(lambda x: x * 3, 5) == 15
        assert await pool.run(closure, 1) == 11
        assert await pool.run(functools.partial(int, base=2), "101") == 5


async def test_exception_keeps_its_type_and_the_worker_traceback() -> None:
    async with offload.Pool(max_workers=1) as pool:
        with pytest.raises(h.Boom, match="bad input") as info:
            await pool.run(h.raise_boom, "bad input")
        assert "raise_boom" in str(info.value.__cause__)
        assert await pool.run(h.square, 3) == 9  # the worker survived


async def test_unpicklable_argument_fails_only_that_task() -> None:
    async with offload.Pool(max_workers=1) as pool:
        with pytest.raises(offload.SerializationError, match="lock"):
            await pool.run(h.square, threading.Lock())
        assert await pool.run(h.square, 4) == 16


async def test_unpicklable_result_fails_only_that_task_and_the_worker_survives() -> None:
    async with offload.Pool(max_workers=1) as pool:
        before = await pool.run(h.pid)
        with pytest.raises(offload.SerializationError, match="lock"):
            await pool.run(h.lock_result)
        assert await pool.run(h.pid) == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "fiber"}, "kind"),
        ({"max_workers": 0}, "max_workers"),
        ({"max_workers": -1}, "max_workers"),
        ({"min_workers": -1}, "min_workers"),
        ({"max_workers": 1, "min_workers": 2}, "min_workers"),
        ({"max_queue": 0}, "max_queue"),
        ({"task_timeout": -1.0}, "task_timeout"),
    ],
)
def test_bad_options_are_refused_clearly(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        offload.Pool(**kwargs)  # type: ignore[arg-type]


async def test_run_after_close_raises_closed_error() -> None:
    pool = offload.Pool(max_workers=1)
    assert await pool.run(h.square, 2) == 4
    await pool.close()
    with pytest.raises(offload.ClosedError):
        await pool.run(h.square, 2)
    await pool.close()  # closing twice is fine


def test_default_size_is_the_usable_cpus() -> None:
    assert offload.Pool().max_workers == len(os.sched_getaffinity(0))


async def test_close_waits_for_queued_and_running_work() -> None:
    pool = offload.Pool(max_workers=1)
    handles = [pool.submit(h.sleep_then, 0.05, i) for i in range(4)]
    await pool.close()
    assert [await handle for handle in handles] == [0, 1, 2, 3]


async def test_close_force_fails_queued_and_running_work() -> None:
    pool = offload.Pool(max_workers=1)
    running = pool.submit(h.sleep_then, 30)
    queued = pool.submit(h.square, 2)
    await asyncio.sleep(0.3)
    await asyncio.wait_for(pool.close(force=True), 10)
    with pytest.raises(offload.ClosedError):
        await running
    with pytest.raises(offload.ClosedError):
        await queued


async def test_leaving_the_block_with_an_error_does_not_wait_for_work() -> None:
    async def body() -> None:
        async with offload.Pool(max_workers=1) as pool:
            pool.submit(h.sleep_then, 30)
            await asyncio.sleep(0.1)
            raise RuntimeError("leave")

    with pytest.raises(RuntimeError, match="leave"):
        await asyncio.wait_for(body(), 10)


async def test_an_idle_worker_sleeps_instead_of_polling() -> None:
    import psutil

    async with offload.Pool(max_workers=1, min_workers=1) as pool:
        for _ in range(20):
            worker_pid = await pool.run(h.pid)
        process = psutil.Process(worker_pid)
        await asyncio.sleep(0.05)  # past the short poll after the last answer
        before = process.cpu_times()
        await asyncio.sleep(0.5)
        after = process.cpu_times()
        used = (after.user + after.system) - (before.user + before.system)
        assert used < 0.1  # a polling worker would use about the whole 0.5 s
