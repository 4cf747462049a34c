"""Crash isolation: a dying worker fails only its own task, is replaced, leaks nothing."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from tests import _pool_helpers as h

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")


@pytest.mark.parametrize(
    ("fn", "args", "exitcode", "signum"),
    [
        (h.exit_with, (3,), 3, None),
        (h.kill_self, (signal.SIGKILL,), None, signal.SIGKILL),
        (h.kill_self, (signal.SIGTERM,), None, signal.SIGTERM),
        (h.segfault, (), None, signal.SIGSEGV),
    ],
)
async def test_a_dying_worker_fails_only_its_task(
    fn: object, args: tuple[object, ...], exitcode: int | None, signum: int | None
) -> None:
    async with offload.Pool(max_workers=2) as pool:
        others = [pool.submit(h.sleep_then, 0.2, i) for i in range(6)]
        with pytest.raises(offload.WorkerCrashed) as info:
            await pool.run(fn, *args)  # type: ignore[arg-type]
        crash = info.value
        assert crash.exitcode == exitcode
        assert crash.signal == signum
        assert crash.function == fn.__qualname__  # type: ignore[attr-defined]
        assert crash.pid is not None
        assert not psutil.pid_exists(crash.pid) or crash.pid not in _worker_pids(pool)
        assert [await o for o in others] == list(range(6))
        assert await pool.run(h.square, 5) == 25  # still usable
        assert pool.stats().crashed == 1


async def test_the_replacement_worker_takes_new_work() -> None:
    async with offload.Pool(max_workers=1) as pool:
        first = await pool.run(h.pid)
        with pytest.raises(offload.WorkerCrashed):
            await pool.run(h.exit_with, 1)
        second = await pool.run(h.pid)
        assert second != first


async def test_failing_initializer_gives_worker_start_failed() -> None:
    async with offload.Pool(max_workers=2, initializer=h.failing_initializer) as pool:
        with pytest.raises(offload.WorkerStartFailed, match="initializer refuses"):
            await asyncio.wait_for(pool.run(h.square, 1), 20)


async def test_initializer_runs_in_each_worker() -> None:
    async with offload.Pool(max_workers=1, initializer=h.set_marker, initargs=("ready",)) as pool:
        assert await pool.run(h.read_marker) == "ready"
        with pytest.raises(offload.WorkerCrashed):
            await pool.run(h.exit_with, 1)
        assert await pool.run(h.read_marker) == "ready"


def _worker_pids(pool: offload.Pool) -> set[int]:
    return {w.pid for w in pool._workers.values() if w.pid is not None}


_PARENT = textwrap.dedent(
    """
    import asyncio, sys, time
    import offload
    from tests import _pool_helpers as h

    async def main():
        pool = offload.Pool(max_workers=2, min_workers=2)
        busy = [pool.submit(h.sleep_then, 60) for _ in range(2)]
        pids = set()
        while len(pids) < 2:
            pids = {w.pid for w in pool._workers.values() if w.pid}
            await asyncio.sleep(0.05)
        template = pool._backend.proc.pid
        print(" ".join(map(str, sorted(pids) + [template])), flush=True)
        await asyncio.sleep(60)

    asyncio.run(main())
    """
)


def test_workers_exit_when_the_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True, cwd="."
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 3, line
        time.sleep(0.3)  # the workers are inside their 60 s sleeps
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 2.0
        alive = pids
        while time.monotonic() < deadline:
            alive = [p for p in pids if _alive(p)]
            if not alive:
                break
            time.sleep(0.02)
        assert not alive, f"still running after the parent was killed: {alive}"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
