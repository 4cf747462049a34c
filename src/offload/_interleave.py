"""interleave and checkpoint: run CPU work on the loop in time slices.

Node's setImmediate recipe with a time budget instead of one step per
tick: step a synchronous generator until ``budget`` seconds are used, let the loop run
its other callbacks (``await asyncio.sleep(0)``), repeat. Reading the clock after every
step would cost as much as a small step itself, so the clock is read every ``k`` steps,
with ``k`` adapted to the measured step cost (about 32 clock reads per slice).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import time
from collections.abc import Awaitable, Callable, Generator
from itertools import repeat
from typing import Any, TypeVar, cast

from ._cancel import CancelToken, _current
from ._errors import Cancelled

__all__ = ["DEFAULT_BUDGET", "checkpoint", "interleave"]

R = TypeVar("R")

DEFAULT_BUDGET = 0.005
_CLOCK_READS_PER_SLICE = 32


class _Slice:
    """When the current task's time slice ends, and an already-done future to return
    from checkpoint() while it has not (awaiting a done future costs next to nothing)."""

    __slots__ = ("deadline", "done", "task")

    def __init__(self, task: asyncio.Task[Any] | None, deadline: float) -> None:
        self.task = task
        self.deadline = deadline
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.done.set_result(None)


_slice: contextvars.ContextVar[_Slice | None] = contextvars.ContextVar(
    "offload_slice", default=None
)


async def yield_to_loop() -> None:
    """Let every other ready task run once before this one continues.

    ``asyncio.sleep(0)`` is not enough: a task woken by a timer or by I/O takes two
    trips through the ready queue (callback, then task step), and after ``sleep(0)``
    this task is queued ahead of the second trip, so a CPU-bound caller would run its
    next slice first. Waking through a due timer puts this task behind both trips.
    """
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    handle = loop.call_at(loop.time(), _wake, future)
    try:
        await future
    finally:
        handle.cancel()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def checkpoint(budget: float = DEFAULT_BUDGET) -> Awaitable[None]:
    """Let the loop run other callbacks if this task has used up its time slice.

    Cheap when the slice is not used up: it returns an already-finished awaitable. The
    slice starts at this task's first ``checkpoint()`` and restarts after each yield,
    so put it in the loop of long-running code. Also a cancellation point: raises
    :class:`offload.Cancelled` if the current token (see :func:`offload.current_token`)
    is cancelled, and ``asyncio.CancelledError`` if the task is cancelled while it
    yields. Call it in a task of a running loop.

    Example::

        for row in rows:
            total += score(row)
            await offload.checkpoint()
    """
    token = _current.get()
    if token is not None and token.cancelled:
        raise Cancelled(token.reason)
    now = time.perf_counter()
    current = _slice.get()
    if current is None or current.task is not asyncio.current_task():
        current = _Slice(asyncio.current_task(), now + budget)
        _slice.set(current)
        return current.done
    if now < current.deadline:
        return current.done
    return _yield_slice(current, budget)


async def _yield_slice(current: _Slice, budget: float) -> None:
    await yield_to_loop()
    current.deadline = time.perf_counter() + budget


async def interleave(
    gen: Generator[Any, Any, R],
    budget: float = DEFAULT_BUDGET,
    *,
    token: CancelToken | None = None,
) -> R:
    """Run a CPU-heavy generator on the loop in slices of ``budget`` seconds.

    Each ``yield`` of ``gen`` marks a point where it may be paused (yielded values are
    ignored); between slices the loop runs its other callbacks. Returns the generator's
    return value and raises what it raises. Cancelling the awaiting task closes the
    generator (its ``finally`` blocks run); cancelling ``token`` (default: the current
    token) throws :class:`offload.Cancelled` into it at its current ``yield`` and then
    raises it. Raises ``ValueError`` for ``budget <= 0``, ``TypeError`` for a
    non-generator.

    Example::

        def count_primes(n):
            found = 0
            for i in range(n):
                found += is_prime(i)
                yield
            return found

        primes = await offload.interleave(count_primes(10**6), budget=0.005)
    """
    if not inspect.isgenerator(cast(object, gen)):  # cast: keep gen's own type
        raise TypeError(
            f"interleave() needs a generator object, got {type(gen).__name__}; "
            "call the generator function first: interleave(work(...))"
        )
    if not budget > 0:
        raise ValueError(f"interleave() needs budget > 0 seconds, got {budget!r}")
    if token is None:
        token = _current.get()
    send: Callable[[None], object] = gen.send  # cheapest way to resume a generator
    clock = time.perf_counter
    every = budget / _CLOCK_READS_PER_SLICE
    k = 1
    try:
        while True:
            if token is not None and token.cancelled:
                _throw_cancelled(gen, token.reason)
            start = clock()
            deadline = start + budget
            steps = 0
            while True:
                for _ in repeat(None, k):
                    send(None)
                steps += k
                now = clock()
                if now >= deadline:
                    break
                # Grow k at most 2x per read (cheap warm-up), shrink at once on slow steps.
                per_step = (now - start) / steps
                k = max(1, min(2 * k, int(every / per_step) if per_step > 0 else 2 * k))
            await yield_to_loop()
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        gen.close()


def _throw_cancelled(gen: Generator[Any, Any, Any], reason: object) -> None:
    exc = Cancelled(reason)
    # A generator that returns from its cleanup is still cancelled.
    with contextlib.suppress(StopIteration):
        gen.throw(exc)
    raise exc
