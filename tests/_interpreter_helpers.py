"""Functions the interpreter-kind tests run in sub-interpreters.

Imported by reference inside each sub-interpreter, so only light imports here (no
pytest, no NumPy at module level).
"""

from __future__ import annotations

import logging
import os
import sys
import time

import offload


def where() -> tuple[int, int]:
    """(pid, interpreter id) of the code running this."""
    import _interpreters  # type: ignore[import-not-found,unused-ignore]

    return os.getpid(), int(_interpreters.get_current()[0])


def meet(send_fd: int, recv_fd: int) -> bytes:
    """Signal the other task, then wait for its signal: both must run at the same time."""
    os.write(send_fd, b"x")
    return os.read(recv_fd, 1)


def ignore_token(fd: int, started_fd: int = -1) -> str:
    """Block until a byte arrives on ``fd``, whatever the token says (after telling
    ``started_fd``, if given, that it runs)."""
    if started_fd >= 0:
        os.write(started_fd, b"s")
    os.read(fd, 1)
    return "returned"


def wait_for_cancel(started_fd: int) -> str:
    """Tell the test it runs, then poll the token until it is cancelled."""
    os.write(started_fd, b"s")
    token = offload.current_token()
    deadline = time.monotonic() + 60
    while not token.cancelled and time.monotonic() < deadline:
        time.sleep(0.001)
    return "stopped" if token.cancelled else "never cancelled"


def report_each(n: int) -> int:
    for i in range(n):
        offload.report(i)
    return n


def use_numpy() -> int:
    import numpy

    return int(numpy.arange(3).sum())


def exit_with(code: int) -> None:
    sys.exit(code)


class Boom(Exception):
    pass


def raise_boom(message: str) -> None:
    raise Boom(message)


def log_warning(message: str) -> None:
    logging.getLogger("interp.task").warning("said %s", message)


def spin(n: int) -> int:
    """Pure-Python CPU work."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def echo(value: object) -> object:
    return value
