"""Crash isolation: a dying worker fails only its own task, is replaced, leaks nothing."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

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
    return {w.pid for w in pool._scheduler.workers.values() if w.pid is not None}


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
            pids = {w.pid for w in pool._scheduler.workers.values() if w.pid}
            await asyncio.sleep(0.05)
        template = pool._scheduler.backend.proc.pid
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


def _wait_dead(pid: int, limit: float = 5.0) -> None:
    """Block (without yielding to the loop) until ``pid`` is a zombie or gone."""
    deadline = time.monotonic() + limit
    while _alive(pid):
        assert time.monotonic() < deadline, f"process {pid} did not die"
        time.sleep(0.001)


async def test_a_task_sent_to_a_worker_that_died_idle_runs_elsewhere() -> None:
    async with offload.Pool(max_workers=1) as pool:
        first = await pool.run(h.pid)
        os.kill(first, signal.SIGKILL)
        _wait_dead(first)  # the pool has not noticed yet: it sends the task there
        assert await pool.run(h.square, 5) == 25
        assert await pool.run(h.pid) != first
        assert pool.stats().crashed == 0


async def test_only_the_running_task_of_a_killed_worker_fails() -> None:
    async with offload.Pool(max_workers=1) as pool:
        await pool.run(h.square, 1)
        (worker,) = pool._scheduler.workers.values()
        assert worker.pid is not None
        page: Any = worker.worker.page  # type: ignore[attr-defined]
        first = pool.submit(h.sleep_then, 30, "first")
        rest = [pool.submit(h.square, i) for i in range(5)]
        # The worker marks the task it runs in its control page: wait for "first".
        while not worker.inflight or int.from_bytes(page[:8], "little") != (worker.inflight[0].seq):
            await asyncio.sleep(0.005)
        os.kill(worker.pid, signal.SIGKILL)
        with pytest.raises(offload.WorkerCrashed, match="while running sleep_then"):
            await first
        assert [await r for r in rest] == [i * i for i in range(5)]
        assert pool.stats().crashed == 1


async def _kill_starting_workers(pool: offload.Pool, count: int, *, template: bool) -> None:
    """SIGKILL ``count`` workers (or the template, while workers start) as they start."""
    killed: set[int] = set()
    deadline = time.monotonic() + 20
    while len(killed) < count:
        assert time.monotonic() < deadline, f"only {len(killed)} kills"
        backend = pool._scheduler.backend
        assert backend is not None
        starting = [
            w.pid
            for w in pool._scheduler.workers.values()
            if w.state == 0 and w.pid is not None and w.pid not in killed
        ]
        if starting:
            if template:
                proc = backend.proc  # type: ignore[attr-defined]
                if proc is not None and proc.pid not in killed:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed.add(proc.pid)
            else:
                os.kill(starting[0], signal.SIGKILL)
                killed.add(starting[0])
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("template", [False, True], ids=["workers", "template"])
async def test_outside_kills_while_starting_do_not_fail_queued_work(
    tmp_path: Path, template: bool
) -> None:
    gate = str(tmp_path / "go")
    async with offload.Pool(max_workers=2, initializer=h.wait_for_file, initargs=(gate,)) as pool:
        tasks = [pool.submit(h.square, i) for i in range(4)]
        await _kill_starting_workers(pool, 4, template=template)
        Path(gate).touch()
        assert [await asyncio.wait_for(t, 20) for t in tasks] == [0, 1, 4, 9]  # type: ignore[arg-type]


async def test_an_initializer_error_fails_queued_work_and_says_so() -> None:
    async with offload.Pool(max_workers=2, initializer=h.failing_initializer) as pool:
        with pytest.raises(offload.WorkerStartFailed, match="the initializer raised") as info:
            await asyncio.wait_for(pool.run(h.square, 1), 20)
        assert isinstance(info.value.__cause__, RuntimeError)


async def test_a_worker_exiting_while_starting_fails_queued_work_and_says_so() -> None:
    async with offload.Pool(
        max_workers=1, initializer=h.exit_while_starting, initargs=(5,)
    ) as pool:
        with pytest.raises(offload.WorkerStartFailed, match="exited with code 5 while starting"):
            await asyncio.wait_for(pool.run(h.square, 1), 20)


async def test_an_initializer_that_cannot_be_imported_says_so(tmp_path: Path) -> None:
    package = tmp_path / "vanishing_init_module"
    package.mkdir()
    (package / "__init__.py").write_text("def setup():\n    pass\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import vanishing_init_module

        pool = offload.Pool(max_workers=1, initializer=vanishing_init_module.setup)
        async with pool:
            shutil.rmtree(package)
            with pytest.raises(offload.WorkerStartFailed, match="an import failed"):
                await asyncio.wait_for(pool.run(h.square, 1), 20)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("vanishing_init_module", None)
