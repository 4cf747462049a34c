"""A task inside the pool, and the handle ``Pool.submit`` returns for it."""

from __future__ import annotations

import asyncio
import contextvars
import enum
from collections.abc import AsyncIterator, Callable, Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from offload._cancel import CancelToken

if TYPE_CHECKING:
    from ._scheduler import Scheduler, WorkerSlot

__all__ = ["NO_PROGRESS_YET", "Task", "TaskHandle", "TaskState"]

T = TypeVar("T")


class TaskState(enum.IntEnum):
    """Where a task is: in the queue, with a worker, or released (whatever its outcome)."""

    QUEUED = 0
    SENT = 1
    DONE = 2


QUEUED, SENT, DONE = TaskState

NO_PROGRESS_YET: tuple[()] = ()
"""``Task.progress`` of a task whose reports are kept, before the first one came."""


class Task:
    """Everything the pool knows about one call; released exactly once when it ends."""

    __slots__ = (
        "_token",
        "args",
        "cancel_deadline",
        "ctx",
        "deaths",
        "fn",
        "fn_name",
        "future",
        "id",
        "on_start",
        "oob",
        "payload",
        "progress",
        "progress_waiters",
        "release_oob",
        "seq",
        "slot",
        "started",
        "state",
        "submitted",
        "timeout",
        "timer",
        "unlink",
        "watcher",
    )

    def __init__(
        self,
        task_id: int,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        future: asyncio.Future[Any],
        timeout: float | None,
        submitted: float,
    ) -> None:
        self.id = task_id
        self.fn = fn
        self.fn_name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
        self.args = args
        self.future = future
        self.timeout = timeout
        self.submitted = submitted
        self.started = 0.0
        self.state = QUEUED
        self._token: CancelToken | None = None
        self.unlink: Callable[[], None] | None = None
        self.slot: WorkerSlot | None = None  # the worker holding it (set by the scheduler)
        self.seq = 0
        self.timer: asyncio.TimerHandle | None = None
        self.payload: bytes = b""
        # Shared-memory descriptors of the payload, and what frees the segment.
        self.oob: bytes = b""
        self.release_oob: Callable[[], None] | None = None
        self.ctx: contextvars.Context | tuple[Any, ...] | None = None
        # A deep queue holds tens of thousands of tasks, and every full garbage collection
        # traverses each object they hold: a queued task holds no object it does not need
        # yet. progress: None when reports are not kept, NO_PROGRESS_YET until the first
        # one (the list is made then); progress_waiters: made by the first reader to wait.
        self.progress: list[object] | tuple[()] | None = None
        self.progress_waiters: list[asyncio.Future[None]] | None = None
        # The scheduler told when the future is done, if it watches it (see __call__).
        self.watcher: Scheduler | None = None
        # Set when the caller gave up on a task that a worker may be running: the worker
        # is killed if the task is still running at this (monotonic) time.
        self.cancel_deadline: float | None = None
        # Workers that died on their own (not killed) before this task started on them.
        self.deaths = 0
        # Told when a worker takes the task (maybe from the worker's thread); False means
        # "do not run it" (the caller gave up on it just before).
        self.on_start: Callable[[Task], bool] | None = None

    @property
    def token(self) -> CancelToken:
        """The task's own token (made on first use: process tasks rarely need it)."""
        if self._token is None:
            self._token = CancelToken()
        return self._token

    def push_progress(self, value: object) -> None:
        progress = self.progress
        if progress is None:
            return
        if not isinstance(progress, list):  # NO_PROGRESS_YET: the first report
            progress = self.progress = []
        progress.append(value)
        self.wake()

    def __call__(self, future: asyncio.Future[Any]) -> None:
        """The future's done callback: the task itself, so that watching the future
        makes no callback object per task."""
        watcher = self.watcher
        if watcher is not None:
            watcher.on_future_done(self, future)

    def wake(self) -> None:
        waiters, self.progress_waiters = self.progress_waiters, None
        if waiters is None:
            return
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def release(self) -> None:
        """Free what the task holds; called once on every outcome (the resource seam)."""
        if self.state == DONE:
            return
        self.state = DONE
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.unlink is not None:
            self.unlink()
            self.unlink = None
        self.args = ()
        self.payload = b""
        if self.release_oob is not None:
            self.release_oob()
            self.release_oob = None
        self.ctx = None
        # A handle kept after the end does not keep the pool alive.
        self.watcher = None
        self.slot = None
        if self.progress_waiters is not None:
            self.wake()


class TaskHandle(Generic[T]):
    """A submitted task: await it for the result, cancel it, read its progress.

    Returned by :meth:`offload.Pool.submit`. Awaiting gives the function's result or
    raises its exception (:class:`offload.WorkerCrashed`, :class:`offload.TaskTimeout`,
    ``asyncio.CancelledError`` after :meth:`cancel`, ...).

    Example::

        handle = pool.submit(search, numbers, target)
        async for match in handle.progress():
            print(match)
        total = await handle
    """

    __slots__ = ("_task",)

    def __init__(self, task: Task) -> None:
        self._task = task

    def __repr__(self) -> str:
        state = "done" if self.done() else "pending"
        return f"<TaskHandle {self._task.id} {self._task.fn_name} {state}>"

    @property
    def id(self) -> int:
        """The task id (also shown in forwarded log records)."""
        return self._task.id

    def __await__(self) -> Generator[Any, None, T]:
        return self._task.future.__await__()

    def done(self) -> bool:
        """True once the task has a result, an error, or was cancelled."""
        return self._task.future.done()

    def cancel(self) -> bool:
        """Cancel the task; awaiting the handle then raises ``asyncio.CancelledError``.

        A queued task is dropped; a running process task's worker is stopped and
        replaced; a running thread task sees ``offload.current_token()`` cancelled.
        Returns False if the task had already ended.
        """
        return self._task.future.cancel()

    async def progress(self) -> AsyncIterator[object]:
        """Yield every value the task passes to ``offload.report()``, in order.

        Ends when the task ends (whatever its outcome; await the handle for that).
        """
        task = self._task
        index = 0
        while True:
            values = task.progress or NO_PROGRESS_YET  # a list once the first report came
            while index < len(values):
                yield values[index]
                index += 1
            if task.state == DONE or task.future.done():
                if index >= len(values):
                    return
                continue
            waiter: asyncio.Future[None] = task.future.get_loop().create_future()
            if task.progress_waiters is None:
                task.progress_waiters = []
            task.progress_waiters.append(waiter)
            await waiter
