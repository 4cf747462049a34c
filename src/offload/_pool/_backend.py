"""The small interface between the pool front (scheduling) and a kind of worker.

A backend creates workers; a worker takes tasks in order, answers them in order through
the pool's callbacks, and can be told to stop one task, to retire or to die. The front
never knows whether a worker is a process, a thread, or (later) a sub-interpreter or a
remote engine.

Callbacks a worker makes into the pool (all on the event loop thread):
``_worker_ready(worker)``, ``_task_done(worker, seq, ok, value, run_time)``,
``_task_report(worker, seq, value)``, ``_worker_log(worker, seq, record)``,
``_worker_retire(worker)``, ``_worker_start_error(worker, exc)``,
``_worker_exited(worker, exitcode, signal)``.
"""

from __future__ import annotations

import abc
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._task import Task

if TYPE_CHECKING:
    from ._pool import Pool

__all__ = ["Backend", "Worker"]

STARTING = 0
READY = 1
DRAINING = 2  # takes no new tasks; retires when its in-flight tasks are done
GONE = 3


class Worker(abc.ABC):
    """One worker, as the pool front sees it."""

    def __init__(self, pool: Pool, worker_id: int) -> None:
        self.pool = pool
        self.id = worker_id
        self.pid: int | None = None
        self.state = STARTING
        self.inflight: deque[Task] = deque()  # sent, in order; the head is running
        self.next_seq = 1
        self.sent = 0
        self.idle_since = 0.0
        self.busy_time = 0.0
        self.start_error: BaseException | None = None
        self.retiring = False  # an exit now is expected, not a crash

    @abc.abstractmethod
    def send(self, tasks: list[Task]) -> None:
        """Queue ``tasks`` (seq already set) on this worker, in order."""

    @abc.abstractmethod
    def request_cancel(self, task: Task) -> None:
        """Let ``task`` see its token cancelled (and skip it if it has not started)."""

    @abc.abstractmethod
    def kill_if_running(self, task: Task) -> bool:
        """Stop the worker if, and only if, it is running ``task`` now; True if it did."""

    @abc.abstractmethod
    def retire(self) -> None:
        """Exit once idle (the pool calls this when ``inflight`` is empty)."""

    @abc.abstractmethod
    def kill(self) -> None:
        """Stop at once, whatever runs."""

    def has_started(self, task: Task) -> bool:
        """Whether ``task`` (the head of ``inflight``) had started when the worker ended.

        A worker that cannot tell says True: its task is then reported as crashed.
        """
        return True


class Backend(abc.ABC):
    """Creates workers of one kind and owns what they share (a template process)."""

    #: how many tasks a worker may hold at once (more hides round trips)
    max_depth = 1
    #: whether a running task can be stopped by stopping its worker
    can_kill = False

    @abc.abstractmethod
    def new_worker(self, worker_id: int) -> Worker:
        """Start a worker; it calls ``pool._worker_ready`` when it can take tasks."""

    def prepare(self, task: Task) -> None:  # noqa: B027 - optional hook
        """Do per-task work in the caller before queueing (serialize, copy context)."""

    def preload(self, task: Task) -> None:  # noqa: B027 - optional hook
        """Hint that ``task``'s function will be used (pre-import it for future workers)."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release everything; workers are already told to exit or killed."""

    def release_now(self) -> None:  # noqa: B027 - optional hook
        """Release everything at once, without the event loop (it may be closed or busy
        in another thread): kill workers, close descriptors."""

    def leftovers(self) -> Callable[[], None] | None:
        """A callable that releases what the backend holds outside Python objects, and
        holds no reference to the pool (run when the pool is garbage or at exit)."""
        return None
