"""The worker main loop (child side): read task frames, run them, answer each at once.

Runs in a process forked from the template. Results are written as soon as each task
ends (one write per task) so the parent always knows which task a worker is running;
tasks are read in batches (one read may carry many task frames).

The parent ends a worker by closing its end of the socket. If it does so with some of
the worker's frames unread (a pool closed right after it started, before it read the
worker's hello), the worker's next read fails with ECONNRESET instead of reading EOF,
and a write after the close fails with EPIPE: both mean the same as EOF, so the worker
exits quietly with status 0. Any other error still prints its traceback (status 70).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, NoReturn

from offload._cancel import CancelToken, reset_current, set_current
from offload._errors import TaskExited
from offload._loghandler import SendHandler
from offload._serialize import dumps, loads
from offload._shm import accept_returns, decode, encode, set_root, worker_recycler
from offload._wire import frame, split_frames

from . import _kind_process_messages as w
from ._report import set_reporter
from ._task_errors import dump_error

__all__ = ["load_settings", "serve", "worker_main"]


_SCALARS = frozenset({int, float, bool, complex, str, type(None)})
# How long an idle worker polls its socket before sleeping (see _read).
_SPIN_SECONDS = 0.0002


class _ProcessToken(CancelToken):
    """current_token() inside a process task: reads the cancel flag the parent sets."""

    __slots__ = ("_page", "_seq")

    def __init__(self, page: Any, seq: int) -> None:
        super().__init__()
        self._page = page
        self._seq = seq

    def serve(self, seq: int) -> None:
        """Stand for task ``seq`` from now on: not cancelled until the parent marks it."""
        self._seq = seq
        self._rearm()

    @property
    def cancelled(self) -> bool:
        if super().cancelled:
            return True
        slot = (self._seq % w.CANCEL_SLOTS) * w.SLOT.size + w.RUNNING.size
        if w.SLOT.unpack_from(self._page, slot)[0] == self._seq:
            self.cancel("cancelled by the caller")
            return True
        return False


class _ParentGone(Exception):
    """The parent closed its end of the socket: nobody reads what this worker sends."""


class _Connection:
    """The worker's end of its socket; writes are locked so threads in a task can log."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()
        self.seq = 0  # the task running now, for report() and log records

    def send(self, data: bytes) -> None:
        with self.lock:
            view = memoryview(data)
            try:
                while view:
                    written = os.write(self.fd, view)
                    view = view[written:]
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise _ParentGone from exc

    def send_log(self, fields: dict[str, Any]) -> None:
        """Send a log record (as :func:`_record_fields` makes it) to the parent; dropped
        if the parent has closed the socket (the worker ends at its next send or read)."""
        with contextlib.suppress(_ParentGone):
            self.send(frame(w.LOG, dumps(fields), self.seq))


def _record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What the parent needs to re-emit a worker's log record with worker and task ids."""
    exc_text = record.exc_text
    if record.exc_info and not exc_text:
        exc_text = "".join(traceback.format_exception(*record.exc_info))
    return {
        "name": record.name,
        "levelno": record.levelno,
        "levelname": record.levelname,
        "msg": record.getMessage(),
        "pathname": record.pathname,
        "filename": record.filename,
        "module": record.module,
        "lineno": record.lineno,
        "funcName": record.funcName,
        "created": record.created,
        "msecs": record.msecs,
        "process": record.process,
        "processName": "offload-worker",
        "threadName": record.threadName,
        "exc_text": exc_text,
        "stack_info": record.stack_info,
    }


def _rss() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _error_payload(exc: BaseException, run_time: float) -> bytes:
    return w.RUN_TIME.pack(run_time) + dump_error(exc)


def _name_of(fn: object, fn_id: int, functions: dict[int, Any]) -> str | None:
    """The qualified name of the task's callable, for error messages."""
    if fn is None or isinstance(fn, BaseException):
        fn = functions.get(fn_id)
    if fn is None or isinstance(fn, BaseException):
        return None
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return str(name)


def _read(fd: int, spin: float, perf: Callable[[], float]) -> bytes:
    """Read what the parent sent; poll for ``spin`` seconds before sleeping in read().

    A sleeping process takes tens of microseconds to be woken on another CPU; a caller
    that awaits one task after another sends the next one within that window, so a
    short poll after each answer saves one wake-up per round trip. The poll is bounded,
    so an idle worker still sleeps almost all the time.

    Returns ``b""`` at EOF, and also when the parent closed its end with some of our
    frames unread (Linux reports that as ECONNRESET): either way the parent is gone.
    """
    try:
        if spin > 0:
            yield_cpu = os.sched_yield
            os.set_blocking(fd, False)
            try:
                deadline = perf() + spin
                while True:
                    try:
                        return os.read(fd, 1 << 18)
                    except BlockingIOError:
                        if perf() > deadline:
                            break
                        yield_cpu()  # the parent may need this CPU to send the next task
            finally:
                os.set_blocking(fd, True)
        return os.read(fd, 1 << 18)
    except ConnectionResetError:
        return b""


def load_settings(
    init: dict[str, Any], translate: Callable[[BaseException], BaseException] | None = None
) -> dict[str, Any]:
    """The pool's settings for a worker, with the initializer, its arguments and the
    context variables loaded. What fails to load (``translate``-d if given) takes the
    initializer's place: each worker raises it at start, reported as an import failure."""
    loaded = dict(init)
    try:
        loaded["initializer"] = loads(init["initializer"]) if init["initializer"] else None
        loaded["initargs"] = loads(init["initargs"])
        loaded["context_vars"] = [
            getattr(importlib.import_module(module), attr) for module, attr in init["context_vars"]
        ]
    except BaseException as exc:
        if translate is not None:
            exc = translate(exc)
        if not isinstance(exc, ImportError):  # the parent reports it as "an import failed"
            exc = ImportError(
                f"could not load the initializer or context variables: {type(exc).__name__}: {exc}"
            )
        loaded["initializer"] = exc
        loaded["initargs"] = ()
        loaded["context_vars"] = []
    return loaded


