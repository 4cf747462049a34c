"""Pool tasks with large data: shared memory on the way in and out, released on every path."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import time
from typing import Any

import numpy as np
import pytest

import offload
from _shm_helpers import assert_segments_removed, killed_app
from offload import _shm

BIG = 2 << 20  # above the 1 MiB default threshold

pytestmark = pytest.mark.usefixtures("no_leaks", "no_shm_leaks")


@pytest.fixture(scope="session", autouse=True)
def _uvloop_started() -> None:
    # uvloop keeps two descriptors open after its first loop: open them up front too.
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.run(asyncio.sleep(0))


# -- task functions (imported by reference in the workers) --------------------------


def echo(value: object) -> object:
    return value


def describe(value: bytes) -> tuple[int, int, str]:
    return len(value), value[0], type(value).__name__


def my_segments() -> list[str]:
    return _shm.list_segments(_shm.root_pid(), os.getpid())


def my_unkept_segments() -> list[str]:
    """This worker's segments other than the warm ones it keeps for its results."""
    recycler = _shm.worker_recycler()
    kept = set() if recycler is None else recycler.names()
    return [name for name in my_segments() if name not in kept]


def fail_with(value: object) -> None:
    raise ValueError("task failed on purpose")


def crash_with(value: object) -> None:
    os._exit(3)


def crash_after_writing_result() -> None:
    # A result segment exists (named after this worker) when the worker dies: the pool
    # must remove it.
    _shm.encode(b"r" * BIG)
    os.kill(os.getpid(), signal.SIGKILL)


def sleep_with(value: object, seconds: float) -> None:
    time.sleep(seconds)


def big_array(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64)


def shared_sum(shared: offload.SharedArray) -> float:
    return float(shared.array.sum())


def shared_fill(shared: offload.SharedArray, index: int, value: float) -> None:
    shared.array[index] = value


def count(counter: offload.SharedCounter, times: int) -> None:
    for _ in range(times):
        counter.add(1)


def arrived_shared(value: np.ndarray) -> bool:
    return owns_shared_memory(value)


def is_marked(value: object) -> bool:
    return isinstance(value, _shm.Transfer)


def transferred_back(n: int) -> object:
    return offload.transfer(np.arange(n, dtype=np.int32))


def owns_shared_memory(array: np.ndarray) -> bool:
    import mmap

    base: object = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    return False


# -- success -------------------------------------------------------------------------


