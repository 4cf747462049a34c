"""Functions the pool tests run in workers (importable by reference from a worker)."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path

from tests._ready import mark_ready

import offload

REQUEST_ID: ContextVar[str] = ContextVar("REQUEST_ID", default="none")


def square(x: int) -> int:
    return x * x


def pid() -> int:
    return os.getpid()


def sleep_then(seconds: float, value: object = None) -> object:
    time.sleep(seconds)
    return value


def sleep_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def exit_with(code: int) -> None:
    os._exit(code)


def kill_self(sig: int = signal.SIGKILL) -> None:
    os.kill(os.getpid(), sig)
    time.sleep(5)


def segfault() -> None:
    ctypes.string_at(0)


class Boom(Exception):
    pass


def raise_boom(message: str) -> None:
    raise Boom(message)


def unpicklable_result() -> object:
    return lambda: None  # cloudpickle could, so use something that cannot be pickled


def lock_result() -> object:
    import threading

    return threading.Lock()


def wait_for_cancel(limit: float) -> str:
    token = offload.current_token()
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if token.cancelled:
            return "saw cancel"
        time.sleep(0.005)
    return "timed out"


def note_cancel_by_callback(started: str, noted: str, limit: float) -> str:
    """Mark ``started``, have an ``on_cancel`` callback write the reason to ``noted``,
    then poll the token like ``wait_for_cancel``."""

    def note(t: offload.CancelToken) -> None:
        Path(noted + ".part").write_text(str(t.reason))
        os.replace(noted + ".part", noted)  # whole or absent for the reader

    token = offload.current_token()
    token.on_cancel(note)
    Path(started).touch()
    return wait_for_cancel(limit)


def ignore_cancel(seconds: float) -> str:
    time.sleep(seconds)
    return "finished"


def started_then(ready: str, fn: Callable[..., object], *args: object) -> object:
    """Tell the test the task is running (a line on the FIFO ``ready``), then ``fn(*args)``."""
    mark_ready(ready, str(os.getpid()))
    return fn(*args)


def report_each(n: int) -> int:
    for i in range(n):
        offload.report(i)
    return n


def log_something(message: str) -> None:
    logging.getLogger("offload.tests.worker").warning("hello %s", message)


def print_something(message: str) -> None:
    print(message)
    print(message + " on stderr", file=sys.stderr)


def read_request_id() -> str:
    return REQUEST_ID.get()


def allocate(megabytes: int) -> int:
    global _HOLD
    _HOLD = bytearray(megabytes * 1024 * 1024)
    for i in range(0, len(_HOLD), 4096):
        _HOLD[i] = 1
    return os.getpid()


_HOLD: bytearray | None = None


def failing_initializer() -> None:
    raise RuntimeError("initializer refuses")


def set_marker(value: str) -> None:
    os.environ["OFFLOAD_TEST_MARKER"] = value


def read_marker() -> str:
    return os.environ.get("OFFLOAD_TEST_MARKER", "")


def wait_for_file(path: str, limit: float = 30.0) -> None:
    """Block until ``path`` exists (an initializer the test releases when it is ready)."""
    deadline = time.monotonic() + limit
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.005)


def exit_while_starting(code: int) -> None:
    os._exit(code)


def spawn_child_then(seconds: float, path: str) -> int:
    """Start ``sleep 300`` as a child, write its pid to ``path``, then sleep ``seconds``."""
    import subprocess

    child = subprocess.Popen(["sleep", "300"])
    with open(path + ".tmp", "w") as f:
        f.write(str(child.pid))
    os.replace(path + ".tmp", path)
    time.sleep(seconds)
    return child.pid


def tiny(x: int) -> int:
    time.sleep(0.0005)
    return x


_MARKS: dict[str, object] = {}


def tiny_marked(x: int, path: str) -> int:
    """Like ``tiny``, and set byte ``x`` of the file at ``path`` first: the task started."""
    import mmap

    marks = _MARKS.get(path)
    if marks is None:
        with open(path, "r+b") as f:
            marks = _MARKS[path] = mmap.mmap(f.fileno(), 0)
    marks[x] = 1  # type: ignore[index]
    time.sleep(0.0005)
    return x
