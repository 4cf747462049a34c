"""Cancel and timeout of running work: only that task ends; kills never hit the next task."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest
from tests import _pool_helpers as h
from tests._ready import Ready

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")


async def test_timeout_stops_the_worker_and_raises_task_timeout() -> None:
    async with offload.Pool(max_workers=1) as pool:
        first = await pool.run(h.pid)
        with pytest.raises(offload.TaskTimeout) as info:
            await pool.run(h.sleep_then, 30, timeout=0.2)
        assert isinstance(info.value, TimeoutError)
        assert await pool.run(h.pid) != first  # replaced
        assert pool.stats().crashed == 0


async def test_timeout_counts_from_the_start_of_running() -> None:
    async with offload.Pool(max_workers=1) as pool:
        blocker = pool.submit(h.sleep_then, 0.6, "first")
        queued = pool.submit(h.sleep_then, 0.05, "second", timeout=0.4)
        assert await blocker == "first"
        assert await queued == "second"


async def test_pool_task_timeout_is_the_default() -> None:
    async with offload.Pool(max_workers=1, task_timeout=0.2) as pool:
        with pytest.raises(offload.TaskTimeout):
            await pool.run(h.sleep_then, 30)
        assert await pool.run(h.sleep_then, 0.5, "override", timeout=5) == "override"


async def test_cancelling_the_handle_stops_only_that_task(tmp_path: Path) -> None:
    async with offload.Pool(max_workers=2) as pool:
        with Ready(tmp_path) as ready:
            other = pool.submit(h.started_then, str(ready), h.sleep_then, 0.5, "other")
            victim = pool.submit(h.started_then, str(ready), h.sleep_then, 30)
            await ready.wait(lines=2)  # both are running
        assert victim.cancel()
        with pytest.raises(asyncio.CancelledError):
            await victim
        assert await other == "other"
        assert pool.stats().cancelled == 1


async def test_cancelling_the_awaiting_coroutine_stops_the_task(tmp_path: Path) -> None:
    async with offload.Pool(max_workers=1) as pool:
        first = await pool.run(h.pid)
        with Ready(tmp_path) as ready:
            call = asyncio.ensure_future(pool.run(h.started_then, str(ready), h.sleep_then, 30))
            await ready.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await asyncio.wait_for(pool.run(h.pid), 10) != first


async def test_cancelling_a_queued_task_never_runs_it() -> None:
    async with offload.Pool(max_workers=1) as pool:
        blocker = pool.submit(h.sleep_pid, 0.3)
        queued = pool.submit(h.exit_with, 9)  # would crash the worker if it ran
        queued.cancel()
        worker = await blocker
        assert await pool.run(h.pid) == worker


async def test_token_cancel_is_seen_cooperatively_by_a_process_task(tmp_path: Path) -> None:
    async with offload.Pool(max_workers=1, cancel_grace=5.0) as pool:
        first = await pool.run(h.pid)
        token = offload.CancelToken()
        with Ready(tmp_path) as ready:
            call = asyncio.ensure_future(
                pool.run(h.started_then, str(ready), h.wait_for_cancel, 10, token=token)
            )
            await ready.wait()
        token.cancel("enough")
        with pytest.raises(offload.Cancelled, match="enough"):
            await call
        # the task returned by itself within the grace: the worker was not replaced
        assert await pool.run(h.pid) == first


async def test_a_process_task_token_runs_its_cancel_callbacks_when_it_reads_the_token(
    tmp_path: Path,
) -> None:
    started, noted = tmp_path / "started", tmp_path / "noted"
    async with offload.Pool(max_workers=1, cancel_grace=5.0) as pool:
        token = offload.CancelToken()
        call = asyncio.ensure_future(
            pool.run(h.note_cancel_by_callback, str(started), str(noted), 30, token=token)
        )
        deadline = time.monotonic() + 30
        while not started.exists():
            assert time.monotonic() < deadline, "the task never started"
            await asyncio.sleep(0.01)
        token.cancel("enough")
        with pytest.raises(offload.Cancelled, match="enough"):
            await call  # at once; the task sees it at its next read of the token
        while not noted.exists():
            assert time.monotonic() < deadline, "the callback never ran"
            await asyncio.sleep(0.01)
        assert noted.read_text() == "cancelled by the caller"
        # The worker's next task starts with a fresh token: no callbacks, not cancelled.
        noted.unlink()
        assert await pool.run(h.wait_for_cancel, 0.05) == "timed out"
        assert not noted.exists()


async def test_token_cancel_kills_a_task_that_ignores_it_after_the_grace(
    tmp_path: Path,
) -> None:
    async with offload.Pool(max_workers=1, cancel_grace=0.2) as pool:
        first = await pool.run(h.pid)
        token = offload.CancelToken()
        with Ready(tmp_path) as ready:
            call = asyncio.ensure_future(
                pool.run(h.started_then, str(ready), h.ignore_cancel, 30, token=token)
            )
            await ready.wait()
        token.cancel()
        with pytest.raises(offload.Cancelled):
            await call
        assert await asyncio.wait_for(pool.run(h.pid), 10) != first


async def test_an_already_cancelled_token_never_starts_the_task() -> None:
    token = offload.CancelToken()
    token.cancel("before")
    async with offload.Pool(max_workers=1) as pool:
        with pytest.raises(offload.Cancelled, match="before"):
            await pool.run(h.exit_with, 1, token=token)


async def test_kills_never_hit_other_tasks() -> None:
    # Many short tasks pipelined on two workers, a random half cancelled at random
    # moments: every task that was not cancelled must succeed.
    rng = random.Random(1234)
    async with offload.Pool(max_workers=2) as pool:
        for _ in range(5):
            handles = [
                pool.submit(h.sleep_then, rng.choice([0, 0.001, 0.01]), i) for i in range(60)
            ]
            cancelled = set(rng.sample(range(60), 30))
            for i in sorted(cancelled):
                await asyncio.sleep(rng.choice([0, 0, 0.001, 0.005]))
                handles[i].cancel()
            for i, handle in enumerate(handles):
                if i in cancelled and handle._task.future.cancelled():
                    continue
                assert await handle == i
        assert pool.stats().crashed == 0