async def test_big_arguments_and_results_round_trip_through_shared_memory() -> None:
    blob = os.urandom(BIG)
    array = np.random.default_rng(1).random(BIG // 8)
    async with offload.Pool("process", max_workers=1) as pool:
        assert await pool.run(echo, blob) == blob
        assert await pool.run(describe, blob) == (BIG, blob[0], "bytes")
        result = await pool.run(echo, array)
        np.testing.assert_array_equal(result, array)
        assert owns_shared_memory(result)  # the parent views the worker's segment
        made = await pool.run(big_array, BIG // 8)
        assert owns_shared_memory(made)
        assert await pool.run(my_unkept_segments) == []


async def test_small_values_are_untouched() -> None:
    async with offload.Pool("process", max_workers=1) as pool:
        assert await pool.run(echo, [1, "two", b"three"]) == [1, "two", b"three"]


async def test_transfer_in_process_and_thread_pools() -> None:
    small = np.arange(10, dtype=np.int32)
    async with offload.Pool("process", max_workers=1) as pool:
        assert await pool.run(arrived_shared, offload.transfer(small))
        assert not await pool.run(arrived_shared, small)  # small: through the pipe
        assert not await pool.run(is_marked, offload.transfer(b"x"))
        back = await pool.run(transferred_back, 5)
        assert owns_shared_memory(back)
    async with offload.Pool("thread", max_workers=1) as pool:
        assert not await pool.run(is_marked, offload.transfer(b"x"))
        assert not await pool.run(is_marked, [offload.transfer(b"x")])
        back = await pool.run(transferred_back, 5)
        np.testing.assert_array_equal(back, np.arange(5, dtype=np.int32))


async def test_shared_array_is_read_and_written_by_workers_without_copies() -> None:
    async with offload.Pool("process", max_workers=2) as pool:
        with offload.SharedArray(BIG // 8, "float64") as shared:
            shared.array[:] = 1.0
            sums = await asyncio.gather(*(pool.run(shared_sum, shared) for _ in range(4)))
            assert sums == [float(BIG // 8)] * 4
            await asyncio.gather(*(pool.run(shared_fill, shared, i, -1.0) for i in range(10)))
            assert list(shared.array[:10]) == [-1.0] * 10


def fill_view(view: np.ndarray, value: float) -> np.ndarray:
    view[:] = value
    return view[:2]


async def test_views_of_a_shared_array_are_shared_both_ways() -> None:
    async with offload.Pool("process", max_workers=2) as pool:
        with offload.SharedArray((8, 1000), "float64") as shared:
            rows = await asyncio.gather(
                *(pool.run(fill_view, shared.array[i], float(i)) for i in range(8))
            )
            assert [float(row.sum()) for row in shared.array] == [i * 1000.0 for i in range(8)]
            rows[3][0] = -1.0  # the returned views are the shared memory too
            assert shared.array[3, 0] == -1.0


async def test_shared_counter_counts_exactly_across_workers() -> None:
    async with offload.Pool("process", max_workers=2) as pool:
        with offload.SharedCounter() as counter:
            await asyncio.gather(*(pool.run(count, counter, 50) for _ in range(6)))
            assert counter.value == 300


# -- every other outcome releases the segments ----------------------------------------


async def test_task_failure_releases() -> None:
    async with offload.Pool("process", max_workers=1) as pool:
        with pytest.raises(ValueError, match="on purpose"):
            await pool.run(fail_with, b"x" * BIG)


async def test_worker_crash_releases_the_argument() -> None:
    async with offload.Pool("process", max_workers=1) as pool:
        with pytest.raises(offload.WorkerCrashed):
            await pool.run(crash_with, b"x" * BIG)
        assert await pool.run(describe, b"y" * BIG) == (BIG, ord("y"), "bytes")


async def test_worker_dying_after_writing_its_result_leaves_nothing() -> None:
    async with offload.Pool("process", max_workers=1) as pool:
        with pytest.raises(offload.WorkerCrashed):
            await pool.run(crash_after_writing_result)


async def test_cancel_of_running_and_queued_tasks_releases() -> None:
    async with offload.Pool("process", max_workers=1) as pool:
        running = pool.submit(sleep_with, b"r" * BIG, 30)
        queued = [pool.submit(sleep_with, b"q" * BIG, 30) for _ in range(3)]
        await asyncio.sleep(0.3)
        for handle in [running, *queued]:
            handle.cancel()
        for handle in [running, *queued]:
            with pytest.raises(asyncio.CancelledError):
                await handle


async def test_timeout_releases() -> None:
    async with offload.Pool("process", max_workers=1) as pool:
        with pytest.raises(offload.TaskTimeout):
            await pool.run(sleep_with, b"t" * BIG, 30, timeout=0.3)


async def test_force_close_with_tasks_in_flight_releases() -> None:
    pool = offload.Pool("process", max_workers=1)
    handles = [pool.submit(sleep_with, b"c" * BIG, 30) for _ in range(3)]
    await asyncio.sleep(0.3)
    await pool.close(force=True)
    for handle in handles:
        with pytest.raises((asyncio.CancelledError, offload.ClosedError, offload.WorkerCrashed)):
            await handle


async def test_out_of_shared_memory_falls_back_to_the_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    async with offload.Pool("process", max_workers=1) as pool:
        await pool.run(echo, None)  # the worker is forked before the patch
        monkeypatch.setattr(os, "posix_fallocate", full)
        blob = os.urandom(BIG)
        assert await pool.run(describe, blob) == (BIG, blob[0], "bytes")


def test_works_under_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> None:
        async with offload.Pool("process", max_workers=1) as pool:
            array = np.arange(BIG // 8)
            np.testing.assert_array_equal(await pool.run(echo, array), array)

    uvloop.run(main())


KILLED_APP = r"""
import asyncio, os, sys, time
import numpy as np
import offload

def hold(value, shared):
    time.sleep(60)

async def main():
    async with offload.Pool("process", max_workers=2) as pool:
        shared = offload.SharedArray(1 << 18)
        tasks = [pool.submit(hold, b"x" * (2 << 20), shared) for _ in range(2)]
        await asyncio.sleep(1.0)
        print("ready", flush=True)
        await asyncio.gather(*tasks)

asyncio.run(main())
"""


def test_segments_are_removed_after_the_application_is_killed() -> None:
    with killed_app(KILLED_APP) as app:
        assert _shm.list_segments(app.pid), "the app should hold segments by now"
        workers = psutil_children(app.pid)
    assert_segments_removed(app.pid)
    for pid in workers:  # the template takes its workers down with it
        assert wait_gone(pid)


def psutil_children(pid: int) -> list[int]:
    import psutil

    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def wait_gone(pid: int) -> bool:
    import psutil

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("kind", ["array", "buffer"])
async def test_a_closed_shared_object_passed_to_a_task_raises_closed_error(kind: str) -> None:
    make: Any = offload.SharedArray if kind == "array" else offload.SharedBuffer
    async with offload.Pool("process", max_workers=1) as pool:
        shared = make(64)
        shared.close()
        with pytest.raises(offload.ClosedError, match="is closed"):
            await pool.run(echo, shared)
        with pytest.raises(offload.ClosedError, match="is closed"):
            await pool.run(echo, [np.zeros(BIG // 8), {"shared": shared}])
        assert await pool.run(echo, 1) == 1
