"""offload.cancelable: yields are cancellation points; finally blocks run and may await."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import offload


@offload.cancelable
def collect(n: int, log: list[str]) -> Generator[Any, Any, list[int]]:
    got: list[int] = []
    try:
        for i in range(n):
            got.append((yield asyncio.sleep(0.005, i)))
        return got
    except offload.Cancelled as exc:
        log.append(f"cancelled: {exc.reason}")
        raise
    finally:
        cleaned = yield asyncio.sleep(0, "cleaned")  # cleanup can still await
        log.append(cleaned)


async def test_yielded_awaitables_are_awaited_and_results_sent_back() -> None:
    log: list[str] = []
    assert await collect(4, log) == [0, 1, 2, 3]
    assert log == ["cleaned"]


async def test_cancel_throws_cancelled_at_the_current_yield_and_finally_can_await() -> None:
    log: list[str] = []
    call = collect(10_000, log)
    await asyncio.sleep(0.02)
    assert call.cancel("user left") is True
    assert call.cancel("again") is False
    with pytest.raises(offload.Cancelled) as info:
        await call
    assert info.value.reason == "user left"
    assert log == ["cancelled: user left", "cleaned"]
    assert call.cancelled
    assert call.done()


async def test_cancel_before_the_first_step_never_runs_the_body() -> None:
    started: list[bool] = []

    @offload.cancelable
    def body() -> Generator[Any, Any, None]:
        started.append(True)
        yield

    call = body()
    call.cancel()
    with pytest.raises(offload.Cancelled):
        await call
    assert started == []


async def test_exceptions_of_awaitables_are_raised_at_the_yield() -> None:
    async def fail() -> None:
        raise KeyError("missing")

    @offload.cancelable
    def body() -> Generator[Any, Any, str]:
        try:
            yield fail()
        except KeyError:
            return "handled"
        return "not reached"

    assert await body() == "handled"


async def test_an_unhandled_exception_fails_the_call() -> None:
    @offload.cancelable
    def body() -> Generator[Any, Any, None]:
        yield asyncio.sleep(0)
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        await body()


async def test_yielding_a_plain_value_is_a_type_error_inside_the_generator() -> None:
    @offload.cancelable
    def body() -> Generator[Any, Any, str]:
        try:
            yield 42
        except TypeError as exc:
            return str(exc)
        return "not reached"

    assert "only yield awaitables" in await body()


async def test_bare_yields_are_cancellation_points_for_cpu_loops() -> None:
    steps: list[int] = []

    @offload.cancelable
    def spin() -> Generator[Any, Any, None]:
        while True:
            steps.append(1)
            yield

    call = spin()
    await asyncio.sleep(0.02)  # the loop still runs: bare yields give it time
    call.cancel()
    with pytest.raises(offload.Cancelled):
        await call
    assert steps


async def test_cancelling_the_awaiting_task_cancels_the_generator() -> None:
    log: list[str] = []
    call = collect(10_000, log)

    async def user() -> list[int]:
        return await call

    task = asyncio.create_task(user())
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert call.done()
    assert call.cancelled
    assert log[-1] == "cleaned"
    assert log[0].startswith("cancelled:")


async def test_asyncio_timeout_around_a_call_raises_timeout_error() -> None:
    log: list[str] = []
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.02):
            await collect(10_000, log)
    assert log[-1] == "cleaned"


async def test_the_call_token_is_current_inside_the_generator() -> None:
    @offload.cancelable
    def body() -> Generator[Any, Any, offload.CancelToken]:
        yield
        return offload.current_token()

    call = body()
    assert await call is call.token


async def test_with_token_links_an_outer_token_without_cancelling_it_back() -> None:
    outer = offload.CancelToken()
    log: list[str] = []
    call = collect.with_token(outer)(10_000, log)
    await asyncio.sleep(0.01)
    outer.cancel("shutdown")
    with pytest.raises(offload.Cancelled, match="shutdown"):
        await call
    other = collect.with_token(offload.CancelToken())(10_000, [])
    other.cancel()
    with pytest.raises(offload.Cancelled):
        await other


async def test_finished_calls_leave_no_callback_on_the_outer_token() -> None:
    outer = offload.CancelToken()
    for _ in range(3):
        await collect.with_token(outer)(1, [])
    assert outer._callbacks == []


async def test_cancel_from_another_thread_interrupts_a_pending_await() -> None:
    never = asyncio.get_running_loop().create_future()

    @offload.cancelable
    def body() -> Generator[Any, Any, None]:
        yield never

    call = body()
    await asyncio.sleep(0)
    threading.Timer(0.02, call.cancel, args=("from thread",)).start()
    with pytest.raises(offload.Cancelled, match="from thread"):
        await asyncio.wait_for(call, 5)
    assert never.cancelled()


async def test_an_awaitable_cancelled_by_someone_else_is_an_error_in_the_generator() -> None:
    inner = asyncio.create_task(asyncio.sleep(10))

    @offload.cancelable
    def body() -> Generator[Any, Any, str]:
        try:
            yield inner
        except asyncio.CancelledError:
            return "inner cancelled"
        return "not reached"

    call = body()
    await asyncio.sleep(0)
    inner.cancel()
    assert await call == "inner cancelled"
    assert not call.cancelled


async def test_a_generator_that_swallows_cancelled_returns_its_value() -> None:
    @offload.cancelable
    def stubborn() -> Generator[Any, Any, str]:
        try:
            yield asyncio.sleep(10)
        except offload.Cancelled:
            yield asyncio.sleep(0)
            return "partial"
        return "full"

    call = stubborn()
    await asyncio.sleep(0.01)
    call.cancel()
    assert await call == "partial"
    assert call.cancelled


async def test_cancel_after_done_returns_false() -> None:
    call = collect(1, [])
    await call
    assert call.cancel() is False
    assert not call.cancelled
    assert "done" in repr(call)


def test_only_plain_generator_functions_are_accepted() -> None:
    async def coro() -> None:
        return None

    async def agen() -> Any:
        yield 1

    with pytest.raises(TypeError, match="coroutine function"):
        offload.cancelable(coro)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async generator"):
        offload.cancelable(agen)  # type: ignore[arg-type]


def test_calling_without_a_running_loop_raises_runtime_error() -> None:
    with pytest.raises(RuntimeError):
        collect(1, [])


async def test_works_under_uvloop_too() -> None:
    uvloop = pytest.importorskip("uvloop")

    def run() -> list[str]:
        log: list[str] = []

        async def main() -> None:
            call = collect(10_000, log)
            await asyncio.sleep(0.01)
            call.cancel("uv")
            with pytest.raises(offload.Cancelled):
                await call

        uvloop.run(main())
        return log

    log = await asyncio.to_thread(run)
    assert log == ["cancelled: uv", "cleaned"]


async def test_a_call_cancelled_while_its_generator_runs_does_not_start_the_next_await() -> None:
    started: list[str] = []

    async def slow() -> None:
        started.append("slow")
        await asyncio.sleep(10)

    @offload.cancelable
    def body() -> Generator[Any, Any, None]:
        offload.current_token().cancel("self")
        yield slow()

    with pytest.raises(offload.Cancelled, match="self"):
        await asyncio.wait_for(body(), 5)
    assert started == []


@settings(max_examples=60, deadline=None)
@given(
    steps=st.integers(0, 20),
    cancel_after=st.integers(0, 24),
    how=st.sampled_from(["handle", "token", "task"]),
)
def test_any_cancel_point_ends_the_call_with_a_consistent_outcome(
    steps: int, cancel_after: int, how: str
) -> None:
    cleanups: list[int] = []

    @offload.cancelable
    def body() -> Generator[Any, Any, int]:
        done = 0
        try:
            for _ in range(steps):
                yield asyncio.sleep(0)
                done += 1
            return done
        finally:
            yield asyncio.sleep(0)
            cleanups.append(done)

    async def main() -> tuple[object, bool]:
        call = body()
        waiter = asyncio.ensure_future(call)
        await asyncio.sleep(0)  # the waiter is awaiting the call from here on
        for _ in range(cancel_after):
            await asyncio.sleep(0)
        if how == "handle":
            call.cancel("stop")
        elif how == "token":
            call.token.cancel("stop")
        else:
            waiter.cancel()
        try:
            outcome: object = await waiter
        except (offload.Cancelled, asyncio.CancelledError) as exc:
            outcome = exc
        return outcome, call.done()

    outcome, done = asyncio.run(main())
    assert done
    assert len(cleanups) <= 1
    if cancel_after + 3 < steps:  # cancelled inside the try: the cleanup ran, and awaited
        assert len(cleanups) == 1
    if isinstance(outcome, int):
        assert outcome == steps
        assert cleanups == [steps]
    elif how == "task":
        assert isinstance(outcome, asyncio.CancelledError)
    else:
        assert isinstance(outcome, offload.Cancelled)
        assert outcome.reason == "stop"
    assert all(0 <= c <= steps for c in cleanups)
