"""Cancellation across the parts: tokens reaching pool tasks, cancelable calls driving
pool work, and the monitor seeing the loop stay free while workers are busy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from typing import Any

import pytest
from tests import _pool_helpers as h

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")


def spin(seconds: float) -> int:
    """Pure-Python CPU work that checks its token now and then."""
    token = offload.current_token()
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
        if n % 1000 == 0:
            token.raise_if_cancelled()
    return n


async def test_a_token_stops_a_running_thread_task_cooperatively() -> None:
    async with offload.Pool("thread", max_workers=1) as pool:
        token = offload.CancelToken()
        call = asyncio.ensure_future(pool.run(spin, 30, token=token))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        token.cancel("stop spinning")
        with pytest.raises(offload.Cancelled, match="stop spinning"):
            await call
        assert time.monotonic() - started < 10
        assert await asyncio.wait_for(pool.run(h.square, 3), 10) == 9


async def test_a_deadline_token_stops_a_process_task() -> None:
    async with offload.Pool("process", max_workers=1, cancel_grace=5.0) as pool:
        with pytest.raises(offload.Cancelled) as info:
            await pool.run(h.wait_for_cancel, 30, token=offload.CancelToken.after(0.2))
        assert isinstance(info.value.reason, TimeoutError)


async def test_cancelling_a_cancelable_call_stops_the_pool_task_it_awaits() -> None:
    async with offload.Pool("process", max_workers=1, cancel_grace=5.0) as pool:
        steps: list[str] = []

        @offload.cancelable
        def job() -> Generator[Any, Any, str]:
            token = offload.current_token()
            try:
                yield pool.run(h.square, 2)
                steps.append("first")
                return (yield pool.run(h.wait_for_cancel, 30, token=token))
            finally:
                steps.append("cleanup")

        call = job()
        # Cancel once the second task is in the worker (starting one takes a while on
        # a loaded machine).
        deadline = time.monotonic() + 30
        while not (steps == ["first"] and pool.stats().busy == 1):
            assert time.monotonic() < deadline, f"the second task never started: {steps}"
            await asyncio.sleep(0.01)
        call.cancel("user left")
        with pytest.raises(offload.Cancelled, match="user left"):
            await asyncio.wait_for(call, 15)
        assert steps == ["first", "cleanup"]
        # the worker is free again for the next task
        assert await asyncio.wait_for(pool.run(h.square, 4), 15) == 16


@pytest.mark.parametrize("kind", ["thread", "process"])
async def test_the_loop_stays_free_while_the_pool_is_busy(kind: str) -> None:
    async with (
        offload.Pool(kind, max_workers=1) as pool,  # type: ignore[arg-type]
        offload.monitor.watch(threshold=0.15, log=False) as m,
    ):
        # One CPU-bound worker: on a 2-core machine the loop keeps a core to itself.
        results = await asyncio.gather(*(pool.run(spin, 0.2) for _ in range(3)))
        assert all(n > 0 for n in results)
    # No code caught holding the loop (work run on the loop by mistake would be). A
    # report without a stack is lag nobody was seen causing: a loaded machine that
    # did not run the process, as the pytest plugin also reads it.
    assert [str(b) for b in m.blocks if b.frames] == []
    assert m.stats().samples >= 5


async def test_cancelling_a_cancelable_call_stops_the_program_it_runs() -> None:
    @offload.cancelable
    def job() -> Generator[Any, Any, object]:
        return (yield offload.run(["sleep", "30"], token=offload.current_token()))

    call = job()
    await asyncio.sleep(0.3)
    started = time.monotonic()
    call.cancel("stop the program")
    with pytest.raises(offload.Cancelled, match="stop the program"):
        await asyncio.wait_for(call, 15)
    assert time.monotonic() - started < 10
