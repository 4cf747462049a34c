"""Where the demo's subset-sum search runs: one small class per strategy.

=============  =======================================================================
``blocking``   on the event loop, start to end: the bad example; the server freezes
``interleave`` on the event loop, pausing every few milliseconds (``offload.interleave``)
``thread``     in a thread pool (``offload.Pool(kind="thread")``): the GIL still competes
``process``    in worker processes (``offload.Pool(kind="process")``): the loop stays free
=============  =======================================================================

Every strategy streams matches through ``emit`` as they are found (the loop strategies
as soon as the loop may run again), returns the number of matches, and raises
``offload.Cancelled`` once ``token`` is cancelled.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import ClassVar, Literal, cast

import offload

from ._subset_sum import Match, matches, report_matches, search_steps

__all__ = ["STRATEGIES", "Job", "Load", "Strategy", "make_strategy"]

Emit = Callable[[Match], Awaitable[None]]


@dataclass(frozen=True)
class Job:
    """One subset-sum request: the items, the wanted sum, how many matches to stream."""

    data: tuple[int, ...]
    total: int
    max_streamed: int


@dataclass(frozen=True)
class Load:
    """How busy the place is where the work runs (workers, or the event loop itself)."""

    capacity: int
    busy: int
    queued: int

    @property
    def utilization(self) -> float:
        """Busy share of the capacity, 0.0 to 1.0."""
        return min(1.0, self.busy / self.capacity) if self.capacity else 0.0


class Strategy(abc.ABC):
    """A way to run the search; the app starts it in its lifespan and stops it after."""

    name: ClassVar[str]

    def __init__(self, workers: int) -> None:
        self.workers = workers

    async def start(self) -> None:
        """Acquire what the strategy needs (a pool); called once at server start-up."""
        return

    async def stop(self) -> None:
        """Release it again, leaving no worker behind; called once at shutdown."""
        return

    @abc.abstractmethod
    async def search(self, job: Job, token: offload.CancelToken, emit: Emit) -> int:
        """Run ``job``, ``await emit(match)`` for the first matches, return the count."""

    @abc.abstractmethod
    def load(self) -> Load:
        """The current load, for ``/stats``."""


class _OnTheLoop(Strategy):
    """Shared bookkeeping of the strategies that run the search on the event loop."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self._running = 0

    def load(self) -> Load:
        # The loop is one worker; jobs beyond the first wait their turn on it.
        return Load(capacity=1, busy=min(1, self._running), queued=max(0, self._running - 1))


class Blocking(_OnTheLoop):
    """Run the whole search on the event loop: nothing else runs until it is done."""

    name = "blocking"

    async def search(self, job: Job, token: offload.CancelToken, emit: Emit) -> int:
        self._running += 1
        try:
            found: list[Match] = []
            count = 0
            for match in matches(job.data, job.total):
                if count < job.max_streamed:
                    found.append(match)
                count += 1
        finally:
            self._running -= 1
        token.raise_if_cancelled()
        for match in found:
            await emit(match)
        return count


class Interleave(_OnTheLoop):
    """Run the search on the event loop in slices of ``budget`` seconds."""

    name = "interleave"
    budget = 0.005

    async def search(self, job: Job, token: offload.CancelToken, emit: Emit) -> int:
        found: asyncio.Queue[Match | None] = asyncio.Queue()

        def steps() -> Generator[None, None, int]:
            count = 0
            for step in search_steps(job.data, job.total):
                if step is not None:
                    if count < job.max_streamed:
                        found.put_nowait(step)
                    count += 1
                yield
            return count

        async def produce() -> int:
            self._running += 1
            try:
                return await offload.interleave(steps(), budget=self.budget, token=token)
            finally:
                self._running -= 1
                found.put_nowait(None)

        producer = asyncio.create_task(produce())
        try:
            while (match := await found.get()) is not None:
                await emit(match)
            return await producer
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, offload.Cancelled):
                await producer


class _InPool(Strategy):
    """Run the search as a pool task that reports matches back as it finds them."""

    kind: ClassVar[Literal["process", "thread"]]
    #: Scheduling niceness added to each worker: >0 lets the event loop win the CPU.
    nice: ClassVar[int] = 0

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self._pool: offload.Pool | None = None
        self._exit = contextlib.AsyncExitStack()

    async def start(self) -> None:
        # All workers up front, so the first request does not pay for a start-up.
        pool = offload.Pool(
            self.kind,
            max_workers=self.workers,
            min_workers=self.workers,
            name=f"offload-demo-{self.kind}",
            initializer=os.nice if self.nice else None,
            initargs=(self.nice,) if self.nice else (),
        )
        self._pool = await self._exit.enter_async_context(pool)

    async def stop(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            # The server has already waited for (or cut) every request: whatever still
            # runs has nobody waiting for it.
            await pool.close(force=True)
        await self._exit.aclose()

    def _started(self) -> offload.Pool:
        if self._pool is None:
            raise offload.ClosedError(
                f"the {self.name} strategy is not started; run the app with its lifespan"
            )
        return self._pool

    async def search(self, job: Job, token: offload.CancelToken, emit: Emit) -> int:
        handle = self._started().submit(
            report_matches, list(job.data), job.total, job.max_streamed, token=token
        )
        try:
            async for match in handle.progress():
                await emit(tuple(cast("list[int]", match)))
            count: int = await handle
            return count
        finally:
            if not handle.done():
                handle.cancel()

    def load(self) -> Load:
        if self._pool is None:
            return Load(capacity=self.workers, busy=0, queued=0)
        stats = self._pool.stats()
        return Load(capacity=self.workers, busy=stats.busy, queued=stats.queued)


class Thread(_InPool):
    """Run the search in a thread pool: off the loop, but it still holds the GIL."""

    name = "thread"
    kind = "thread"


class Process(_InPool):
    """Run the search in worker processes: the loop only forwards matches."""

    name = "process"
    kind = "process"
    # With as many workers as cores, the server competes with them for the CPU; lower
    # priority workers leave it the moments it needs to answer.
    nice = 10


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (Blocking, Interleave, Thread, Process)
}


def make_strategy(name: str, workers: int) -> Strategy:
    """The strategy called ``name`` with ``workers`` workers; ValueError for unknown names.

    Example::

        strategy = make_strategy("process", workers=2)
    """
    try:
        return STRATEGIES[name](workers)
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}"
        ) from None
