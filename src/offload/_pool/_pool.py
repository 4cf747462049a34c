"""offload.Pool: the public front of the worker pool.

It checks the options, turns calls into tasks for the scheduler (``_scheduler.py``, which
owns the queue, the workers and every decision) and returns results, handles, ``map``
iterators, statistics and an executor. Its ``_create_backend`` is the only place a
backend is made for a pool (``_kinds.py`` says which class a kind is).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal, Never, TypeVar

from offload._cancel import CancelToken
from offload._errors import QueueFull

from ._backend import Backend
from ._config import PoolConfig
from ._events import WorkerEvents
from ._functions import check_no_keywords, check_sync
from ._kinds import create_backend
from ._scheduler import Scheduler
from ._stats import PoolStats
from ._task import TaskHandle

if TYPE_CHECKING:
    from ._executor import PoolExecutor

__all__ = ["Pool"]

T = TypeVar("T")
R = TypeVar("R")


class Pool:
    """A pool of worker processes, threads, sub-interpreters (CPython 3.13+) or Dask
    workers for CPU-bound and blocking work.

    A crashed worker fails only its own task (:class:`offload.WorkerCrashed`) and is
    replaced; running process tasks can be cancelled and timed out (the worker is
    stopped and replaced); results and errors arrive with their own types.

    Raises ``ValueError`` for a wrong ``kind`` or sizes, :class:`offload.ClosedError`
    after :meth:`close`.

    Example::

        async with offload.Pool() as pool:
            total = await pool.run(sum, range(10**7))
            async for square in pool.map(pow2, range(100)):
                ...
    """

    # Workers killed from outside while starting are started again after a pause that
    # doubles from _restart_first up to _restart_max seconds (reset by a worker that
    # starts).
    _restart_first = 0.01
    _restart_max = 1.0

    def __init__(
        self,
        kind: Literal["process", "thread", "interpreter", "dask"] = "process",
        *,
        max_workers: int | None = None,
        min_workers: int = 0,
        idle_timeout: float | None = 60.0,
        max_queue: int | None = None,
        max_tasks_per_worker: int | None = None,
        max_memory_per_worker: int | None = None,
        task_timeout: float | None = None,
        cancel_grace: float = 1.0,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        context: Iterable[ContextVar[Any]] = (),
        name: str | None = None,
        address: Any = None,
    ) -> None:
        options = dict(locals())  # exactly the parameters above
        del options["self"]
        config = PoolConfig.checked(**options)
        self._config = config
        self._scheduler = Scheduler(
            config,
            self._create_backend,
            restart_first=self._restart_first,
            restart_max=self._restart_max,
        )
        self._executor: PoolExecutor | None = None

    # -- the options, as given (read-only) ---------------------------------------------

    @property
    def kind(self) -> str:
        """The worker kind (``"process"``, ``"thread"``, ...)."""
        return self._config.kind

    @property
    def name(self) -> str:
        """The pool's name (thread names, process titles, log lines)."""
        return self._config.name

    @property
    def max_workers(self) -> int:
        """At most this many workers run at once (a Dask pool given a cluster and no
        ``max_workers`` follows the cluster's worker threads)."""
        return self._scheduler.max_workers

    @property
    def min_workers(self) -> int:
        """This many workers are kept alive once started."""
        return self._config.min_workers

    @property
    def idle_timeout(self) -> float | None:
        """Seconds after which an idle worker above ``min_workers`` retires."""
        return self._config.idle_timeout

    @property
    def max_queue(self) -> int | None:
        """How many tasks may wait for a worker (None: no limit)."""
        return self._config.max_queue

    @property
    def max_tasks_per_worker(self) -> int | None:
        """Tasks after which a worker is replaced (None: never)."""
        return self._config.max_tasks_per_worker

    @property
    def max_memory_per_worker(self) -> int | None:
        """Bytes of memory after which a process worker is replaced."""
        return self._config.max_memory_per_worker

    @property
    def task_timeout(self) -> float | None:
        """The timeout of a task that gives none (seconds, from its start)."""
        return self._config.task_timeout

    @property
    def cancel_grace(self) -> float:
        """Seconds a task cancelled by its token has to stop before its worker is."""
        return self._config.cancel_grace

    def __repr__(self) -> str:
        scheduler = self._scheduler
        state = "closed" if scheduler.closed else "closing" if scheduler.closing else "open"
        return (
            f"<Pool {self.name!r} {self.kind} {state} workers={len(scheduler.workers)}"
            f"/{self.max_workers} queued={scheduler.queued}>"
        )

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Pool:
        self.start()
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        # Leaving because of an error: nobody will await the remaining work.
        await self.close(force=exc_type is not None)

    def start(self) -> None:
        """Start the pool (and ``min_workers`` workers) now; ``run`` does this on demand.

        The pool then belongs to the running event loop: using it from another loop
        raises :class:`offload.WrongLoopError`.
        """
        self._scheduler.start()

    def _create_backend(self, events: WorkerEvents, loop: asyncio.AbstractEventLoop) -> Backend:
        """The pool's backend, of the kind it was given (a subclass may return another:
        the scheduler tests use an in-memory fake)."""
        return create_backend(self.kind, events, loop, self._config.backend_options())

    async def close(self, force: bool = False) -> None:
        """Finish queued and running work, then stop every worker.

        With ``force=True``, queued and running tasks fail with
        :class:`offload.ClosedError` and running process workers are killed at once
        (thread tasks see their token cancelled). Closing twice is fine.

        Called from another event loop than the pool's, ``close`` closes the pool in
        its own loop if that loop runs in another thread, and otherwise (its loop is
        closed) releases workers and processes at once, failing unfinished tasks.

        Example::

            await pool.close()
        """
        await self._scheduler.close(force)

    # -- submitting ------------------------------------------------------------------

    async def run(
        self,
        fn: Callable[..., R],
        *args: Any,
        timeout: float | None = None,
        token: CancelToken | None = None,
        **kwargs: Never,
    ) -> R:
        """Run ``fn(*args)`` in a worker and return its result.

        Keyword arguments are the pool's (pass ``fn``'s own with ``functools.partial``;
        any other keyword raises ``TypeError`` saying so; so does an async ``fn``).
        Waits for queue space when ``max_queue`` is reached. ``timeout`` counts from
        when the task starts running. Raises what ``fn`` raised (with the worker's
        traceback as ``__cause__``), :class:`offload.TaskExited` (``fn`` called
        ``sys.exit()`` or raised KeyboardInterrupt), :class:`offload.TaskTimeout`,
        :class:`offload.WorkerCrashed`, :class:`offload.SerializationError`,
        :class:`offload.Cancelled` (token), :class:`offload.ClosedError`,
        :class:`offload.WrongLoopError` (called from another event loop than the pool's).

        Example::

            digest = await pool.run(hashlib.sha256, data)
        """
        if kwargs:
            check_no_keywords("run", fn, kwargs)
        scheduler = self._scheduler
        while scheduler.queue_full:
            scheduler.check_loop()
            await scheduler.wait_for_space()
        # The scheduler checks the loop first (WrongLoopError), then the rest.
        task = scheduler.submit(fn, args, timeout=timeout, token=token, watch=False)
        try:
            return await task.future  # type: ignore[no-any-return]
        except asyncio.CancelledError:
            # The caller was cancelled (asyncio cancelled the future with it).
            scheduler.caller_cancelled(task)
            raise

    def submit(
        self,
        fn: Callable[..., R],
        *args: Any,
        timeout: float | None = None,
        token: CancelToken | None = None,
        **kwargs: Never,
    ) -> TaskHandle[R]:
        """Queue ``fn(*args)`` and return a :class:`TaskHandle` at once.

        Raises :class:`offload.QueueFull` when ``max_queue`` is reached (use ``run`` to
        wait for space), :class:`offload.ClosedError` after close.

        Example::

            handle = pool.submit(crunch, data, timeout=30)
            result = await handle
        """
        if kwargs:
            check_no_keywords("submit", fn, kwargs)
        scheduler = self._scheduler
        if scheduler.queue_full:
            scheduler.check_loop()
            raise QueueFull(
                f"{self.name} has {scheduler.queued} queued tasks (max_queue="
                f"{self.max_queue}); await pool.run() to wait for space, or retry later"
            )
        return TaskHandle(scheduler.submit(fn, args, timeout=timeout, token=token, progress=True))

    submit_nowait = submit

    # -- map, stats, executor ----------------------------------------------------------

    def map(
        self,
        fn: Callable[[T], R],
        iterable: Iterable[T] | AsyncIterable[T],
        *,
        ordered: bool = True,
        window: int | None = None,
        progress: bool = False,
    ) -> AsyncIterator[R]:
        """Yield ``fn(item)`` for every item, with at most ``window`` tasks in flight.

        Pulls ``iterable`` (sync or async) lazily; ``ordered=False`` yields results as
        they finish. If an item fails its exception is raised and the outstanding tasks
        are cancelled; so are they when the consumer stops early. ``progress=True``
        draws a progress bar on the terminal (rich if installed, else a plain line).

        Example::

            async for size in pool.map(os.path.getsize, paths, ordered=False):
                total += size
        """
        self._scheduler.check_loop()
        from ._map import map_tasks

        check_sync(fn)  # refused here, not at the first item
        return map_tasks(
            self._scheduler,
            fn,
            iterable,
            ordered=ordered,
            window=window or 2 * self.max_workers,
            progress=progress,
        )

    def stats(self) -> PoolStats:
        """A snapshot of workers, queue, outcomes and wait/run percentiles (seconds).

        Example::

            print(pool.stats().run_p99)
        """
        return self._scheduler.stats()

    @property
    def executor(self) -> PoolExecutor:
        """A ``concurrent.futures.Executor`` running on this pool (for ``run_in_executor``).

        Its ``submit`` may be called from any thread; keyword arguments are passed on
        to the function. Its futures must not be waited for (``result()``) on this
        pool's own loop thread; synchronous programs use ``offload.PoolExecutor()``.

        Example::

            await loop.run_in_executor(pool.executor, crunch, data)
        """
        scheduler = self._scheduler
        scheduler.check_loop()
        if self._executor is None:
            from ._executor import PoolExecutor

            if scheduler.loop is None:
                self.start()
            assert scheduler.loop is not None
            self._executor = PoolExecutor._attach(scheduler, scheduler.loop)
        return self._executor
