"""Every exception offload raises, in one place.

The hierarchy::

    OffloadError                      base of everything offload raises itself
    ├── Cancelled                     work was cancelled through a CancelToken / cancelable
    ├── ClosedError                   the pool, channel or process was closed (a RuntimeError)
    ├── QueueFull                     a bounded queue is full and the caller asked not to wait
    ├── SerializationError            an argument or result could not be pickled / unpickled
    ├── WorkerError                   a worker could not do its job
    │   ├── WorkerCrashed             the worker died while running this task
    │   ├── WorkerStartFailed         workers die during start-up (initializer, import)
    │   └── InterpreterIncompatible   (also ImportError) an extension module the task needs
    │                                 cannot load in a sub-interpreter: use kind="process"
    ├── TaskTimeout (also TimeoutError)  a task ran longer than its timeout
    ├── TaskExited                    a task raised SystemExit, KeyboardInterrupt or another
    │                                 BaseException that is not an Exception
    ├── BatchError                    a Batcher's load_many broke its contract
    ├── ProcessError                  an external program could not be run as asked
    │   ├── ProgramNotFound (also FileNotFoundError)
    │   └── ProcessFailed             it ran, and failed: exit code, signal, timeout, limit
    ├── ChannelClosed                 the other end of a channel went away
    ├── SharedMemoryError             shared memory could not be allocated or mapped
    ├── LoopBlocked                   the event loop was blocked longer than allowed
    ├── WrongLoopError (also RuntimeError)  a pool was used from another event loop
    └── JobError                      a durable job (offload.JobQueue) could not be done
        ├── JobFailed                 the job failed in its last attempt (dead-lettered)
        ├── JobRejected               a worker refused the message (unknown job, bad signature)
        └── BrokerUnavailable         the broker stayed unreachable longer than allowed

Exceptions raised by *your* code inside a worker are not wrapped: they arrive with their
own type, and the worker's traceback is attached as ``__cause__`` (a
``RemoteTraceback``, which is not an error of its own: it only carries that text).

Every message says what happened and, where there is one, what to do about it.

An error that carries details (``WorkerCrashed``, ``TaskExited``, ``ProcessFailed``,
``JobFailed``) declares them as dataclass fields: ``Error(message, *, detail=...)``, the
message goes to ``Exception`` and each detail is an attribute. Python's own exception
pickling (``args`` plus the attributes) carries them all to another process.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, InitVar, dataclass
from typing import Any

__all__ = [
    "BatchError",
    "BrokerUnavailable",
    "Cancelled",
    "ChannelClosed",
    "ClosedError",
    "InterpreterIncompatible",
    "JobError",
    "JobFailed",
    "JobRejected",
    "LoopBlocked",
    "OffloadError",
    "ProcessError",
    "ProcessFailed",
    "ProgramNotFound",
    "QueueFull",
    "SerializationError",
    "SharedMemoryError",
    "TaskExited",
    "TaskTimeout",
    "WorkerCrashed",
    "WorkerError",
    "WorkerStartFailed",
    "WrongLoopError",
]


class OffloadError(Exception):
    """Base class of every exception offload raises itself."""


class Cancelled(OffloadError):
    """Work was cancelled through a :class:`offload.CancelToken` or a cancelable handle.

    ``reason`` is whatever was passed to ``cancel(reason)`` (``None`` if nothing was).
    """

    def __init__(self, reason: object = None) -> None:
        self.reason = reason
        super().__init__(f"cancelled: {reason}" if reason is not None else "cancelled")

    def __reduce__(self) -> tuple[type[Cancelled], tuple[object], dict[str, Any]]:
        # Rebuilt from the reason, not the message (the default would cancel "cancelled: x").
        return (type(self), (self.reason,), self.__dict__)


class ClosedError(OffloadError, RuntimeError):
    """The pool, channel or process was closed before or while the operation ran.

    Also a ``RuntimeError``, like ``concurrent.futures`` executors' "cannot schedule new
    futures after shutdown".
    """


class QueueFull(OffloadError):
    """A bounded queue is full and the caller asked not to wait (``*_nowait``)."""


class SerializationError(OffloadError):
    """A value could not cross a process boundary (pickle or cloudpickle refused it)."""


class WorkerError(OffloadError):
    """A worker could not do its job."""


@dataclass(eq=False, repr=False)  # compares and prints as exceptions do
class WorkerCrashed(WorkerError):
    """The worker died while it was running this task.

    Only the task that was running on that worker fails; the worker is replaced.
    """

    message: InitVar[str]
    _: KW_ONLY
    pid: int | None = None
    exitcode: int | None = None
    signal: int | None = None
    function: str | None = None

    def __post_init__(self, message: str) -> None:
        super().__init__(message)


class WorkerStartFailed(WorkerError):
    """Workers keep failing to start because of the user's code: the initializer raised,
    an import failed, or the worker exited or crashed on its own while starting (the
    message says which). Workers killed from outside while starting are retried."""


class InterpreterIncompatible(WorkerError, ImportError):
    """A task of ``Pool(kind="interpreter")`` needs an extension module that cannot be
    loaded in a sub-interpreter (NumPy, for one); run that work with ``kind="process"``.

    Also an ``ImportError``, which is what the import raised; its traceback in the
    worker is the ``__cause__``.
    """


class TaskTimeout(OffloadError, TimeoutError):
    """A task ran longer than its timeout; counted from when it started running."""


@dataclass(eq=False, repr=False)  # compares and prints as exceptions do
class TaskExited(OffloadError):
    """A task raised ``SystemExit``, ``KeyboardInterrupt`` or another ``BaseException``
    that is not an ``Exception`` (``sys.exit()`` in a pool task, for example).

    Such an exception would stop the caller's event loop, so the pool delivers this
    ordinary error instead. ``exc_type`` is the type the task raised, ``code`` the
    ``SystemExit`` code (``None`` for other types), ``function`` the task's name; the
    original exception is attached as ``__cause__``.
    """

    message: InitVar[str]
    _: KW_ONLY
    exc_type: type[BaseException] = SystemExit
    code: object = None
    function: str | None = None

    def __post_init__(self, message: str) -> None:
        super().__init__(message)

    @classmethod
    def from_exception(cls, exc: BaseException, function: str | None = None) -> TaskExited:
        """The error for ``exc``, raised by the task ``function``, with ``exc`` as cause."""
        code = exc.code if isinstance(exc, SystemExit) else None
        what = type(exc).__qualname__
        if isinstance(exc, SystemExit):
            what += f"({code!r})"
        name = f"{function}()" if function else "a task"
        error = cls(
            f"{name} raised {what} in a pool worker; the pool reports it as this error "
            "so that it cannot stop the caller's event loop (the worker lives on)",
            exc_type=type(exc),
            code=code,
            function=function,
        )
        error.__cause__ = exc
        return error


class BatchError(OffloadError):
    """A Batcher's ``load_many`` broke its contract (for example, returned the wrong count)."""


