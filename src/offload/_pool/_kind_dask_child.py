"""The Dask kind, worker side: what runs inside a Dask worker for every pool task.

Imported by Dask workers (offload must be installed where they run). ``run_task`` is the
function Dask runs: it unpickles the user's function and arguments, gives the task its
``offload.current_token()`` and ``offload.report()`` sink, runs it, and returns the
outcome as pickled bytes (so an unpicklable result or exception fails only this task
with a clear error). ``mark_cancelled`` is what the caller runs on a worker (through
``Client.run``) to cancel a running task cooperatively.
"""

from __future__ import annotations

import io
import os
import pickle
import signal
import time
from typing import Any

from offload._cancel import CancelToken, reset_current, set_current
from offload._errors import SerializationError
from offload._serialize import dumps

from ._report import set_reporter
from ._task_errors import dump_error

__all__ = ["Scattered", "mark_cancelled", "run_task", "stop_worker"]

# Keys of tasks whose caller cancelled them, in insertion order (bounded: a mark for a
# task that already ended on this worker is never read again).
_cancelled: dict[str, None] = {}
_MAX_MARKS = 4096


class Scattered:
    """Stands in the pickled arguments for the ``index``-th scattered (big) argument."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __reduce__(self) -> tuple[type[Scattered], tuple[int]]:
        return (Scattered, (self.index,))


class _DaskToken(CancelToken):
    """current_token() inside a Dask task: reads the mark the caller sets on the worker."""

    __slots__ = ("_key",)

    def __init__(self, key: str) -> None:
        super().__init__()
        self._key = key

    @property
    def cancelled(self) -> bool:
        if super().cancelled:
            return True
        if self._key in _cancelled:
            self.cancel("cancelled by the caller")
            return True
        return False


def mark_cancelled(key: str) -> None:
    """Run on a worker (in its event loop): the task ``key`` should stop."""
    _cancelled[key] = None
    while len(_cancelled) > _MAX_MARKS:
        del _cancelled[next(iter(_cancelled))]


def stop_worker() -> None:
    """Run on a worker (through ``Client.run``): end its process at once.

    A nanny starts a fresh worker in its place; a graceful restart would wait for the
    running task, which is exactly what must stop.
    """
    os.kill(os.getpid(), signal.SIGKILL)


def _load_call(payload: bytes, scattered: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
    """The function and arguments: two pickles back to back, big arguments apart."""
    stream = io.BytesIO(payload)
    try:
        fn = pickle.load(stream)
        args = pickle.load(stream)
    except Exception as exc:
        raise SerializationError(
            f"the task could not be unpickled on the Dask worker ({type(exc).__name__}: "
            f"{exc}); is the module that defines it installed there?"
        ) from exc
    if scattered:
        args = tuple(scattered[a.index] if isinstance(a, Scattered) else a for a in args)
    return fn, args


def run_task(
    key: str, topic: str, payload: bytes, *scattered: Any
) -> tuple[bool, bytes, float, int]:
    """Run one pool task; return ``(ok, pickled result or error, run time, reports sent)``.

    ``topic`` is the event topic for ``offload.report()`` values ("" when nobody reads
    them).
    """
    try:
        fn, args = _load_call(payload, scattered)
    except Exception as exc:
        return False, dump_error(exc), 0.0, 0
    reports = 0

    def sink(value: object) -> None:
        nonlocal reports
        from distributed import get_worker

        body = dumps(value, what="progress value")
        get_worker().log_event(topic, {"key": key, "value": body})
        reports += 1

    reset_token = set_current(_DaskToken(key))
    reset_reporter = set_reporter(sink if topic else None)
    started = time.perf_counter()
    try:
        value = fn(*args)
        ok = True
    except BaseException as exc:
        value, ok = exc, False
    finally:
        run_time = time.perf_counter() - started
        reset_current(reset_token)
        _reporter_reset(reset_reporter)
        _cancelled.pop(key, None)
    if ok:
        try:
            return True, dumps(value, what="result"), run_time, reports
        except SerializationError as exc:
            value = exc
    return False, dump_error(value), run_time, reports


def _reporter_reset(token: Any) -> None:
    from ._report import _reporter

    _reporter.reset(token)
