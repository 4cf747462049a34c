"""offload.Pool: the front of the worker pool (queue, scheduling, cancellation, close)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal as _signal
import time
import weakref
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from contextvars import Context, ContextVar
from typing import TYPE_CHECKING, Any, Literal, Never, TypeVar

from offload._cancel import CancelToken
from offload._errors import (
    Cancelled,
    ClosedError,
    QueueFull,
    TaskTimeout,
    WorkerCrashed,
    WorkerStartFailed,
    WrongLoopError,
)

from ._backend import DRAINING, GONE, READY, STARTING, Backend, Worker
from ._functions import check_no_keywords, check_sync
from ._stats import PoolStats, Reservoir
from ._task import DONE, NO_PROGRESS_YET, QUEUED, SENT, Task, TaskHandle

if TYPE_CHECKING:
    from ._executor import PoolExecutor

__all__ = ["Pool"]

T = TypeVar("T")
R = TypeVar("R")

_log = logging.getLogger("offload.pool")
_MAX_START_FAILURES = 3
# A task whose workers die on their own twice before it starts fails (its function or
# arguments may be what kills them while loading).
_MAX_DEATHS_BEFORE_START = 2
# Signals a process raises against itself (a crash of its own code), unlike a kill.
_FAULT_SIGNALS = frozenset(
    int(getattr(_signal, name))
    for name in ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT", "SIGSYS", "SIGTRAP")
    if hasattr(_signal, name)
)
_PIPELINE_BELOW = 0.0005  # pipeline several tasks per worker when tasks are this short
_KINDS = ("process", "thread", "interpreter")
# The context the pool's done callbacks run in (they read no context variables).
_CALLBACK_CONTEXT = Context()


def _default_size() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Pool:
    """A pool of worker processes, threads or sub-interpreters (CPython 3.13+) for
    CPU-bound and blocking work.

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
        kind: Literal["process", "thread", "interpreter"] = "process",
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
    ) -> None:
        if kind not in _KINDS:
            raise ValueError(
                f"Pool kind must be 'process', 'thread' or 'interpreter', got {kind!r}"
            )
        if kind == "interpreter":  # CPython 3.13+ only: raises ValueError elsewhere
            from ._interpreter import check_supported

            check_supported(max_memory_per_worker)
        size = _default_size() if max_workers is None else max_workers
        _check_int("max_workers", size, 1)
        _check_int("min_workers", min_workers, 0)
        if min_workers > size:
            raise ValueError(f"min_workers ({min_workers}) is larger than max_workers ({size})")
        for label, value in (
            ("max_queue", max_queue),
            ("max_tasks_per_worker", max_tasks_per_worker),
            ("max_memory_per_worker", max_memory_per_worker),
        ):
            if value is not None:
                _check_int(label, value, 1)
        for label, seconds in (
            ("idle_timeout", idle_timeout),
            ("task_timeout", task_timeout),
            ("cancel_grace", cancel_grace),
        ):
            if seconds is not None and not seconds >= 0:
                raise ValueError(f"{label} must be >= 0 seconds, got {seconds!r}")
        self.kind = kind
        self.name = name or f"offload-{kind}-pool"
        self.max_workers = size
        self.min_workers = min_workers
        self.idle_timeout = idle_timeout
        self.max_queue = max_queue
        self.max_tasks_per_worker = max_tasks_per_worker
        self.max_memory_per_worker = max_memory_per_worker
        self.task_timeout = task_timeout
        self.cancel_grace = cancel_grace
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._context = list(context)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._backend: Backend | None = None
        self._queue: deque[Task] = deque()
        self._workers: dict[int, Worker] = {}
        self._next_worker = 1
        self._next_task = 1
        self._closing = False
        self._closed = False
        self._start_failures = 0
        self._killed_starts = 0  # workers killed from outside while starting, in a row
        self._spawn_after = 0.0  # no new worker before this (monotonic): back-off
        self._restart_timer: asyncio.TimerHandle | None = None
        self._dispatch_scheduled = False
        self._idle_timer: asyncio.TimerHandle | None = None
        self._space_waiters: deque[asyncio.Future[None]] = deque()
        self._drained: asyncio.Future[None] | None = None
        self._outstanding = 0  # queued + sent, not yet released
        self._short_tasks = False  # EWMA of run time below _PIPELINE_BELOW
        self._run_ewma = 0.01  # assume tasks are long until measured
        self._executor: PoolExecutor | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        # statistics
        self._started_at = time.monotonic()
        self._completed = 0
        self._failed = 0
        self._crashed = 0
        self._cancelled = 0
        self._busy_time = 0.0
        self._wait = Reservoir()
        self._run = Reservoir()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "closing" if self._closing else "open"
        return (
            f"<Pool {self.name!r} {self.kind} {state} workers={len(self._workers)}"
            f"/{self.max_workers} queued={len(self._queue)}>"
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
        if self._closing:
            raise ClosedError(f"{self.name} is closed; create a new Pool")
        if self._backend is not None:
            self._check_loop()
            return
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._started_at = time.monotonic()
        self._backend = self._create_backend(loop)
        release = self._backend.leftovers()
        if release is not None:  # a pool dropped without close(), or alive at exit
            self._finalizer = weakref.finalize(self, release)
        for _ in range(self.min_workers):
            if not self._spawn():
                break

    def _check_loop(self) -> None:
        """Refuse use from an event loop other than the one that started the pool."""
        loop = self._loop
        if loop is None:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop or (running is None and not loop.is_closed()):
            return
        state = "is closed" if loop.is_closed() else "is another one"
        raise WrongLoopError(
            f"{self.name} belongs to the event loop that started it, and that loop {state}; "
            "a pool serves one loop: create it inside the loop that uses it (for example in "
            "the coroutine passed to asyncio.run), and close it there. `await "
            "pool.close()` from any loop still releases its workers."
        )

    def _create_backend(self, loop: asyncio.AbstractEventLoop) -> Backend:
        """The worker kind; a subclass may return another backend (tests use a fake)."""
        if self.kind == "process":
            from ._process import ProcessBackend

            return ProcessBackend(
                self,
                loop,
                initializer=self._initializer,
                initargs=self._initargs,
                context_vars=self._context,
                max_memory=self.max_memory_per_worker,
            )
        if self.kind == "interpreter":
            from ._interpreter import InterpreterBackend

            return InterpreterBackend(
                self,
                loop,
                initializer=self._initializer,
                initargs=self._initargs,
                context_vars=self._context,
            )
        from ._thread import ThreadBackend

        return ThreadBackend(
            self, loop, name=self.name, initializer=self._initializer, initargs=self._initargs
        )

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
        owner = self._loop
        if owner is not None and not _in_loop(owner):
            if owner.is_running() and not owner.is_closed():
                done = asyncio.run_coroutine_threadsafe(self.close(force), owner)
                await asyncio.wrap_future(done)
            else:
                self._close_now()
            return
        self._closing = True
        if force:
            self._fail_all(ClosedError(f"{self.name} was closed with force=True"))
            for worker in list(self._workers.values()):
                worker.kill()  # their exits release what they held
        for waiter in self._space_waiters:
            if not waiter.done():
                waiter.set_exception(ClosedError(f"{self.name} was closed"))
        if self._outstanding and self._loop is not None:
            if self._drained is None or self._drained.done():
                self._drained = self._loop.create_future()
            await asyncio.shield(self._drained)
        if self._closed:
            return
        self._closed = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._restart_timer is not None:
            self._restart_timer.cancel()
            self._restart_timer = None
        backend = self._backend
        if backend is not None:
            for worker in list(self._workers.values()):
                if force:
                    worker.kill()
                else:
                    worker.retire()
            await backend.aclose()
        self._workers.clear()
        if self._finalizer is not None:
            self._finalizer.detach()

    def _close_now(self) -> None:
        """Release everything without the pool's event loop (closed, or not running)."""
        self._closing = True
        if self._closed and not self._workers:
            return
        self._closed = True
        for timer in (self._idle_timer, self._restart_timer):
            if timer is not None:
                timer.cancel()
        self._idle_timer = self._restart_timer = None
        error = ClosedError(f"{self.name} was closed from outside its event loop")
        tasks = list(self._queue)
        self._queue.clear()
        for worker in list(self._workers.values()):
            tasks.extend(worker.inflight)
            worker.inflight.clear()
        for task in tasks:
            with contextlib.suppress(RuntimeError):  # the loop is closed: no callbacks
                self._resolve_error(task, error)
            self._release(task)
        for waiter in self._space_waiters:
            with contextlib.suppress(RuntimeError):
                if not waiter.done():
                    waiter.set_exception(error)
        if self._backend is not None:
            self._backend.release_now()
        self._workers.clear()

    def _fail_all(self, error: BaseException) -> None:
        queued, self._queue = list(self._queue), deque()
        for task in queued:
            self._resolve_error(task, error)
            self._release(task)
        for worker in list(self._workers.values()):
            for task in list(worker.inflight):
                self._resolve_error(task, error)
                worker.request_cancel(task)  # thread tasks see their token cancelled

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
        self._check_loop()
        while self.max_queue is not None and len(self._queue) >= self.max_queue:
            await self._wait_for_space()
        task = self._submit(fn, args, timeout, token, progress=False, watch=False)
        try:
            return await task.future  # type: ignore[no-any-return]
        except asyncio.CancelledError:
            # The caller was cancelled (asyncio cancelled the future with it).
            if task.future.cancelled() and task.state != DONE:
                self._abandon(task, grace=0.0, count=True)
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
        self._check_loop()
        if self.max_queue is not None and len(self._queue) >= self.max_queue:
            raise QueueFull(
                f"{self.name} has {len(self._queue)} queued tasks (max_queue="
                f"{self.max_queue}); await pool.run() to wait for space, or retry later"
            )
        return TaskHandle(self._submit(fn, args, timeout, token, progress=True))

    submit_nowait = submit

    async def _wait_for_space(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._space_waiters.append(waiter)
        try:
            await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._space_waiters.remove(waiter)

    def _wake_space_waiter(self) -> None:
        while self._space_waiters:
            waiter = self._space_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _submit(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        timeout: float | None,
        token: CancelToken | None,
        *,
        progress: bool,
        watch: bool = True,
        on_start: Callable[[Task], bool] | None = None,
    ) -> Task:
        if self._closing:
            raise ClosedError(f"{self.name} is closed; create a new Pool to run more work")
        self._check_loop()
        if not callable(fn):
            raise TypeError(f"Pool.run() needs a callable, got {type(fn).__qualname__}")
        check_sync(fn)  # an async function is refused before anything runs
        if timeout is None:
            timeout = self.task_timeout
        elif not timeout >= 0:
            raise ValueError(f"timeout must be >= 0 seconds, got {timeout!r}")
        if self._backend is None:
            self.start()
        if self._start_failures >= _MAX_START_FAILURES:
            self._start_failures = 0  # new work: try starting workers again
        backend = self._backend
        loop = self._loop
        assert backend is not None
        assert loop is not None
        task = Task(self._next_task, fn, args, loop.create_future(), timeout, time.monotonic())
        self._next_task += 1
        task.on_start = on_start
        if self._context and self.kind in ("process", "interpreter"):
            task.ctx = tuple(var.get(None) for var in self._context)
        backend.prepare(task)  # may raise SerializationError: nothing is queued then
        if progress:
            task.progress = NO_PROGRESS_YET
        if token is not None and token.cancelled:
            task.future.set_exception(Cancelled(token.reason))
            task.state = DONE
            return task
        if watch:  # whoever holds the future may cancel it: react to that
            # The task is the callback and the context is shared: no objects per task
            # (a deep queue is traversed by every full garbage collection).
            task.pool = self
            task.future.add_done_callback(task, context=_CALLBACK_CONTEXT)
        self._outstanding += 1
        self._queue.append(task)
        if token is not None:
            # Registered once queued: a cancel racing in from another thread finds the
            # task where _abandon looks for it.
            task.unlink = token.on_cancel(
                lambda t: (
                    loop.call_soon_threadsafe(self._on_token, task, t.reason)
                    if not _in_loop(loop)
                    else self._on_token(task, t.reason)
                )
            )
        backend.preload(task)
        if len(self._queue) == 1 and self._queue[0] is task and not self._dispatch_scheduled:
            # An idle worker takes it now: one loop turn less on every round trip.
            for worker in self._workers.values():
                if worker.state == READY and not worker.inflight:
                    self._queue.pop()
                    self._send(worker, [task], time.monotonic())
                    return task
        self._schedule_dispatch()
        return task

    # -- scheduling ------------------------------------------------------------------

    def _schedule_dispatch(self) -> None:
        if not self._dispatch_scheduled and self._loop is not None and not self._closed:
            self._dispatch_scheduled = True
            self._loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._dispatch_scheduled = False
        backend = self._backend
        if backend is None or self._closed:
            return
        queue = self._queue
        if queue:
            ready = [w for w in self._workers.values() if w.state == READY]
            # idle workers first, so short queues spread out instead of piling up
            ready.sort(key=lambda w: len(w.inflight))
            # Pipelining hides round trips for tiny tasks, but only once no more workers
            # can be started: an idle or new worker beats a queue behind a busy one.
            live = sum(1 for w in self._workers.values() if w.state != GONE)
            can_grow = live < self.max_workers and self._start_failures < _MAX_START_FAILURES
            depth = backend.max_depth if self._short_tasks and not can_grow else 1
            share = max(1, math.ceil(len(queue) / max(1, len(ready))))
            now = time.monotonic()
            for worker in ready:
                if not queue:
                    break
                limit = min(depth, len(worker.inflight) + share)
                if self.max_tasks_per_worker is not None:
                    limit = min(
                        limit, len(worker.inflight) + self.max_tasks_per_worker - worker.sent
                    )
                batch: list[Task] = []
                while queue and len(worker.inflight) + len(batch) < limit:
                    batch.append(queue.popleft())
                if batch:
                    self._send(worker, batch, now)
            if self.max_queue is not None:
                for _ in range(self.max_queue - len(queue)):
                    if not self._space_waiters:
                        break
                    self._wake_space_waiter()
        # grow: one starting worker per queued task, within max_workers; stop trying
        # after repeated start-up failures until new work is submitted
        if self._start_failures >= _MAX_START_FAILURES or (self._closing and not queue):
            return
        starting = sum(1 for w in self._workers.values() if w.state == STARTING)
        live = sum(1 for w in self._workers.values() if w.state != GONE)
        wanted = max(len(queue) - starting, self.min_workers - live)
        count = min(wanted, self.max_workers - live)
        if count <= 0:
            return
        delay = self._spawn_after - time.monotonic()
        if delay > 0:  # workers were killed while starting: wait out the back-off
            if self._restart_timer is None and self._loop is not None:
                self._restart_timer = self._loop.call_later(delay, self._restart_due)
            return
        for _ in range(count):
            if not self._spawn():
                break

    def _restart_due(self) -> None:
        self._restart_timer = None
        self._schedule_dispatch()

    def _killed_while_starting(self) -> None:
        """A start failed for a reason outside the user's code: try again, later."""
        self._killed_starts += 1
        n = self._killed_starts - 1  # the first one is started again at once
        pause = min(self._restart_max, self._restart_first * 2 ** min(n - 1, 20)) if n else 0.0
        self._spawn_after = time.monotonic() + pause

    def _send(self, worker: Worker, batch: list[Task], now: float) -> None:
        inflight = worker.inflight
        for task in batch:
            task.state = SENT
            task.worker = worker
            task.seq = worker.next_seq
            worker.next_seq += 1
            if not inflight:
                self._mark_running(task, now)
            inflight.append(task)
        worker.sent += len(batch)
        worker.send(batch)
        if self.max_tasks_per_worker is not None and worker.sent >= self.max_tasks_per_worker:
            worker.state = DRAINING

    def _spawn(self) -> bool:
        """Start one worker; False if none could be started now."""
        assert self._backend is not None
        worker_id = self._next_worker
        self._next_worker += 1
        try:
            worker = self._backend.new_worker(worker_id)
        except ConnectionError:  # the template was killed while asked: a new one, later
            self._killed_while_starting()
            self._schedule_dispatch()
            return False
        except OSError as exc:
            self._start_failures = _MAX_START_FAILURES
            self._fail_queue(WorkerStartFailed(f"could not start a worker: {exc}"))
            return False
        self._workers[worker_id] = worker
        return True

    def _mark_running(self, task: Task, now: float) -> None:
        task.started = now
        if task.on_start is not None and not task.on_start(task):
            task.future.cancel()  # its caller gave up just before (counted when that lands)
            self._abandon(task, grace=0.0, count=False)  # now: before the worker sees it
        if task.cancel_deadline is not None:
            self._kill_later(task)
        elif task.timeout is not None and self._loop is not None:
            task.timer = self._loop.call_later(task.timeout, self._on_timeout, task)

    # -- cancellation ----------------------------------------------------------------

    def _on_future_done(self, task: Task, future: asyncio.Future[Any]) -> None:
        task._wake()
        if task.state == DONE:
            return
        if future.cancelled():
            self._abandon(task, grace=0.0, count=True)

    def _on_token(self, task: Task, reason: object) -> None:
        if task.state == DONE or task.future.done():
            return
        self._resolve_error(task, Cancelled(reason))
        self._abandon(task, grace=self.cancel_grace, count=True)

    def _on_timeout(self, task: Task) -> None:
        task.timer = None
        if task.state == DONE or task.future.done():
            return
        self._failed += 1
        self._resolve_error(
            task,
            TaskTimeout(
                f"{task.fn_name}() ran longer than its timeout of {task.timeout} s; "
                "raise the timeout or split the work"
            ),
        )
        self._abandon(task, grace=0.0, count=False)

    def _abandon(self, task: Task, *, grace: float, count: bool) -> None:
        """The caller has its answer; stop the task wherever it is."""
        if count:
            self._cancelled += 1
        if task.state == QUEUED:
            with contextlib.suppress(ValueError):
                self._queue.remove(task)
            self._release(task)
            self._wake_space_waiter()
            return
        worker = task.worker
        if worker is None or task.state != SENT:
            return
        worker.request_cancel(task)
        if not self._backend or not self._backend.can_kill:
            return
        task.cancel_deadline = time.monotonic() + grace
        if worker.inflight and worker.inflight[0] is task:
            self._kill_later(task)

    def _kill_later(self, task: Task) -> None:
        assert task.cancel_deadline is not None
        assert self._loop is not None
        if task.timer is not None:
            task.timer.cancel()
        delay = task.cancel_deadline - time.monotonic()
        if delay <= 0:
            self._kill_task(task)
        else:
            task.timer = self._loop.call_later(delay, self._kill_task, task)

    def _kill_task(self, task: Task) -> None:
        task.timer = None
        worker = task.worker
        if task.state != SENT or worker is None:
            return
        if worker.inflight and worker.inflight[0] is task:
            worker.kill_if_running(task)

    # -- callbacks from workers ------------------------------------------------------

    def _worker_ready(self, worker: Worker) -> None:
        if worker.state == STARTING:
            worker.state = READY
            worker.idle_since = time.monotonic()
            self._start_failures = 0
            self._killed_starts = 0
            self._spawn_after = 0.0
            if self._closed:
                worker.retire()
            self._schedule_dispatch()
            self._arm_idle_timer()

    def _worker_retire(self, worker: Worker) -> None:
        if worker.state in (READY, STARTING):
            worker.state = DRAINING
        if not worker.inflight:
            worker.retire()
        self._schedule_dispatch()

    def _task_done(self, worker: Worker, seq: int, ok: bool, value: Any, run_time: float) -> None:
        inflight = worker.inflight
        if not inflight or inflight[0].seq != seq:
            return  # not ours (a task released by a force close)
        task = inflight.popleft()
        now = time.monotonic()
        if inflight:
            self._mark_running(inflight[0], now)
        else:
            worker.idle_since = now
        self._busy_time += run_time
        self._run_ewma = 0.8 * self._run_ewma + 0.2 * run_time
        self._short_tasks = self._run_ewma < _PIPELINE_BELOW
        future = task.future
        if not future.done():
            if ok:
                self._completed += 1
                future.set_result(value)
            elif value is None:  # skipped: cancelled before it started
                future.cancel()
            else:
                self._failed += 1
                future.set_exception(value)
            self._wait.add(max(0.0, now - task.submitted - run_time))
            self._run.add(run_time)
        self._release(task)
        if worker.state == DRAINING and not inflight:
            worker.retire()
        elif not inflight:
            self._arm_idle_timer()
        if self._queue:
            self._schedule_dispatch()

    def _task_report(self, worker: Worker, seq: int, value: object) -> None:
        for task in worker.inflight:
            if task.seq == seq:
                task.push_progress(value)
                return

    def _worker_log(self, worker: Worker, seq: int, data: dict[str, Any]) -> None:
        task_id = next((t.id for t in worker.inflight if t.seq == seq), None)
        prefix = f"[worker {worker.pid or worker.id}" + (
            f" task {task_id}] " if task_id is not None else "] "
        )
        data["msg"] = prefix + str(data.get("msg", ""))
        data["args"] = None
        record = logging.makeLogRecord(data)
        record.worker = worker.pid or worker.id
        record.task = task_id
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)

    def _worker_exited(self, worker: Worker, exitcode: int | None, signum: int | None) -> None:
        was = worker.state
        worker.state = GONE
        self._workers.pop(worker.id, None)
        inflight = list(worker.inflight)
        worker.inflight.clear()
        if was == STARTING and not worker.retiring:
            self._requeue(inflight)
            self._start_ended(worker.start_error, exitcode, signum)
        elif inflight:
            head, rest = inflight[0], inflight[1:]
            if worker.has_started(head):
                if not head.future.done():
                    self._crashed += 1
                    self._resolve_error(
                        head,
                        WorkerCrashed(
                            f"worker {worker.pid} {_how(exitcode, signum)} while running "
                            f"{head.fn_name}(); it was replaced and other tasks go on",
                            pid=worker.pid,
                            exitcode=exitcode,
                            signal=signum,
                            function=head.fn_name,
                        ),
                    )
                self._release(head)
                self._requeue(rest)
            else:
                # The worker died between tasks: none of those it held had started, so
                # they run elsewhere. A worker that ended on its own, twice, before the
                # same task started is stopped by that task (loading it kills the worker).
                if exitcode is not None or signum in _FAULT_SIGNALS:
                    head.deaths += 1
                if head.deaths >= _MAX_DEATHS_BEFORE_START and not head.future.done():
                    self._crashed += 1
                    self._resolve_error(
                        head,
                        WorkerCrashed(
                            f"worker {worker.pid} {_how(exitcode, signum)} before "
                            f"{head.fn_name}() started, for the {head.deaths}th time with "
                            "this task: loading its function or arguments kills the worker",
                            pid=worker.pid,
                            exitcode=exitcode,
                            signal=signum,
                            function=head.fn_name,
                        ),
                    )
                    self._release(head)
                    inflight = rest
                self._requeue(inflight)
        self._schedule_dispatch()
        self._check_drained()

    def _start_ended(
        self, error: BaseException | None, exitcode: int | None, signum: int | None
    ) -> None:
        """A worker ended before it was ready. Only failures of the user's code (the
        initializer raised, an import failed, the worker exited on its own or crashed)
        count toward failing queued work; a worker killed from outside, or with its
        template, is started again after a pause."""
        if error is None and exitcode is None and signum not in _FAULT_SIGNALS:
            self._killed_while_starting()
            return
        self._start_failures += 1
        if self._start_failures < _MAX_START_FAILURES:
            return
        if isinstance(error, ImportError):
            detail = f"an import failed: {type(error).__name__}: {error}"
        elif error is not None:
            detail = f"the initializer raised {type(error).__name__}: {error}"
        else:
            detail = f"the worker {_how(exitcode, signum)} while starting"
        failure = WorkerStartFailed(
            f"{self.name}: {self._start_failures} workers in a row could not start "
            f"({detail}); fix that, then submit again"
        )
        if error is not None:
            failure.__cause__ = error
        self._fail_queue(failure)

    def _requeue(self, tasks: list[Task]) -> None:
        for task in reversed(tasks):
            if task.state == DONE or task.future.done():
                self._release(task)
                continue
            task.state = QUEUED
            task.worker = None
            if task.timer is not None:
                task.timer.cancel()
                task.timer = None
            self._queue.appendleft(task)

    def _fail_queue(self, error: BaseException) -> None:
        queued, self._queue = list(self._queue), deque()
        for task in queued:
            self._resolve_error(task, error)
            self._release(task)

    # -- bookkeeping -----------------------------------------------------------------

    def _resolve_error(self, task: Task, error: BaseException) -> None:
        if not task.future.done():
            task.future.set_exception(error)
            # The caller may have left already; do not warn about unretrieved errors.
            task.future.exception()

    def _release(self, task: Task) -> None:
        if task.state == DONE:
            return
        task.release()
        self._outstanding -= 1
        self._check_drained()

    def _check_drained(self) -> None:
        if self._outstanding <= 0 and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _arm_idle_timer(self) -> None:
        if self.idle_timeout is None or self._idle_timer is not None or self._loop is None:
            return
        if len(self._workers) <= self.min_workers:
            return
        idle = [w.idle_since for w in self._workers.values() if w.state == READY and not w.inflight]
        if idle:
            when = min(idle) + self.idle_timeout - time.monotonic()
            self._idle_timer = self._loop.call_later(max(0.0, when), self._reap_idle)

    def _reap_idle(self) -> None:
        self._idle_timer = None
        if self._closed or self.idle_timeout is None:
            return
        now = time.monotonic()
        idle = sorted(
            (w for w in self._workers.values() if w.state == READY and not w.inflight),
            key=lambda w: w.idle_since,
        )
        live = sum(1 for w in self._workers.values() if w.state != GONE)
        for worker in idle:
            if live <= self.min_workers:
                break
            if now - worker.idle_since >= self.idle_timeout:
                worker.state = DRAINING
                worker.retire()
                live -= 1
        self._arm_idle_timer()

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
        self._check_loop()
        from ._map import map_tasks

        check_sync(fn)  # refused here, not at the first item
        return map_tasks(
            self,
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
        workers = [w for w in self._workers.values() if w.state != GONE]
        elapsed = max(1e-9, time.monotonic() - self._started_at)
        return PoolStats(
            workers=len(workers),
            busy=sum(1 for w in workers if w.inflight),
            queued=len(self._queue),
            completed=self._completed,
            failed=self._failed,
            crashed=self._crashed,
            cancelled=self._cancelled,
            wait_p50=self._wait.percentile(50),
            wait_p99=self._wait.percentile(99),
            run_p50=self._run.percentile(50),
            run_p99=self._run.percentile(99),
            utilization=min(1.0, self._busy_time / (elapsed * self.max_workers)),
        )

    @property
    def executor(self) -> PoolExecutor:
        """A ``concurrent.futures.Executor`` running on this pool (for ``run_in_executor``).

        Its ``submit`` may be called from any thread; keyword arguments are passed on
        to the function. Its futures must not be waited for (``result()``) on this
        pool's own loop thread; synchronous programs use ``offload.PoolExecutor()``.

        Example::

            await loop.run_in_executor(pool.executor, crunch, data)
        """
        self._check_loop()
        if self._executor is None:
            from ._executor import PoolExecutor

            if self._loop is None:
                self.start()
            assert self._loop is not None
            self._executor = PoolExecutor._attach(self, self._loop)
        return self._executor


def _check_int(label: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{label} must be an int >= {minimum}, got {value!r}")


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _how(exitcode: int | None, signum: int | None) -> str:
    if signum is not None:
        try:
            name = _signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        return f"was killed by signal {name}"
    if exitcode is not None:
        return f"exited with code {exitcode}"
    return "died (exit status unknown)"
