"""Shared fixtures: leak checks for processes, threads and file descriptors."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import psutil
import pytest


def _open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


def _settle(check: object, timeout: float = 5.0) -> None:
    """Retry `check` (which raises AssertionError) until it passes or `timeout` runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()  # type: ignore[operator]
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fail the test if it leaves a child process, a thread or a file descriptor behind."""
    me = psutil.Process()
    children_before = {p.pid for p in me.children(recursive=True)}
    threads_before = {t.ident for t in threading.enumerate()}
    fds_before = _open_fds()
    yield

    def check() -> None:
        children = {p.pid for p in me.children(recursive=True)} - children_before
        assert not children, f"leaked child processes: {sorted(children)}"
        threads = [
            t for t in threading.enumerate() if t.ident not in threads_before and t.is_alive()
        ]
        assert not threads, f"leaked threads: {threads}"
        fds = _open_fds() - fds_before
        assert not fds, f"leaked file descriptors: {sorted(fds)}"

    _settle(check)
