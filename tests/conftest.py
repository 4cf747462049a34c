"""Shared fixtures: leak checks for processes, threads, file descriptors and shared memory."""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Iterator

import psutil
import pytest
from hypothesis import settings

from offload import _reaper, _shm
from offload._pool import _kind_process_start


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
def no_leaks(no_shm_leaks: None) -> Iterator[None]:
    """Fail the test if it leaves a child process, a thread, a file descriptor or a
    shared-memory segment behind."""
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


@pytest.fixture(scope="session", autouse=True)
def _reaper_running() -> None:
    """Start this process's reaper (one per application, lives as long as it) before any
    leak snapshot, so tests see only what they start themselves."""
    _reaper.start()
    deadline = time.monotonic() + 30
    while _reaper.reaper_pid() is None:
        assert time.monotonic() < deadline, "the reaper did not start"
        time.sleep(0.01)


@pytest.fixture(scope="session", autouse=True)
def _template_starter_running() -> None:
    """Start the thread that starts process pools' templates (one per application, lives
    as long as it) before any leak snapshot."""
    _kind_process_start.ensure_running()


@pytest.fixture
def no_shm_leaks() -> Iterator[None]:
    """Fail the test if it leaves a segment of this application (or its workers) in /dev/shm."""
    before = set(_shm.list_segments(os.getpid()))
    yield
    gc.collect()

    def check() -> None:
        left = set(_shm.list_segments(os.getpid())) - before
        assert not left, f"segments left in /dev/shm: {sorted(left)}"

    _settle(check)


# Hypothesis' default deadline (200 ms an example) measures the machine's load, not the
# code: on busy CPUs it fails tests at random. Property tests are bounded by
# pytest-timeout instead.
settings.register_profile("offload", deadline=None)
settings.load_profile("offload")
