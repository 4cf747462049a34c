"""Kill storms: random SIGKILLs of a pool's processes while thousands of tasks run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from tests import _pool_helpers as h

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")

TASKS = 3000
STORM_SECONDS = 1.5


def _kill_if_ours(pid: int, parents: set[int]) -> bool:
    """SIGKILL ``pid`` through a pidfd, only if its parent is one of ``parents``."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        if psutil.Process(pid).ppid() not in parents:
            return False  # exited and reaped meanwhile; the pid may be someone else's
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        return True
    except (OSError, psutil.Error):
        return False
    finally:
        os.close(fd)


async def _storm(
    pool: offload.Pool, rate: float, until: float, rng: random.Random, *, ready_only: bool
) -> int:
    """Kill one random process of the pool ``rate`` times a second: any of them (workers,
    starting or not, and the template), or only workers that are ready."""
    kills = 0
    me = os.getpid()
    while time.monotonic() < until:
        await asyncio.sleep(1 / rate)
        backend: Any = pool._scheduler.backend
        proc = backend.proc
        template = proc.pid if proc is not None and proc.poll() is None else None
        if template is None:
            continue
        if ready_only:
            targets = [w.pid for w in pool._scheduler.workers.values() if w.state == 1 and w.pid]
        else:
            targets = [*backend.by_pid, template]
        if targets:
            pid = rng.choice(targets)
            parents = {me} if pid == template else {template}
            kills += _kill_if_ours(pid, parents)  # type: ignore[arg-type]
    return kills


@pytest.mark.parametrize(
    ("rate", "ready_only"),
    [(2, False), (10, False), (30, False), (30, True)],
    ids=["2/s", "10/s", "30/s", "30/s-ready-workers"],
)
async def test_every_task_ends_once_through_a_kill_storm(
    rate: int, ready_only: bool, tmp_path: Path
) -> None:
    rng = random.Random(rate)
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    async with offload.Pool(max_workers=2) as pool:
        marks = tmp_path / "started"
        marks.write_bytes(bytes(TASKS))  # each task sets its byte when it starts
        handles = [pool.submit(h.tiny_marked, i, str(marks)) for i in range(TASKS)]
        await handles[20]  # workers are up and busy: the storm hits running tasks
        until = time.monotonic() + STORM_SECONDS
        kills = await _storm(pool, rate, until, rng, ready_only=ready_only)
        _done, pending = await asyncio.wait([asyncio.ensure_future(x) for x in handles], timeout=40)
        assert not pending, f"{len(pending)} tasks never ended"
        crashed = 0
        started = marks.read_bytes()
        for i, handle in enumerate(handles):
            error = handle._task.future.exception()
            if error is None:
                assert handle._task.future.result() == i
            else:
                assert isinstance(error, offload.WorkerCrashed), repr(error)
                assert started[i], f"task {i} never started, yet it was reported crashed"
                crashed += 1
        # The storm did happen (while workers are killed as they start, the pool backs
        # off and there is less to kill than the rate asks for).
        assert kills >= (STORM_SECONDS * rate) // 3 if ready_only else kills >= 2
        assert crashed <= 2 * kills  # a template kill takes both running tasks at most
        stats = pool.stats()
        assert stats.crashed == crashed
        assert stats.completed == TASKS - crashed
        assert pool._scheduler.outstanding == 0
        # and the pool serves normally afterwards
        assert await pool.run(h.square, 7) == 49
        assert await asyncio.gather(*(pool.run(h.square, i) for i in range(100))) == [
            i * i for i in range(100)
        ]
    assert not loop_errors, loop_errors
    with contextlib.suppress(Exception):
        loop.set_exception_handler(None)
