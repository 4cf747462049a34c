"""Thread workers: one OS thread per worker, fed one task at a time.

Cancellation is cooperative: a thread cannot be killed, so a cancelled or timed-out task
only sees ``offload.current_token()`` cancelled; the worker stays busy until the function
returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
import time
from typing import Any

from offload._cancel import reset_current, set_current
from offload._errors import TaskExited
from offload._shm import untransfer

from ._backend import Backend, BackendOptions, Worker
from ._events import WorkerEnd, WorkerEvents
from ._report import set_reporter
from ._task import Task

__all__ = ["ThreadBackend", "ThreadWorker"]

_STOP = None


class ThreadWorker(Worker):
    """A thread that runs tasks from its own queue and posts results to the loop."""

    def __init__(self, backend: ThreadBackend, worker_id: int) -> None:
        super().__init__(worker_id)
        self.backend = backend
        self.events = backend.events
        self.loop = backend.loop
        self.ended = False  # its exit was reported
        self.queue: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self.thread = threading.Thread(
            target=self._main, name=f"{backend.options.name}-{worker_id}", daemon=True
        )
        self.thread.start()

    def _ready(self) -> None:
        if not self.ended:
            self.events.on_ready(self)

    def _main(self) -> None:
        options = self.backend.options
        if options.initializer is not None:
            try:
                options.initializer(*options.initargs)
            except BaseException as exc:
                self.loop.call_soon_threadsafe(self._exit, exc)
                return
        self.loop.call_soon_threadsafe(self._ready)
        while True:
            task = self.queue.get()
            if task is _STOP:
                break
            # Cancelled while it waited here, or its caller's future was: skip it.
            if task.token.cancelled or (task.on_start is not None and not task.on_start(task)):
                self._post(task, False, None, 0.0)
                del task
                continue
            ctx = task.ctx if isinstance(task.ctx, contextvars.Context) else None
            started = time.perf_counter()
            try:
                if ctx is None:
                    ctx = contextvars.copy_context()
                value = ctx.run(self._run, task)
                ok = True
            except Exception as exc:
                value, ok = exc, False
            except BaseException as exc:
                # sys.exit() or KeyboardInterrupt in the task would stop the caller's
                # event loop if it arrived as itself: an ordinary error instead.
                value, ok = TaskExited.from_exception(exc, task.fn_name), False
            if not self._post(task, ok, value, time.perf_counter() - started):
                return
            del task, value  # hold neither the call nor its result while idle
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            self.loop.call_soon_threadsafe(self._exit, None)

    def _post(self, task: Task, ok: bool, value: Any, run_time: float) -> bool:
        try:
            self.loop.call_soon_threadsafe(self.events.on_done, self, task.seq, ok, value, run_time)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            return False
        return True

    def _run(self, task: Task) -> Any:
        reset_token = set_current(task.token)
        # Runs inside this task's own context copy: no need to undo the reporter.
        loop = self.loop

        def sink(value: object) -> None:
            loop.call_soon_threadsafe(task.push_progress, value)

        set_reporter(sink if task.progress is not None else None)
        try:
            # transfer() marks mean nothing between threads: the memory is shared.
            return untransfer(task.fn(*untransfer(task.args)))
        finally:
            reset_current(reset_token)

    def _exit(self, error: BaseException | None) -> None:
        self.thread.join()
        self.ended = True
        self.backend.workers.pop(self.id, None)
        self.events.on_exited(self, WorkerEnd(start_error=error))

    def send(self, tasks: list[Task]) -> None:
        for task in tasks:
            self.queue.put(task)

    def request_cancel(self, task: Task) -> None:
        task.token.cancel("cancelled by the caller")

    def kill_if_running(self, task: Task) -> bool:
        return False

    def retire(self) -> None:
        if not self.ended:
            self.queue.put(_STOP)

    def kill(self) -> None:
        self.retire()


class ThreadBackend(Backend):
    """Threads in this process; tasks run in a copy of the submitter's context."""

    max_depth = 8
    can_kill = False

    def __init__(
        self, events: WorkerEvents, loop: asyncio.AbstractEventLoop, options: BackendOptions
    ) -> None:
        super().__init__(events, loop, options)
        self.workers: dict[int, ThreadWorker] = {}

    def new_worker(self, worker_id: int) -> ThreadWorker:
        worker = ThreadWorker(self, worker_id)
        self.workers[worker_id] = worker
        return worker

    def prepare(self, task: Task) -> None:
        task.ctx = contextvars.copy_context()

    def release_now(self) -> None:
        for worker in list(self.workers.values()):
            worker.retire()
            if worker.thread is not threading.current_thread():
                worker.thread.join(5.0)  # a task still running keeps its thread busy

    async def aclose(self) -> None:
        for worker in list(self.workers.values()):
            worker.retire()
        while self.workers:
            await asyncio.sleep(0.002)
