"""Jobs the jobs tests run (importable by workers: ``--app tests._jobs_app``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import offload

jobs = offload.JobQueue(
    os.environ.get("OFFLOAD_TEST_AMQP", "amqp://guest:guest@127.0.0.1/"),
    name=os.environ.get("OFFLOAD_TEST_QUEUE", "test"),
    retry_delay=float(os.environ.get("OFFLOAD_TEST_RETRY_DELAY", "0.05")),
    max_redeliveries=int(os.environ.get("OFFLOAD_TEST_MAX_REDELIVERIES", "3")),
)


def add(a: int, b: int) -> int:
    return a + b


def noop() -> None:
    return None


def count(n: int) -> int:
    for i in range(1, n + 1):
        offload.report(i)
    return n


def fail(message: str) -> None:
    raise ValueError(message)


def fail_until(attempt: int) -> int:
    info = offload.current_job()
    assert info is not None
    if info.attempt < attempt:
        raise RuntimeError(f"attempt {info.attempt} fails")
    return info.attempt


def attempt() -> int:
    info = offload.current_job()
    return info.attempt if info is not None else 0


def touch(path: str, value: Any = None) -> Any:
    Path(path).write_text(str(time.time()))
    return value


def hang() -> None:
    while True:
        time.sleep(0.05)


def wait_for_file(started: str, go: str) -> int:
    """Say it started (with the pid), then wait for ``go``; returns the attempt."""
    Path(started).write_text(str(os.getpid()))
    while not Path(go).exists():
        time.sleep(0.01)
    return attempt()


def wait_for_cancel(started: str, saw: str) -> None:
    Path(started).write_text("")
    token = offload.current_token()
    while not token.cancelled:
        time.sleep(0.01)
    Path(saw).write_text("")
    token.raise_if_cancelled()


def crash() -> None:
    os._exit(3)


def register_all(queue: offload.JobQueue) -> offload.JobQueue:
    for fn in (
        add,
        noop,
        count,
        fail,
        fail_until,
        attempt,
        touch,
        hang,
        wait_for_file,
        wait_for_cancel,
        crash,
    ):
        queue.register(fn)
    return queue


register_all(jobs)