def worker_main(sock_fd: int, page: Any, init: dict[str, Any]) -> NoReturn:
    """Serve tasks until the socket closes; never returns."""
    status = 0
    try:
        status = serve(sock_fd, page, init)
    except BaseException:
        traceback.print_exc()
        status = 70
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
    os._exit(status)


def serve(sock_fd: int, page: Any, init: dict[str, Any]) -> int:
    """Serve tasks until the parent closes the socket; the worker's exit status."""
    try:
        return _serve(sock_fd, page, init)
    except _ParentGone:
        return 0  # the parent closed the socket while we wrote: as at EOF


def _serve(sock_fd: int, page: Any, init: dict[str, Any]) -> int:
    conn = _Connection(sock_fd)
    set_root(init.get("shm_root", os.getppid()))  # segments carry the application's pid
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    # Every log record goes to the parent, which re-emits it with worker and task ids.
    root.addHandler(SendHandler(conn.send_log, _record_fields))
    root.setLevel(init["log_level"])

    initializer = init.get("initializer")
    # A worker kind's own reading of some errors (sub-interpreters: unloadable modules).
    translate: Callable[[BaseException], BaseException] | None = init.get("translate_error")
    try:
        if isinstance(initializer, BaseException):
            raise initializer
        if initializer is not None:
            initializer(*init["initargs"])
    except BaseException as exc:
        if translate is not None:
            exc = translate(exc)
        conn.send(frame(w.ERR, _error_payload(exc, 0.0)))
        return 3
    conn.send(frame(w.HELLO, str(os.getpid()).encode()))

    context_vars: list[ContextVar[Any]] = init.get("context_vars", [])
    max_memory: int | None = init.get("max_memory")
    functions: dict[int, Callable[..., Any] | BaseException] = {}
    set_reporter(
        lambda value: conn.send(frame(w.REPORT, dumps(value, what="progress value"), conn.seq))
    )
    retired = False
    task_token = _ProcessToken(page, 0)  # one per worker, pointed at each task in turn
    buf = bytearray()
    running = w.RUNNING
    perf = time.perf_counter
    stdout = sys.stdout
    spin = float(init.get("spin", _SPIN_SECONDS))
    recycler = worker_recycler()  # warm segments for results, handed back by the parent
    while True:
        data = _read(sock_fd, spin, perf)
        if not data:
            return 0
        buf += data
        for kind, seq, oob, payload in split_frames(buf):
            if kind != w.TASK:
                continue
            oob = accept_returns(oob)
            fn_id, fn_len = w.TASK_HEAD.unpack_from(payload)
            head = w.TASK_HEAD.size
            fn: Callable[..., Any] | BaseException | None = None
            if fn_len:
                # Id 0: this task's own copy (state as submitted), never kept. Above 0:
                # a module-level name, the same object for every task (see _functions).
                try:
                    fn = loads(payload[head : head + fn_len])
                except BaseException as exc:
                    fn = exc
                if fn_id:
                    functions[fn_id] = fn
            elif fn_id:
                fn = functions.get(fn_id)
            slot = (seq % w.CANCEL_SLOTS) * w.SLOT.size + running.size
            if w.SLOT.unpack_from(page, slot)[0] == seq:
                conn.send(frame(w.SKIPPED, b"", seq))
                continue
            running.pack_into(page, 0, seq)
            conn.seq = seq
            started = perf()
            try:
                if fn is None:
                    raise RuntimeError(f"offload worker: unknown function id {fn_id}")
                if isinstance(fn, BaseException):
                    raise fn
                args, ctx = decode(payload[head + fn_len :], oob, loads=loads)
                task_token.serve(seq)
                token = set_current(task_token)
                resets = [var.set(value) for var, value in zip(context_vars, ctx, strict=False)]
                try:
                    result = fn(*args)
                finally:
                    for var, reset in zip(context_vars, resets, strict=False):
                        var.reset(reset)
                    reset_current(token)
                elapsed = perf() - started
                # The parent maps and unlinks the segment, or cleans up after this pid.
                if type(result) in _SCALARS:
                    out = frame(w.OK, w.RUN_TIME.pack(elapsed) + dumps(result), seq)
                else:
                    reply = encode(
                        result, dumps=lambda v: dumps(v, what="result"), recycler=recycler
                    )
                    out = frame(w.OK, w.RUN_TIME.pack(elapsed) + reply.data, seq, reply.descriptors)
                    del reply
            except BaseException as exc:
                if not isinstance(exc, Exception):
                    # sys.exit() or KeyboardInterrupt in the task would stop the caller's
                    # event loop if it arrived as itself: send an ordinary error instead.
                    exc = TaskExited.from_exception(exc, _name_of(fn, fn_id, functions))
                if translate is not None:
                    exc = translate(exc)
                out = frame(w.ERR, _error_payload(exc, perf() - started), seq)
            # The task's own copy of its callable, its arguments and its result die with
            # it: a worker must not hold the last task's data until the next one comes.
            fn = args = ctx = result = None
            conn.send(out)
            out = b""
            # Cleared only once the answer is written: a worker that dies in between is
            # seen running this task (answered), never a task it had not started.
            running.pack_into(page, 0, 0)
            if stdout is not None:  # printed lines must not die with a killed worker
                with contextlib.suppress(Exception):
                    stdout.flush()
            if max_memory is not None and not retired and _rss() > max_memory:
                retired = True
                conn.send(frame(w.RETIRE, b"", seq))
