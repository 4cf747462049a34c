"""What a worker tells the pool: the six events every backend reports (and one that a
backend which knows its own size may report), and nothing else.

A backend holds a :class:`WorkerEvents` (the scheduler) and calls it on the event loop
thread. It never sees the pool, its queue or its bookkeeping: the scheduler decides what
each event means (a result for a caller, a retry, a crash, a replacement).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._backend import Worker

__all__ = ["WorkerEvents"]


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

    def on_exited(
        self,
        worker: Worker,
        exitcode: int | None,
        signal: int | None,
        start_error: BaseException | None = None,
    ) -> None:
        """The worker ended (``exitcode`` or ``signal``, both None when unknown);
        ``start_error`` is what its initializer (or an import) raised, if it never
        became ready because of that."""

    def on_resize(self, max_workers: int) -> None:
        """The backend can run ``max_workers`` workers (a cluster's worker threads);
        reported only when the pool was given no ``max_workers``
        (``BackendOptions.size_from_backend``)."""
