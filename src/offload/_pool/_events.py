"""What a worker tells the pool: the six events every backend reports (and one that a
backend which knows its own size may report), and nothing else.

A backend holds a :class:`WorkerEvents` (the scheduler) and calls it on the event loop
thread. It never sees the pool, its queue or its bookkeeping: the scheduler decides what
each event means (a result for a caller, a retry, a crash, a replacement).
"""

from __future__ import annotations

import signal as _signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._backend import Worker

__all__ = ["WorkerEnd", "WorkerEvents"]


@dataclass(frozen=True, slots=True)
class WorkerEnd:
    """How a worker ended: its ``exitcode`` or ``signal`` (both None when unknown), and
    ``start_error``, what its initializer (or an import) raised if it never became
    ready because of that."""

    exitcode: int | None = None
    signal: int | None = None
    start_error: BaseException | None = None

    def how(self) -> str:
        """The end in words: ``was killed by signal SIGKILL``, ``exited with code 3``."""
        if self.signal is not None:
            try:
                name = _signal.Signals(self.signal).name
            except ValueError:
                name = str(self.signal)
            return f"was killed by signal {name}"
        if self.exitcode is not None:
            return f"exited with code {self.exitcode}"
        return "died (exit status unknown)"


class WorkerEvents(Protocol):
    """The calls a worker makes into the pool, all on the event loop thread."""

    def on_ready(self, worker: Worker) -> None:
        """The worker started (its initializer ran) and takes tasks."""

    def on_done(self, worker: Worker, seq: int, ok: bool, value: Any, run_time: float) -> None:
        """Task ``seq`` (the oldest the worker holds) ended: ``value`` is its result
        (``ok``), its exception, or None when it was skipped (cancelled before it ran)."""

    def on_report(self, worker: Worker, seq: int, value: object) -> None:
        """Task ``seq`` passed ``value`` to ``offload.report()``."""

    def on_log(self, worker: Worker, seq: int, record: dict[str, Any]) -> None:
        """The worker logged ``record`` (a LogRecord's dict) while running task ``seq``
        (0: between tasks)."""

    def on_retire(self, worker: Worker) -> None:
        """The worker asks to be replaced (memory limit); it finishes what it holds."""

    def on_exited(self, worker: Worker, end: WorkerEnd) -> None:
        """The worker ended, as ``end`` tells."""

    def on_resize(self, max_workers: int) -> None:
        """The backend can run ``max_workers`` workers (a cluster's worker threads);
        reported only when the pool was given no ``max_workers``
        (``BackendOptions.size_from_backend``)."""
