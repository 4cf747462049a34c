"""Functions the PoolExecutor tests run in workers (importable by process workers)."""

from __future__ import annotations

import os
import sys
import time


def wait_for_file(path: str, limit: float = 30.0) -> str:
    """Block until ``path`` exists (a gate the test opens), at most ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.005)
    return "opened"


def touch(path: str) -> str:
    """Record that this call ran."""
    with open(path, "a"):
        pass
    return path


def sleep_and_print(seconds: float, message: str) -> None:
    time.sleep(seconds)
    print(message)
    sys.stdout.flush()


def fail_with_line() -> None:
    raise RuntimeError(123)  # a line the parent's traceback must show


def pid() -> int:
    return os.getpid()


def square(x: int) -> int:
    return x * x


def exit_now(code: int) -> None:
    os._exit(code)


class Payload:
    """An argument whose lifetime the tests watch with a weak reference."""

    def __init__(self, value: int) -> None:
        self.value = value


def read_payload(payload: Payload) -> int:
    return payload.value


def wait_then_touch(gate: str, mark: str) -> str:
    """Wait for ``gate``, then record that this call ran by creating ``mark``."""
    wait_for_file(gate)
    return touch(mark)


def slow_square(x: int, seconds: float) -> int:
    time.sleep(seconds)
    return x * x
