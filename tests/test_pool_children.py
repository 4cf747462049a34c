"""Processes a task starts never outlive it: a killed task takes its process tree along."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from tests import _pool_helpers as h

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def _child_of_task(path: Path) -> int:
    deadline = time.monotonic() + 20
    while not path.exists():
        assert time.monotonic() < deadline, "the task did not start its child"
        await asyncio.sleep(0.01)
    pid = int(path.read_text())
    assert _alive(pid)
    return pid


async def _gone(pid: int) -> None:
    deadline = time.monotonic() + 5
    while _alive(pid):
        assert time.monotonic() < deadline, f"the task's child {pid} is still running"
        await asyncio.sleep(0.01)


async def test_a_timed_out_task_takes_its_children_along(tmp_path: Path) -> None:
    path = tmp_path / "child"
    async with offload.Pool(max_workers=1) as pool:
        handle = pool.submit(h.spawn_child_then, 300, str(path), timeout=2)
        child = await _child_of_task(path)
        with pytest.raises(offload.TaskTimeout):
            await handle
        await _gone(child)
        assert await pool.run(h.square, 3) == 9


async def test_a_cancelled_task_takes_its_children_along(tmp_path: Path) -> None:
    path = tmp_path / "child"
    async with offload.Pool(max_workers=1) as pool:
        handle = pool.submit(h.spawn_child_then, 300, str(path))
        child = await _child_of_task(path)
        handle.cancel()
        await _gone(child)


async def test_close_with_force_takes_the_children_of_running_tasks(tmp_path: Path) -> None:
    path = tmp_path / "child"
    pool = offload.Pool(max_workers=1)
    handle = pool.submit(h.spawn_child_then, 300, str(path))
    child = await _child_of_task(path)
    await pool.close(force=True)
    with pytest.raises(offload.ClosedError):
        await handle
    await _gone(child)


async def test_children_a_task_left_behind_end_with_the_pool(tmp_path: Path) -> None:
    path = tmp_path / "child"
    async with offload.Pool(max_workers=1) as pool:
        child = await pool.run(h.spawn_child_then, 0, str(path))
        assert _alive(child)
    await _gone(child)


@pytest.mark.parametrize("victim", ["worker", "template"])
async def test_a_worker_killed_from_outside_takes_its_tasks_children(
    tmp_path: Path, victim: str
) -> None:
    path = tmp_path / "child"
    async with offload.Pool(max_workers=1) as pool:
        handle = pool.submit(h.spawn_child_then, 300, str(path))
        child = await _child_of_task(path)
        backend = pool._scheduler.backend
        assert backend is not None
        (worker,) = pool._scheduler.workers.values()
        assert worker.pid is not None
        target = worker.pid if victim == "worker" else backend.proc.pid  # type: ignore[attr-defined]
        os.kill(target, signal.SIGKILL)
        with pytest.raises(offload.WorkerCrashed):
            await handle
        await _gone(child)
        assert await pool.run(h.square, 4) == 16


_PARENT = textwrap.dedent(
    """
    import asyncio, sys
    import offload
    from tests import _pool_helpers as h

    async def main():
        pool = offload.Pool(max_workers=1)
        pool.submit(h.spawn_child_then, 300, sys.argv[1])
        await asyncio.sleep(120)

    asyncio.run(main())
    """
)


def test_children_of_tasks_end_when_the_application_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "child"
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(path)], cwd=".")
    try:
        deadline = time.monotonic() + 20
        while not path.exists():
            assert time.monotonic() < deadline, "the task did not start its child"
            assert parent.poll() is None
            time.sleep(0.01)
        child = int(path.read_text())
        assert _alive(child)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while _alive(child):
            assert time.monotonic() < deadline, f"the task's child {child} survived"
            time.sleep(0.02)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
