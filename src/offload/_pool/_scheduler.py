"""The scheduler: the queue, the workers' bookkeeping, and every decision about a task.

It owns the queue of tasks and one :class:`WorkerSlot` per worker (its state, the tasks
it holds in order, their sequence numbers), hands tasks to workers, reacts to the
events backends report (:class:`~offload._pool._events.WorkerEvents`), arms timeouts,
cancels, requeues and closes. ``offload.Pool`` is the public front over it;
``Pool.map`` and ``PoolExecutor`` use its small public surface: :meth:`Scheduler.submit`,
:attr:`Scheduler.queue_full`, :meth:`Scheduler.wait_for_space`, :attr:`Scheduler.closing`
and :meth:`Scheduler.close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import logging
import math
import signal as _signal
import time
import weakref
from asyncio import _get_running_loop
from collections import deque
from collections.abc import Callable
from typing import Any

from offload._cancel import CancelToken
from offload._errors import (
    Cancelled,
    ClosedError,
    TaskTimeout,
    WorkerCrashed,
    WorkerStartFailed,
    WrongLoopError,
)
from offload._loop import call_in_loop, running_in

from ._backend import Backend, NoWorkerProcess, Worker
from ._config import PoolConfig
from ._events import WorkerEnd
from ._functions import check_sync
from ._kinds import create_backend
from ._stats import PoolStats, Reservoir
from ._task import DONE, NO_PROGRESS_YET, QUEUED, SENT, Task

__all__ = ["BackendFactory", "Scheduler", "WorkerSlot", "WorkerState"]

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
# The queue is compacted when more than this many released tasks are still in it, and
# they are half of it (see Scheduler.queue).
_COMPACT_ABOVE = 64
# During a long run of submits with no loop turn between them (a loop submitting
# thousands of tasks, or thousands of callers started at once), the submit itself takes
# in what the workers answered and hands them more, every _CATCH_UP_EVERY queued tasks
# once _CATCH_UP_AFTER have queued since the dispatch last ran: else the workers sit idle
# until the run ends (see Scheduler._catch_up). Shorter runs (the callers that one loop
# turn's answers wake, each submitting its next task) are left to the dispatch: the
# extra reads would only split the workers' answers into smaller batches.
_CATCH_UP_AFTER = 256
_CATCH_UP_EVERY = 16
# Results taken in that way are given to their callers this many per loop callback, once
# the run of submits has ended (see Scheduler._settle).
_SETTLE_PER_TURN = 64

#: builds the backend of a starting scheduler: (events, loop) -> Backend
BackendFactory = Callable[["Scheduler", asyncio.AbstractEventLoop], Backend]


class WorkerState(enum.IntEnum):
    """Where a worker is in its life, as the scheduler sees it."""

    STARTING = 0
    READY = 1
    DRAINING = 2  # takes no new tasks; retires when the tasks it holds are done
    GONE = 3


STARTING, READY, DRAINING, GONE = WorkerState


class WorkerSlot:
    """The scheduler's record of one worker; only the scheduler writes it."""

    __slots__ = ("idle_since", "inflight", "next_seq", "retiring", "sent", "state", "worker")

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.state = STARTING
        self.inflight: deque[Task] = deque()  # sent, in order; the head is running
        self.next_seq = 1
        self.sent = 0
        self.idle_since = 0.0
        self.retiring = False  # told to stop: an exit now is expected, not a crash

    @property
    def pid(self) -> int | None:
        """The worker's pid, once known (None for workers that are not processes)."""
        return self.worker.pid

    def retire(self) -> None:
        self.retiring = True
        self.worker.retire()

    def kill(self) -> None:
        self.retiring = True
        self.worker.kill()


