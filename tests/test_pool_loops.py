"""A pool belongs to the event loop that started it; close() releases it from anywhere."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import psutil
import pytest
from tests import _pool_helpers as h

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")


def _started_pool() -> tuple[offload.Pool, set[int]]:
    """A process pool used in one asyncio.run, left open; and its processes."""
    pool = offload.Pool(max_workers=1)

    async def first() -> int:
        return await pool.run(h.square, 3)

    assert asyncio.run(first()) == 9
    backend = pool._scheduler.backend
    assert backend is not None
    pids = {w.pid for w in pool._scheduler.workers.values() if w.pid} | {backend.proc.pid}  # type: ignore[attr-defined]
    return pool, pids


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _assert_gone(pids: set[int]) -> None:
    """Killed processes may take a moment to be scheduled and die."""
    deadline = time.monotonic() + 5
    while alive := [pid for pid in pids if _alive(pid)]:
        assert time.monotonic() < deadline, f"still running: {alive}"
        time.sleep(0.01)


def test_every_entry_point_from_a_second_loop_raises_a_clear_error() -> None:
    pool, pids = _started_pool()

    async def second() -> None:
        with pytest.raises(offload.WrongLoopError, match="belongs to the event loop"):
            await pool.run(h.square, 2)
        with pytest.raises(offload.WrongLoopError):
            pool.submit(h.square, 2)
        with pytest.raises(offload.WrongLoopError):
            pool.map(h.square, [1, 2])
        with pytest.raises(offload.WrongLoopError):
            pool.start()
        with pytest.raises(RuntimeError, match="create it inside the loop"):
            pool.executor  # noqa: B018
        await pool.close()

    asyncio.run(second())
    _assert_gone(pids)


def test_close_from_a_second_loop_releases_an_unclosed_pool() -> None:
    pool, pids = _started_pool()
    asyncio.run(pool.close())
    _assert_gone(pids)
    asyncio.run(pool.close())  # twice is fine


def test_close_from_another_thread_closes_the_pool_in_its_own_loop() -> None:
    ready = threading.Event()
    release = threading.Event()
    holder: dict[str, object] = {}

    async def owner() -> None:
        pool = offload.Pool(max_workers=1)
        assert await pool.run(h.square, 4) == 16
        holder["pool"] = pool
        ready.set()
        while not release.is_set():
            await asyncio.sleep(0.01)

    thread = threading.Thread(target=asyncio.run, args=(owner(),))
    thread.start()
    try:
        assert ready.wait(20)
        pool = holder["pool"]
        assert isinstance(pool, offload.Pool)
        backend = pool._scheduler.backend
        assert backend is not None
        pids = {w.pid for w in pool._scheduler.workers.values() if w.pid} | {backend.proc.pid}  # type: ignore[attr-defined]
        asyncio.run(pool.close())
        assert pool._scheduler.closed
        _assert_gone(pids)
    finally:
        release.set()
        thread.join(20)


def test_an_unclosed_pool_is_released_when_garbage_collected() -> None:
    pool, pids = _started_pool()
    del pool
    gc.collect()
    _assert_gone(pids)


def test_a_thread_pool_from_a_second_loop_raises_and_still_closes() -> None:
    pool = offload.Pool("thread", max_workers=2)

    async def first() -> int:
        return await pool.run(h.square, 5)

    assert asyncio.run(first()) == 25

    async def second() -> None:
        with pytest.raises(offload.WrongLoopError):
            await pool.run(h.square, 2)
        await pool.close()

    asyncio.run(second())  # its threads have ended (no_leaks)
