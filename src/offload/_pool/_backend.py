"""The small interface between the scheduler and one kind of worker.

A backend creates workers and owns what they share (a template process, a client); a
worker takes tasks in order and answers them in order through the
:class:`~offload._pool._events.WorkerEvents` it was given, and can be told to stop one
task, to retire or to die. The scheduler never knows whether a worker is a process, a
thread, a sub-interpreter or a remote engine; the worker never sees the scheduler's
bookkeeping (state, tasks in flight, sequence numbers: see ``_scheduler.WorkerSlot``).

Every backend class is built the same way, ``Backend(events, loop, options)``, and
listed once in ``_kinds.py``.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ._events import WorkerEvents
from ._task import Task

__all__ = ["Backend", "BackendOptions", "NoWorkerProcess", "Worker"]


class NoWorkerProcess(OSError):
    """A worker's start error that is no fault of the user's code: the backend could not
    make the process it runs in (out of descriptors, memory or processes, or no
    interpreter). Its message says what could not start and why."""


@dataclass(frozen=True)
class BackendOptions:
    """What a backend needs to know of the pool's options."""

    #: the pool's name (thread names, process titles)
    name: str
    initializer: Callable[..., object] | None = None
    initargs: tuple[Any, ...] = ()
    #: context variables whose values travel with each task
    context: tuple[ContextVar[Any], ...] = ()
    #: bytes of memory after which a worker asks to be replaced (None: no limit)
    max_memory: int | None = None
    #: at most this many workers at once
    max_workers: int = 1
    #: seconds a task told to stop has before its worker is stopped
    cancel_grace: float = 1.0
    #: where the workers are, for kinds that use ones started elsewhere (a Dask scheduler
    #: address or client); None for the others
    address: Any = None
    #: max_workers was not given: the backend may report its own size (``on_resize``)
    size_from_backend: bool = False


class Worker(abc.ABC):
    """One worker, as the scheduler sees it: an id, a pid once known, and five orders."""

    def __init__(self, worker_id: int) -> None:
        self.id = worker_id
        self.pid: int | None = None

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
        """Exit once idle (the scheduler calls this when the worker holds no task)."""

    @abc.abstractmethod
    def kill(self) -> None:
        """Stop at once, whatever runs."""

    def has_started(self, task: Task) -> bool:
        """Whether ``task`` (the oldest the worker held) had started when it ended.

        A worker that cannot tell says True: its task is then reported as crashed.
        """
        return True


class Backend(abc.ABC):
    """Creates workers of one kind and owns what they share."""

    #: how many tasks a worker may hold at once (more hides round trips)
    max_depth = 1
    #: whether a running task can be stopped by stopping its worker
    can_kill = False
    #: whether this kind takes ``address=`` (workers started elsewhere)
    takes_address = False

    @classmethod  # noqa: B027 - optional hook
    def check_options(cls, options: BackendOptions) -> None:
        """Raise ``ValueError`` if this kind cannot serve a pool with ``options`` here
        (called when the pool is made, long before it starts)."""

    @classmethod  # noqa: B027 - optional hook
    def on_pool_made(cls, options: BackendOptions) -> None:
        """Called once the options are checked, in the thread that makes the pool: start
        what may be impossible to start later (a thread, once the interpreter exits)."""

    def __init__(
        self, events: WorkerEvents, loop: asyncio.AbstractEventLoop, options: BackendOptions
    ) -> None:
        self.events = events
        self.loop = loop
        self.options = options

    @abc.abstractmethod
    def new_worker(self, worker_id: int) -> Worker:
        """Start a worker; it reports ``events.on_ready`` when it can take tasks.

        Raises ``ConnectionError`` when a helper it needs was killed meanwhile (the
        scheduler tries again later), ``OSError`` when no worker can be started.
        """

    def prepare(self, task: Task) -> None:  # noqa: B027 - optional hook
        """In the caller, before queueing: give ``task`` what this kind needs to run it
        (the submitter's context, a serialized payload). May raise SerializationError."""

    def poll(self) -> None:  # noqa: B027 - optional hook
        """Without waiting, take in what workers answered and report it now (called
        during a long run of submits that gives the event loop no turn). A worker that
        ended is left for the loop's own callbacks to report."""

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
        holds no reference to the backend or the scheduler (run when the pool is garbage
        or at exit)."""
        return None