class ProcessError(OffloadError):
    """An external program could not be run as asked."""


class ProgramNotFound(ProcessError, FileNotFoundError):
    """The program does not exist or is not executable."""


@dataclass(eq=False, repr=False)  # compares and prints as exceptions do
class ProcessFailed(ProcessError):
    """The program ran and failed: non-zero exit, a signal, a timeout or an output limit.

    Carries what :func:`offload.run` knows about the run: ``argv``, ``pid``,
    ``returncode`` (negative for a signal, like :mod:`subprocess`), ``signal``,
    ``stdout``, ``stderr``, ``duration``, ``timed_out``, ``cancelled``,
    ``output_truncated`` and ``limit`` (a limit that stopped it, in words, or None).
    The message ends with the tail of stderr.
    """

    message: InitVar[str]
    _: KW_ONLY
    argv: tuple[str, ...] = ()
    pid: int | None = None
    returncode: int | None = None
    signal: int | None = None
    stdout: bytes | str | None = None
    stderr: bytes | str | None = None
    duration: float = 0.0
    timed_out: bool = False
    cancelled: bool = False
    output_truncated: bool = False
    limit: str | None = None

    def __post_init__(self, message: str) -> None:
        super().__init__(message)
        self.argv = tuple(self.argv)


class ChannelClosed(OffloadError):
    """The other end of a channel went away (closed, exited or crashed)."""


class SharedMemoryError(OffloadError):
    """Shared memory could not be allocated or mapped."""


class LoopBlocked(OffloadError):
    """The event loop was blocked longer than the allowed threshold.

    Raised by the pytest plugin (``--offload-max-block``) in a test whose loop blocked;
    the message names the blocking function and shows its stack.
    """


class WrongLoopError(OffloadError, RuntimeError):
    """A pool was used from an event loop other than the one that started it.

    A pool belongs to the loop of its first ``run``/``submit``/``start``; create it
    inside the loop that uses it. ``await pool.close()`` works from any loop.
    """


class JobError(OffloadError):
    """A durable job (:class:`offload.JobQueue`) could not be done."""


@dataclass(eq=False, repr=False)  # compares and prints as exceptions do
class JobFailed(JobError):
    """The job failed in its last attempt and went to the dead-letter queue.

    The job ran on another machine, so its exception cannot be rebuilt safely here:
    ``error_type`` (the exception's qualified name), ``error`` (its message),
    ``remote_traceback`` (the worker's traceback, as text), ``attempts`` and ``job_id``
    say what happened.
    """

    message: InitVar[str]
    _: KW_ONLY
    job_id: str = ""
    error_type: str = ""
    error: str = ""
    remote_traceback: str = ""
    attempts: int = 0

    def __post_init__(self, message: str) -> None:
        super().__init__(message)


class JobRejected(JobFailed):
    """A worker refused to run the message: an unregistered job name, arguments it could
    not decode, or a missing or bad signature. The message went to the dead-letter queue."""


class BrokerUnavailable(JobError, ConnectionError):
    """The broker stayed unreachable longer than allowed (``JobQueue(outage_timeout=...)``).

    Check that RabbitMQ runs and the URL is right; a submit that raised this may or may
    not have reached the broker (submit again with the same ``key=`` to be sure).
    """


class RemoteTraceback(Exception):
    """The worker-side traceback of an exception, attached as its ``__cause__``.

    Pickles by its text (its only argument), like any exception.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f"\n\n--- traceback in the worker ---\n{self.text}---"
