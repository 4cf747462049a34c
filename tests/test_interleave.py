"""offload.interleave and offload.checkpoint: CPU work in time slices on the loop."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import offload


def summing(values: list[int], log: list[str] | None = None) -> Generator[None, None, int]:
    total = 0
    try:
        for v in values:
            total += v
            yield
        return total
    finally:
        if log is not None:
            log.append("closed")


def busy(seconds: float, log: list[str]) -> Generator[None, None, int]:
    end = time.perf_counter() + seconds
    steps = 0
    try:
        while time.perf_counter() < end:
            steps += 1
            yield
        return steps
    except offload.Cancelled as exc:
        log.append(f"cancelled: {exc.reason}")
        raise
    finally:
        log.append("closed")


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(), max_size=300), budget=st.floats(1e-6, 0.01))
def test_returns_what_the_generator_returns(values: list[int], budget: float) -> None:
    assert asyncio.run(offload.interleave(summing(values), budget)) == sum(values)


async def test_exceptions_of_the_generator_propagate() -> None:
    def failing() -> Generator[None, None, None]:
        yield
        raise ArithmeticError("overflow")

    with pytest.raises(ArithmeticError, match="overflow"):
        await offload.interleave(failing())


async def test_other_callbacks_keep_running_while_the_job_runs() -> None:
    # Measured in the loop thread's CPU time, not wall time: a loaded machine that
    # does not run this process changes neither the job's length nor the gaps.
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.thread_time())
            await asyncio.sleep(0.001)

    def job(cpu_seconds: float) -> Generator[None, None, int]:
        end = time.thread_time() + cpu_seconds
        steps = 0
        while time.thread_time() < end:
            steps += 1
            yield
        return steps

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    start = time.thread_time()
    steps = await offload.interleave(job(0.3), budget=0.005)
    end = time.thread_time()
    ticking.cancel()
    during = [t for t in ticks if start <= t <= end]
    gaps = [b - a for a, b in itertools.pairwise(during)]
    assert steps > 0
    assert len(during) >= 10  # a blocking run would allow none
    assert max(gaps) < 0.1  # slices of at most 5 ms (of wall time, so of CPU too)


async def test_cancelling_the_task_closes_the_generator() -> None:
    log: list[str] = []
    task = asyncio.create_task(offload.interleave(busy(30, log)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log == ["closed"]


async def test_a_cancelled_token_throws_cancelled_into_the_generator() -> None:
    log: list[str] = []
    token = offload.CancelToken()
    asyncio.get_running_loop().call_later(0.05, token.cancel, "enough")
    with pytest.raises(offload.Cancelled, match="enough"):
        await offload.interleave(busy(30, log), token=token)
    assert log == ["cancelled: enough", "closed"]


async def test_a_deadline_token_stops_the_job() -> None:
    with pytest.raises(offload.Cancelled) as info:
        await offload.interleave(busy(30, []), token=offload.CancelToken.after(0.05))
    assert isinstance(info.value.reason, TimeoutError)


async def test_inside_a_cancelable_the_call_token_stops_the_job() -> None:
    log: list[str] = []

    @offload.cancelable
    def outer() -> Generator[Any, Any, int]:
        return (yield offload.interleave(busy(30, log)))

    call = outer()
    await asyncio.sleep(0.05)
    call.cancel("stop")
    with pytest.raises(offload.Cancelled, match="stop"):
        await call
    assert log[-1] == "closed"


async def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="budget > 0"):
        await offload.interleave(summing([1]), budget=0)
    with pytest.raises(TypeError, match="generator object"):
        await offload.interleave(summing)  # type: ignore[arg-type]


async def test_checkpoint_does_not_yield_before_the_budget_is_used() -> None:
    ran: list[int] = []
    asyncio.get_running_loop().call_soon(ran.append, 1)
    await offload.checkpoint(budget=10)
    await offload.checkpoint(budget=10)
    assert ran == []
    await asyncio.sleep(0)
    assert ran == [1]


async def test_checkpoint_yields_once_the_budget_is_used() -> None:
    ran: list[int] = []
    await offload.checkpoint(budget=0.001)
    asyncio.get_running_loop().call_soon(ran.append, 1)
    time.sleep(0.002)
    await offload.checkpoint(budget=0.001)
    assert ran == [1]


async def test_checkpoint_keeps_a_cpu_loop_responsive() -> None:
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    end = time.perf_counter() + 0.2
    while time.perf_counter() < end:
        await offload.checkpoint()
    ticking.cancel()
    assert len(ticks) >= 5


async def test_checkpoint_raises_cancelled_when_the_current_token_is() -> None:
    @offload.cancelable
    def body() -> Generator[Any, Any, None]:
        offload.current_token().cancel("inside")
        yield offload.checkpoint()

    with pytest.raises(offload.Cancelled, match="inside"):
        await body()
