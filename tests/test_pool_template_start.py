"""A process pool starts its template without blocking the event loop, and handles a
start that fails, a template killed while it starts, and a close during the start."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from tests import _pool_helpers as h

import offload
from offload._pool import _kind_process as kp

pytestmark = pytest.mark.usefixtures("no_leaks")

_REAL_LAUNCH = kp._launch_template


class _SlowStart:
    """A template start whose Popen waits until the test opens the gate: an exec that
    takes as long as the test wants, deterministically."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.threads: list[int] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.timed_out = False
        monkeypatch.setattr(kp, "_launch_template", self.launch)

    def launch(self, fd: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.threads.append(threading.get_ident())
        self.entered.set()
        # Called on the loop's thread (the defect), this would hold the loop: bounded,
        # so that such a test fails instead of hanging.
        if not self.gate.wait(20):
            self.timed_out = True
        proc = _REAL_LAUNCH(fd, env)
        self.procs.append(proc)
        return proc


async def _until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.005)


async def test_the_loop_runs_while_the_template_starts_and_queued_tasks_run_once_it_is_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow = _SlowStart(monkeypatch)
    async with offload.Pool(max_workers=2) as pool:
        first = [asyncio.ensure_future(pool.run(h.square, i)) for i in range(3)]
        await _until(slow.entered.is_set)
        assert slow.threads == [slow.threads[0]]
        assert slow.threads[0] != threading.get_ident()  # not on the loop's thread
        # The Popen waits; the loop goes on: timers fire, work is accepted.
        fired = asyncio.Event()
        asyncio.get_running_loop().call_later(0.01, fired.set)
        await asyncio.wait_for(fired.wait(), 10)
        backend: Any = pool._scheduler.backend
        assert backend.proc is None  # not known until its Popen returns
        assert not any(f.done() for f in first)
        more = [asyncio.ensure_future(pool.run(h.square, i)) for i in range(3, 6)]
        await asyncio.sleep(0)
        slow.gate.set()
        results = await asyncio.wait_for(asyncio.gather(*first, *more), 30)
        assert results == [i * i for i in range(6)]
        assert not slow.timed_out
        assert len(slow.procs) == 1  # one template served both workers
        assert backend.proc is slow.procs[0]
        assert await pool.run(h.square, 7) == 49


@pytest.mark.parametrize("cause", ["no-descriptors", "no-interpreter"])
async def test_a_template_that_cannot_start_fails_queued_work_with_the_reason(
    cause: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    if cause == "no-descriptors":

        def launch(fd: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
            calls.append(fd)
            raise OSError(errno.EMFILE, "Too many open files")

        monkeypatch.setattr(kp, "_launch_template", launch)
        reason = "Too many open files"
    else:

        def launch(fd: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
            calls.append(fd)
            return _REAL_LAUNCH(fd, env)

        monkeypatch.setattr(kp, "_launch_template", launch)
        monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
        reason = "No such file or directory"
    async with offload.Pool(max_workers=3) as pool:
        for n_tasks in (1, 3):  # one worker waiting for the template, or several
            runs = [pool.run(h.square, i) for i in range(n_tasks)]
            outcomes = await asyncio.wait_for(asyncio.gather(*runs, return_exceptions=True), 20)
            for outcome in outcomes:
                assert isinstance(outcome, offload.WorkerStartFailed), outcome
                assert "template process" in str(outcome)
                assert reason in str(outcome)
                assert "initializer" not in str(outcome)  # not the user's code
            # Deterministic: a start failure, never retried like a kill.
            assert 1 <= len(calls) <= 3
            calls.clear()
        # Once the cause is gone, new work starts a template again.
        monkeypatch.undo()
        assert await asyncio.wait_for(pool.run(h.square, 4), 30) == 16


async def test_a_template_killed_while_it_starts_is_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    killed: list[subprocess.Popen[bytes]] = []

    def launch(fd: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
        proc = _REAL_LAUNCH(fd, env)
        if not killed:  # killed from outside before the pool learns of it
            proc.kill()
            killed.append(proc)
        return proc

    monkeypatch.setattr(kp, "_launch_template", launch)
    async with offload.Pool(max_workers=2) as pool:
        results = await asyncio.wait_for(
            asyncio.gather(*(pool.run(h.square, i) for i in range(4))), 30
        )
        assert results == [0, 1, 4, 9]
        backend: Any = pool._scheduler.backend
        assert backend.proc is not killed[0]
    assert killed[0].returncode is not None  # reaped, no zombie


async def test_closing_a_pool_while_its_template_starts_kills_the_template(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow = _SlowStart(monkeypatch)
    pool = offload.Pool(max_workers=2)
    runs = [asyncio.ensure_future(pool.run(h.square, i)) for i in range(2)]
    await _until(slow.entered.is_set)
    closing = asyncio.ensure_future(pool.close(force=True))
    for run in runs:
        with pytest.raises(offload.ClosedError):
            await asyncio.wait_for(run, 10)
    assert not closing.done()  # it waits for the Popen in flight
    slow.gate.set()
    await asyncio.wait_for(closing, 30)
    assert len(slow.procs) == 1
    assert slow.procs[0].returncode is not None  # killed and reaped


@pytest.mark.parametrize("order", ["popen-returns-first", "release-waits-for-popen"])
def test_a_pool_released_outside_its_loop_while_its_template_starts_leaks_nothing(
    order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = _SlowStart(monkeypatch)
    pool = offload.Pool(max_workers=1)

    async def submit_and_leave() -> None:
        run = asyncio.ensure_future(pool.run(h.square, 3))
        await _until(slow.entered.is_set)
        if order == "popen-returns-first":
            slow.gate.set()
            await _until(lambda: bool(slow.procs))
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run

    asyncio.run(submit_and_leave())  # the pool's loop is closed now
    opener = threading.Timer(0.05, slow.gate.set)
    opener.start()
    try:
        asyncio.run(pool.close())  # released without its loop: waits for the Popen
    finally:
        opener.join()
    assert len(slow.procs) == 1
    assert slow.procs[0].returncode is not None  # killed and reaped
