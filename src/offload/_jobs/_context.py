"""``offload.current_job()``: which job, and which attempt of it, is running here."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["JobInfo", "current_job", "run_job"]


@dataclass(frozen=True)
class JobInfo:
    """The job running in this worker: ``id``, ``attempt`` (1 on the first run; more
    after a failure with retries or a redelivery after a crash), ``queue`` (its name).

    A plain record, from :func:`offload.current_job`. Example::

        info = offload.current_job()
        if info is not None and info.attempt > 1:
            print("retry of", info.id)
    """

    id: str
    attempt: int
    queue: str


_current: contextvars.ContextVar[JobInfo | None] = contextvars.ContextVar(
    "offload_current_job", default=None
)


def current_job() -> JobInfo | None:
    """The :class:`JobInfo` of the job running now, or None outside a job (never raises).

    Example::

        @jobs.job
        def send(batch):
            if offload.current_job().attempt > 1:
                skip_the_ones_already_sent(batch)
    """
    return _current.get()


def run_job(fn: Callable[..., Any], info: JobInfo, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Run one job inside a pool worker, with :func:`current_job` set."""
    reset = _current.set(info)
    try:
        return fn(*args, **kwargs)
    finally:
        _current.reset(reset)