class Scheduler:
    """Queue, workers and outcomes of one pool (see the module docstring)."""

    def __init__(
        self,
        config: PoolConfig,
        create: BackendFactory | None = None,
        *,
        restart_first: float = 0.01,
        restart_max: float = 1.0,
        release_at_exit: bool = True,
    ) -> None:
        self.config = config
        # False: the owner closes the pool at interpreter exit itself, after finishing
        # its pending work (PoolExecutor), so the backend must not be released before.
        self._release_at_exit = release_at_exit
        self.name = config.name
        # config.max_workers, or what the backend reports (on_resize)
        self.max_workers = config.max_workers
        self._create = create
        # Workers killed from outside while starting are started again after a pause that
        # doubles from restart_first up to restart_max seconds (reset by a worker that
        # starts).
        self._restart_first = restart_first
        self._restart_max = restart_max
        self.loop: asyncio.AbstractEventLoop | None = None
        self.backend: Backend | None = None
        # Tasks waiting for a worker, oldest first. It may also hold tasks released while
        # deep inside it (cancelled, timed out): removing one there costs the queue's
        # length, so cancelling a deep queue one task at a time would be quadratic; they
        # are skipped when their turn comes, and the queue is compacted when they are
        # half of it. ``queued`` counts only the live ones.
        self.queue: deque[Task] = deque()
        self._dropped = 0  # released tasks still in self.queue
        self.workers: dict[int, WorkerSlot] = {}
        self._next_worker = 1
        self._next_task = 1
        self.closing = False
        self.closed = False
        self._start_failures = 0
        self._killed_starts = 0  # workers killed from outside while starting, in a row
        self._spawn_after = 0.0  # no new worker before this (monotonic): back-off
        self._restart_timer: asyncio.TimerHandle | None = None
        self._dispatch_scheduled = False
        # Answers taken in by _catch_up: their futures and results, settled by _settle.
        self._catching_up = False
        self._unsettled: deque[asyncio.Future[Any]] = deque()
        self._unsettled_values: deque[Any] = deque()
        self._queued_since_dispatch = 0  # tasks queued by submit since dispatch last ran
        self._idle_timer: asyncio.TimerHandle | None = None
        self._space_waiters: deque[asyncio.Future[None]] = deque()
        # What watched tasks' done callbacks run in: they read no context variable, and
        # one context for all of them (not a copy per task) keeps a queued task small.
        # One per scheduler, not per process: a context is entered by one thread at once.
        self._callback_context = contextvars.Context()
        self._drained: asyncio.Future[None] | None = None
        self.outstanding = 0  # queued + sent, not yet released
        self.short_tasks = False  # EWMA of run time below _PIPELINE_BELOW
        self._run_ewma = 0.01  # assume tasks are long until measured
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

    # -- lifecycle -------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self.backend is not None

    def start(self) -> None:
        """Start in the running loop (and ``min_workers`` workers); the scheduler then
        belongs to that loop."""
        if self.closing:
            raise ClosedError(f"{self.name} is closed; create a new Pool")
        if self.backend is not None:
            self.check_loop()
            return
        loop = asyncio.get_running_loop()
        self.loop = loop
        self._started_at = time.monotonic()
        if self._create is not None:
            self.backend = self._create(self, loop)
        else:
            config = self.config
            self.backend = create_backend(config.kind, self, loop, config.backend_options())
        release = self.backend.leftovers()
        if release is not None:  # a pool dropped without close(), or alive at exit
            self._finalizer = weakref.finalize(self, release)
            self._finalizer.atexit = self._release_at_exit
        for _ in range(self.config.min_workers):
            if not self._spawn():
                break

    def check_loop(self) -> None:
        """Refuse use from an event loop other than the one that started the pool."""
        loop = self.loop
        if loop is None:
            return
        running = _get_running_loop()
        if running is loop or (running is None and not loop.is_closed()):
            return
        state = "is closed" if loop.is_closed() else "is another one"
        raise WrongLoopError(
            f"{self.name} belongs to the event loop that started it, and that loop {state}; "
            "a pool serves one loop: create it inside the loop that uses it (for example in "
            "the coroutine passed to asyncio.run), and close it there. `await "
            "pool.close()` from any loop still releases its workers."
        )

    async def close(self, force: bool = False) -> None:
        """Finish (or, with ``force``, fail) the work, then stop every worker; from
        another loop, close in the pool's own loop or release everything at once."""
        owner = self.loop
        if owner is not None and not running_in(owner):
            if owner.is_running() and not owner.is_closed():
                done = asyncio.run_coroutine_threadsafe(self.close(force), owner)
                await asyncio.wrap_future(done)
            else:
                self._close_now()
            return
        self.closing = True
        if force:
            self._fail_all(ClosedError(f"{self.name} was closed with force=True"))
            for slot in list(self.workers.values()):
                slot.kill()  # their exits release what they held
        for waiter in self._space_waiters:
            if not waiter.done():
                waiter.set_exception(ClosedError(f"{self.name} was closed"))
        if self.outstanding and self.loop is not None:
            if self._drained is None or self._drained.done():
                self._drained = self.loop.create_future()
            await asyncio.shield(self._drained)
        self._settle(None)
        if self.closed:
            return
        self.closed = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._restart_timer is not None:
            self._restart_timer.cancel()
            self._restart_timer = None
        backend = self.backend
        if backend is not None:
            for slot in list(self.workers.values()):
                if force:
                    slot.kill()
                else:
                    slot.retire()
            await backend.aclose()
        self.workers.clear()
        if self._finalizer is not None:
            self._finalizer.detach()

    def _close_now(self) -> None:
        """Release everything without the pool's event loop (closed, or not running)."""
        self.closing = True
        if self.closed and not self.workers:
            return
        self.closed = True
        for timer in (self._idle_timer, self._restart_timer):
            if timer is not None:
                timer.cancel()
        self._idle_timer = self._restart_timer = None
        error = ClosedError(f"{self.name} was closed from outside its event loop")
        tasks = list(self.queue)
        self.queue.clear()
        self._dropped = 0
        slots = list(self.workers.values())
        self.workers.clear()
        for slot in slots:
            slot.retiring = True
            tasks.extend(slot.inflight)
            slot.inflight.clear()
        for task in tasks:
            with contextlib.suppress(RuntimeError):  # the loop is closed: no callbacks
                _resolve_error(task, error)
            self._release(task)
        while self._unsettled:  # answered: their results, not the error
            future, value = self._unsettled.popleft(), self._unsettled_values.popleft()
            with contextlib.suppress(RuntimeError):
                if not future.done():
                    future.set_result(value)
        for waiter in self._space_waiters:
            with contextlib.suppress(RuntimeError):
                if not waiter.done():
                    waiter.set_exception(error)
        if self.backend is not None:
            self.backend.release_now()

    def _fail_all(self, error: BaseException) -> None:
        self._fail_queue(error)
        for slot in list(self.workers.values()):
            for task in list(slot.inflight):
                _resolve_error(task, error)
                slot.worker.request_cancel(task)  # thread tasks see their token cancelled

    # -- submitting ------------------------------------------------------------------

    @property
    def queued(self) -> int:
        """How many tasks wait for a worker."""
        return len(self.queue) - self._dropped

    @property
    def queue_full(self) -> bool:
        """True when ``max_queue`` tasks wait: submit after :meth:`wait_for_space`."""
        limit = self.config.max_queue
        return limit is not None and self.queued >= limit

    async def wait_for_space(self) -> None:
        """Return when the queue has room for one more task (or raise ClosedError)."""
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

    def submit(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        *,
        timeout: float | None = None,
        token: CancelToken | None = None,
        progress: bool = False,
        watch: bool = True,
        on_start: Callable[[Task], bool] | None = None,
    ) -> Task:
        """Queue ``fn(*args)`` and return its task (its ``future`` has the outcome).

        ``progress``: keep what the task reports; ``watch``: cancelling the future stops
        the task (else the caller does it with :meth:`caller_cancelled`); ``on_start``:
        asked when a worker takes the task, False drops it. Raises WrongLoopError (see
        :meth:`check_loop`, checked first), ClosedError, TypeError (not a sync
        callable), ValueError (timeout), SerializationError.
        """
        self.check_loop()
        if self.closing:
            raise ClosedError(f"{self.name} is closed; create a new Pool to run more work")
        if not callable(fn):
            raise TypeError(f"Pool.run() needs a callable, got {type(fn).__qualname__}")
        check_sync(fn)  # an async function is refused before anything runs
        if timeout is None:
            timeout = self.config.task_timeout
        elif not timeout >= 0:
            raise ValueError(f"timeout must be >= 0 seconds, got {timeout!r}")
        if self.backend is None:
            self.start()
        if self._start_failures >= _MAX_START_FAILURES:
            self._start_failures = 0  # new work: try starting workers again
        backend = self.backend
        loop = self.loop
        assert backend is not None
        assert loop is not None
        task = Task(self._next_task, fn, args, loop.create_future(), timeout, time.monotonic())
        self._next_task += 1
        task.on_start = on_start
        backend.prepare(task)  # may raise SerializationError: nothing is queued then
        if progress:
            task.progress = NO_PROGRESS_YET
        if token is not None and token.cancelled:
            task.future.set_exception(Cancelled(token.reason))
            task.state = DONE
            return task
        if watch:  # whoever holds the future may cancel it: react to that
            # The task is the callback, run in the scheduler's one context: no object
            # per task (every full garbage collection traverses a deep queue).
            task.watcher = self
            task.future.add_done_callback(task, context=self._callback_context)
        self.outstanding += 1
        self.queue.append(task)
        if token is not None:
            # Registered once queued: a cancel racing in from another thread finds the
            # task where _abandon looks for it.
            task.unlink = token.on_cancel(
                lambda t: call_in_loop(loop, self._on_token, task, t.reason)
            )
        backend.preload(task)
        if not self._dispatch_scheduled and self.queued == 1:
            # An idle worker takes it now: one loop turn less on every round trip.
            for slot in self.workers.values():
                if slot.state == READY and not slot.inflight:
                    self.queue.pop()
                    self._send(slot, [task], time.monotonic())
                    return task
        if not self._dispatch_scheduled:  # (usually it is: no call)
            self._schedule_dispatch()
        self._queued_since_dispatch = queued = self._queued_since_dispatch + 1
        if queued >= _CATCH_UP_AFTER and not queued % _CATCH_UP_EVERY:
            self._catch_up()
        return task

    def _catch_up(self) -> None:
        """Submits are running with no loop turn between them: take in what the workers
        answered meanwhile and hand them queued tasks now, instead of leaving them idle
        until the loop runs the dispatch (and reads their answers) after the last
        submit. Called with the scheduler consistent, between two submits, as a loop
        callback would be; an error in it is the loop's to report, not the submit's.
        The results it takes in reach their futures from the loop (see _settle)."""
        backend = self.backend
        if backend is None or self.closed or self.loop is None:
            return
        try:
            self._catching_up = True
            try:
                backend.poll()
            finally:
                self._catching_up = False
            self._hand_out()
        except Exception as exc:
            self.loop.call_exception_handler(
                {
                    "message": f"{self.name}: taking in answers between submits failed",
                    "exception": exc,
                }
            )

    def _settle(self, most: int | None = _SETTLE_PER_TURN) -> None:
        """Give the results of ``run()`` callers that _catch_up took in to their
        futures, oldest first, at most ``most`` per loop callback (None: all, now).

        Settling a future that a caller awaits schedules that caller: done during the
        run of submits, or all at once after it, each would make objects (a handle, its
        arguments) while every task of the run is still alive, and each full garbage
        collection walks them all. A few per loop turn lets the callers finish (and
        free their tasks) as the answers are given out, as when the loop reads them.
        (Handles from ``submit`` are settled at once: usually nobody awaits them yet,
        and then settling makes nothing.)
        """
        futures, values = self._unsettled, self._unsettled_values
        count = len(futures) if most is None else min(len(futures), most)
        for _ in range(count):
            future = futures.popleft()
            value = values.popleft()
            if not future.done():  # the caller may have given up meanwhile
                future.set_result(value)
        if futures and self.loop is not None:
            self.loop.call_soon(self._settle)

    def caller_cancelled(self, task: Task) -> None:
        """The caller of an unwatched task was cancelled: stop the task."""
        if task.future.cancelled() and task.state != DONE:
            self._abandon(task, grace=0.0, count=True)

    # -- scheduling ------------------------------------------------------------------

    def _schedule_dispatch(self) -> None:
        if not self._dispatch_scheduled and self.loop is not None and not self.closed:
            self._dispatch_scheduled = True
            self.loop.call_soon(self.dispatch)

    def dispatch(self) -> None:
        """Hand queued tasks to ready workers, and start workers for what is left."""
        self._dispatch_scheduled = False
        self._queued_since_dispatch = 0
        self._hand_out()

    def _hand_out(self) -> None:
        backend = self.backend
        if backend is None or self.closed:
            return
        config = self.config
        queue = self.queue
        if len(queue) > self._dropped:
            ready = [s for s in self.workers.values() if s.state == READY]
            # idle workers first, so short queues spread out instead of piling up
            ready.sort(key=lambda s: len(s.inflight))
            # Pipelining hides round trips for tiny tasks, but only once no more workers
            # can be started: an idle or new worker beats a queue behind a busy one.
            live = sum(1 for s in self.workers.values() if s.state != GONE)
            can_grow = live < self.max_workers and self._start_failures < _MAX_START_FAILURES
            depth = backend.max_depth if self.short_tasks and not can_grow else 1
            share = max(1, math.ceil(self.queued / max(1, len(ready))))
            now = time.monotonic()
            per_worker = config.max_tasks_per_worker
            for slot in ready:
                if not queue:
                    break
                limit = min(depth, len(slot.inflight) + share)
                if per_worker is not None:
                    limit = min(limit, len(slot.inflight) + per_worker - slot.sent)
                batch: list[Task] = []
                while queue and len(slot.inflight) + len(batch) < limit:
                    task = queue.popleft()
                    if task.state == DONE:  # released while queued: skipped now
                        self._dropped -= 1
                        continue
                    batch.append(task)
                if batch:
                    self._send(slot, batch, now)
            if config.max_queue is not None:
                for _ in range(config.max_queue - self.queued):
                    if not self._space_waiters:
                        break
                    self._wake_space_waiter()
        # grow: one starting worker per queued task, within max_workers; stop trying
        # after repeated start-up failures until new work is submitted
        queued = self.queued
        if self._start_failures >= _MAX_START_FAILURES or (self.closing and not queued):
            return
        starting = sum(1 for s in self.workers.values() if s.state == STARTING)
        live = sum(1 for s in self.workers.values() if s.state != GONE)
        wanted = max(queued - starting, config.min_workers - live)
        count = min(wanted, self.max_workers - live)
        if count <= 0:
            return
        delay = self._spawn_after - time.monotonic()
        if delay > 0:  # workers were killed while starting: wait out the back-off
            if self._restart_timer is None and self.loop is not None:
                self._restart_timer = self.loop.call_later(delay, self._restart_due)
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

    def _send(self, slot: WorkerSlot, batch: list[Task], now: float) -> None:
        inflight = slot.inflight
        for task in batch:
            task.state = SENT
            task.slot = slot
            task.seq = slot.next_seq
            slot.next_seq += 1
            if not inflight:
                self._mark_running(task, now)
            inflight.append(task)
        slot.sent += len(batch)
        slot.worker.send(batch)
        per_worker = self.config.max_tasks_per_worker
        if per_worker is not None and slot.sent >= per_worker:
            slot.state = DRAINING

    def _spawn(self) -> bool:
        """Start one worker; False if none could be started now."""
        assert self.backend is not None
        worker_id = self._next_worker
        self._next_worker += 1
        try:
            worker = self.backend.new_worker(worker_id)
        except ConnectionError:  # a helper was killed while asked: a new one, later
            self._killed_while_starting()
            self._schedule_dispatch()
            return False
        except (OSError, RuntimeError) as exc:
            # OSError: out of processes, memory, descriptors. RuntimeError: no new thread
            # can start (CPython 3.12.0-3.12.1 refuse threads once the interpreter is
            # shutting down). Queued work fails with the reason instead of waiting forever.
            self._start_failures = _MAX_START_FAILURES
            self._fail_queue(WorkerStartFailed(f"could not start a worker: {exc}"))
            return False
        self.workers[worker_id] = WorkerSlot(worker)
        return True

    def _mark_running(self, task: Task, now: float) -> None:
        task.started = now
        if task.on_start is not None and not task.on_start(task):
            task.future.cancel()  # its caller gave up just before (counted when that lands)
            self._abandon(task, grace=0.0, count=False)  # now: before the worker sees it
        if task.cancel_deadline is not None:
            self._kill_later(task)
        elif task.timeout is not None and self.loop is not None:
            task.timer = self.loop.call_later(task.timeout, self._on_timeout, task)

    # -- cancellation ----------------------------------------------------------------

    def on_future_done(self, task: Task, future: asyncio.Future[Any]) -> None:
        """A watched task's future is done (called by the task, its done callback)."""
        task.wake()
        if task.state == DONE:
            return
        if future.cancelled():
            self._abandon(task, grace=0.0, count=True)

    def _on_token(self, task: Task, reason: object) -> None:
        if task.state == DONE or task.future.done():
            return
        _resolve_error(task, Cancelled(reason))
        self._abandon(task, grace=self.config.cancel_grace, count=True)

    def _on_timeout(self, task: Task) -> None:
        task.timer = None
        if task.state == DONE or task.future.done():
            return
        self._failed += 1
        _resolve_error(
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
            self._unqueue(task)
            self._release(task)
            self._wake_space_waiter()
            return
        slot = task.slot
        if slot is None or task.state != SENT:
            return
        slot.worker.request_cancel(task)
        if not self.backend or not self.backend.can_kill:
            return
        task.cancel_deadline = time.monotonic() + grace
        if slot.inflight and slot.inflight[0] is task:
            self._kill_later(task)

    def _unqueue(self, task: Task) -> None:
        """Take queued ``task`` out of the queue: at once at either end, else later (it
        is released, and skipped or compacted away; see ``self.queue``)."""
        queue = self.queue
        if queue and queue[-1] is task:
            queue.pop()
            while queue and queue[-1].state == DONE:  # released ones it hid
                queue.pop()
                self._dropped -= 1
        elif queue and queue[0] is task:
            queue.popleft()
        else:
            self._dropped += 1
        if self._dropped > _COMPACT_ABOVE and 2 * self._dropped > len(queue):
            live = [t for t in queue if t.state != DONE and t is not task]
            queue.clear()
            queue.extend(live)
            self._dropped = 0

    def _kill_later(self, task: Task) -> None:
        assert task.cancel_deadline is not None
        assert self.loop is not None
        if task.timer is not None:
            task.timer.cancel()
        delay = task.cancel_deadline - time.monotonic()
        if delay <= 0:
            self._kill_task(task)
        else:
            task.timer = self.loop.call_later(delay, self._kill_task, task)

    def _kill_task(self, task: Task) -> None:
        task.timer = None
        slot = task.slot
        if task.state != SENT or slot is None:
            return
        if slot.inflight and slot.inflight[0] is task and slot.worker.kill_if_running(task):
            slot.retiring = True

    # -- events from workers (WorkerEvents) ----------------------------------------------

    def on_ready(self, worker: Worker) -> None:
        slot = self.workers.get(worker.id)
        if slot is not None and slot.state == STARTING:
            slot.state = READY
            slot.idle_since = time.monotonic()
            self._start_failures = 0
            self._killed_starts = 0
            self._spawn_after = 0.0
            if self.closed:
                slot.retire()
            self._schedule_dispatch()
            self._arm_idle_timer()

    def on_retire(self, worker: Worker) -> None:
        slot = self.workers.get(worker.id)
        if slot is None:
            return
        if slot.state in (READY, STARTING):
            slot.state = DRAINING
        if not slot.inflight:
            slot.retire()
        self._schedule_dispatch()

    def on_done(self, worker: Worker, seq: int, ok: bool, value: Any, run_time: float) -> None:
        slot = self.workers.get(worker.id)
        if slot is None:
            return
        inflight = slot.inflight
        if not inflight or inflight[0].seq != seq:
            return  # not ours (a task released by a force close)
        task = inflight.popleft()
        now = time.monotonic()
        if inflight:
            self._mark_running(inflight[0], now)
        else:
            slot.idle_since = now
        self._busy_time += run_time
        self._run_ewma = 0.8 * self._run_ewma + 0.2 * run_time
        self.short_tasks = self._run_ewma < _PIPELINE_BELOW
        future = task.future
        if not future.done():
            awaited = task.watcher is None  # a caller of run() awaits it (see _settle)
            if not awaited:
                # The pool settles the future itself: nothing for its done callback to
                # react to, so none is scheduled (no handle per task on the loop, which
                # a long run of submits would keep alive until it ends).
                task.watcher = None
                future.remove_done_callback(task)
            if ok:
                self._completed += 1
                if awaited and (self._catching_up or self._unsettled):
                    if not self._unsettled and self.loop is not None:
                        self.loop.call_soon(self._settle)
                    self._unsettled.append(future)
                    self._unsettled_values.append(value)
                else:
                    future.set_result(value)
            elif value is None:  # skipped: cancelled before it started
                future.cancel()
            else:
                self._failed += 1
                future.set_exception(value)
            self._wait.add(max(0.0, now - task.submitted - run_time))
            self._run.add(run_time)
        self._release(task)
        if slot.state == DRAINING and not inflight:
            slot.retire()
        elif not inflight:
            self._arm_idle_timer()
        if self.queue and not self._dispatch_scheduled:
            self._schedule_dispatch()

    def on_report(self, worker: Worker, seq: int, value: object) -> None:
        slot = self.workers.get(worker.id)
        for task in slot.inflight if slot is not None else ():
            if task.seq == seq:
                task.push_progress(value)
                return

    def on_log(self, worker: Worker, seq: int, record: dict[str, Any]) -> None:
        slot = self.workers.get(worker.id)
        inflight = slot.inflight if slot is not None else ()
        task_id = next((t.id for t in inflight if t.seq == seq), None)
        prefix = f"[worker {worker.pid or worker.id}" + (
            f" task {task_id}] " if task_id is not None else "] "
        )
        record["msg"] = prefix + str(record.get("msg", ""))
        record["args"] = None
        made = logging.makeLogRecord(record)
        made.worker = worker.pid or worker.id
        made.task = task_id
        logger = logging.getLogger(made.name)
        if logger.isEnabledFor(made.levelno):
            logger.handle(made)

    def on_resize(self, max_workers: int) -> None:
        if self.config.size_from_backend and max_workers >= 1:
            self.max_workers = max(max_workers, self.config.min_workers)
            self._schedule_dispatch()

    def on_exited(self, worker: Worker, end: WorkerEnd) -> None:
        slot = self.workers.pop(worker.id, None)
        if slot is None:  # already counted, or released by a close from outside
            return
        was = slot.state
        slot.state = GONE
        inflight = list(slot.inflight)
        slot.inflight.clear()
        if was == STARTING and not slot.retiring:
            self._requeue(inflight)
            self._start_ended(end)
        elif inflight:
            self._requeue(self._fail_running(worker, inflight, end))
        self._schedule_dispatch()
        self._check_drained()

    def _fail_running(self, worker: Worker, inflight: list[Task], end: WorkerEnd) -> list[Task]:
        """A worker holding ``inflight`` ended: fail what it ran; return what goes back
        to the queue."""
        head, rest = inflight[0], inflight[1:]
        how = end.how()

        def crashed(what: str) -> list[Task]:
            if not head.future.done():
                self._crashed += 1
                _resolve_error(
                    head,
                    WorkerCrashed(
                        f"worker {worker.pid} {how} {what}",
                        pid=worker.pid,
                        exitcode=end.exitcode,
                        signal=end.signal,
                        function=head.fn_name,
                    ),
                )
            self._release(head)
            return rest

        if worker.has_started(head):
            return crashed(f"while running {head.fn_name}(); it was replaced and other tasks go on")
        # The worker died between tasks: none of those it held had started, so they run
        # elsewhere. A worker that ended on its own, twice, before the same task started
        # is stopped by that task (loading it kills the worker).
        if end.exitcode is not None or end.signal in _FAULT_SIGNALS:
            head.deaths += 1
        if head.deaths < _MAX_DEATHS_BEFORE_START or head.future.done():
            return inflight
        return crashed(
            f"before {head.fn_name}() started, for the {head.deaths}th time with this task: "
            "loading its function or arguments kills the worker"
        )

    def _start_ended(self, end: WorkerEnd) -> None:
        """A worker ended before it was ready. Only failures of the user's code (the
        initializer raised, an import failed, the worker exited on its own or crashed)
        count toward failing queued work; a worker killed from outside, or with its
        template, is started again after a pause."""
        error = end.start_error
        if error is None and end.exitcode is None and end.signal not in _FAULT_SIGNALS:
            self._killed_while_starting()
            return
        self._start_failures += 1
        if self._start_failures < _MAX_START_FAILURES:
            return
        if isinstance(error, NoWorkerProcess):
            detail = str(error)
        elif isinstance(error, ImportError):
            detail = f"an import failed: {type(error).__name__}: {error}"
        elif error is not None:
            detail = f"the initializer raised {type(error).__name__}: {error}"
        else:
            detail = f"the worker {end.how()} while starting"
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
            task.slot = None
            if task.timer is not None:
                task.timer.cancel()
                task.timer = None
            self.queue.appendleft(task)

    def _fail_queue(self, error: BaseException) -> None:
        queued, self.queue = list(self.queue), deque()
        self._dropped = 0
        for task in queued:
            _resolve_error(task, error)
            self._release(task)

    # -- bookkeeping -----------------------------------------------------------------

    def _release(self, task: Task) -> None:
        if task.state == DONE:
            return
        task.release()
        self.outstanding -= 1
        if self.outstanding <= 0:
            self._check_drained()

    def _check_drained(self) -> None:
        if self.outstanding <= 0 and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _arm_idle_timer(self) -> None:
        idle_timeout = self.config.idle_timeout
        if idle_timeout is None or self._idle_timer is not None or self.loop is None:
            return
        if len(self.workers) <= self.config.min_workers:
            return
        idle = [s.idle_since for s in self.workers.values() if s.state == READY and not s.inflight]
        if idle:
            when = min(idle) + idle_timeout - time.monotonic()
            self._idle_timer = self.loop.call_later(max(0.0, when), self._reap_idle)

    def _reap_idle(self) -> None:
        self._idle_timer = None
        idle_timeout = self.config.idle_timeout
        if self.closed or idle_timeout is None:
            return
        now = time.monotonic()
        idle = sorted(
            (s for s in self.workers.values() if s.state == READY and not s.inflight),
            key=lambda s: s.idle_since,
        )
        live = sum(1 for s in self.workers.values() if s.state != GONE)
        for slot in idle:
            if live <= self.config.min_workers:
                break
            if now - slot.idle_since >= idle_timeout:
                slot.state = DRAINING
                slot.retire()
                live -= 1
        self._arm_idle_timer()

    def stats(self) -> PoolStats:
        """A snapshot of workers, queue, outcomes and wait/run percentiles (seconds)."""
        slots = [s for s in self.workers.values() if s.state != GONE]
        elapsed = max(1e-9, time.monotonic() - self._started_at)
        return PoolStats(
            workers=len(slots),
            busy=sum(1 for s in slots if s.inflight),
            queued=self.queued,
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


def _resolve_error(task: Task, error: BaseException) -> None:
    if not task.future.done():
        task.future.set_exception(error)
        # The caller may have left already; do not warn about unretrieved errors.
        task.future.exception()
