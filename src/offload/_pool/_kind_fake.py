"""An in-memory worker kind for scheduler tests: nothing runs until the test says so.

Not listed in ``_kinds``: a test makes it through ``Pool._create_backend``.

Each fake worker records the tasks it was sent; the test completes, fails, crashes or
starts them explicitly, so scheduling, cancellation and recycling can be checked
deterministically and in microseconds.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

from ._backend import Backend, BackendOptions, Worker
from ._events import WorkerEnd
from ._task import Task

if TYPE_CHECKING:
    from ._scheduler import Scheduler, WorkerState

__all__ = ["FakeBackend", "FakeWorker"]


class FakeWorker(Worker):
    """A worker whose every move is made by the test."""

    def __init__(self, backend: FakeBackend, worker_id: int) -> None:
        super().__init__(worker_id)
        self.backend = backend
        self.events = backend.events
        self.dead = False
        self.pid = 100_000 + worker_id
        self.received: list[Task] = []
        self.cancel_requests: list[int] = []
        self.kills: list[int] = []
        self.retired = False
        self.running_seq = 0  # what a real worker writes to its control page
        # Answers written but not yet read by the pool (see answer()).
        self.unread: list[tuple[int, Any, float]] = []

    # -- what the test sees: the scheduler's record of this worker ------------------

    @property
    def state(self) -> WorkerState:
        from ._scheduler import WorkerState

        slot = self.backend.scheduler.workers.get(self.id)
        return WorkerState.GONE if slot is None else slot.state

    @property
    def inflight(self) -> deque[Task]:
        """The tasks it holds, in order (the head is the one it runs)."""
        slot = self.backend.scheduler.workers.get(self.id)
        return deque() if slot is None else slot.inflight

    # -- what the test does --------------------------------------------------------

    def start(self) -> None:
        """The worker finished starting (its initializer ran)."""
        self.events.on_ready(self)

    def begin(self) -> Task:
        """The worker starts its next task."""
        task = self.inflight[0]
        self.running_seq = task.seq
        return task

    def finish(self, value: Any = None, *, ok: bool = True, run_time: float = 0.001) -> None:
        """The running (head) task ends with ``value`` (an exception if ``ok`` is False)."""
        task = self.inflight[0]
        self.running_seq = 0
        self.events.on_done(self, task.seq, ok, value, run_time)

    def answer(self, value: Any = None, *, run_time: float = 0.001) -> None:
        """The worker ends its next unanswered task with ``value`` and writes the answer
        to its socket: the pool reads it on its next loop turn, or when it polls."""
        task = self.inflight[len(self.unread)]
        self.unread.append((task.seq, value, run_time))
        self.backend.loop.call_soon(self.deliver)

    def deliver(self) -> None:
        """The pool reads the answers written so far (see answer())."""
        unread, self.unread = self.unread, []
        for seq, value, run_time in unread:
            self.events.on_done(self, seq, True, value, run_time)

    def skip(self) -> None:
        """The head task was cancelled before it started."""
        self.events.on_done(self, self.inflight[0].seq, False, None, 0.0)

    def die(self, exitcode: int | None = None, signal: int | None = None) -> None:
        """The worker process ended."""
        if not self.dead:
            self.dead = True
            self.backend.workers.pop(self.id, None)
            self.events.on_exited(self, WorkerEnd(exitcode, signal))

    # -- what the pool does --------------------------------------------------------

    def send(self, tasks: list[Task]) -> None:
        self.received.extend(tasks)

    def request_cancel(self, task: Task) -> None:
        self.cancel_requests.append(task.seq)

    def has_started(self, task: Task) -> bool:
        return self.running_seq == task.seq

    def kill_if_running(self, task: Task) -> bool:
        if self.running_seq != task.seq:
            return False
        self.kills.append(task.seq)
        self.backend.loop.call_soon(self.die, None, 9)
        return True

    def retire(self) -> None:
        self.retired = True
        self.backend.loop.call_soon(self.die, 0, None)

    def kill(self) -> None:
        self.backend.loop.call_soon(self.die, None, 9)


class FakeBackend(Backend):
    """Creates :class:`FakeWorker` objects; ``auto_start`` makes them ready at once."""

    can_kill = True
    max_depth = 8

    def __init__(
        self, events: Scheduler, loop: asyncio.AbstractEventLoop, *, auto_start: bool
    ) -> None:
        super().__init__(events, loop, BackendOptions(name="fake"))
        self.scheduler = events  # what the test inspects: the workers' states
        self.auto_start = auto_start
        self.workers: dict[int, FakeWorker] = {}
        self.created: list[FakeWorker] = []
        self.polls = 0

    def new_worker(self, worker_id: int) -> FakeWorker:
        worker = FakeWorker(self, worker_id)
        self.workers[worker_id] = worker
        self.created.append(worker)
        if self.auto_start:
            self.loop.call_soon(worker.start)
        return worker

    def poll(self) -> None:
        self.polls += 1
        for worker in list(self.workers.values()):
            worker.deliver()

    async def aclose(self) -> None:
        for worker in list(self.workers.values()):
            worker.die(0, None)
