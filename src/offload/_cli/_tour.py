"""``offload tour``: each feature, working, in a few lines each."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import time
from collections.abc import Generator
from typing import Any

from offload._cancel import CancelToken


async def _cancel_token() -> None:
    token = CancelToken.after(0.05)
    reason = await token.wait()
    print(f"CancelToken.after(0.05) fired: {reason!r}")


async def _subset_sum() -> None:
    import offload
    from offload._cli._demo._subset_sum import report_matches

    # What `offload demo` serves over HTTP: a search in a worker, matches streamed back.
    async with offload.Pool("process", max_workers=1) as pool:
        handle = pool.submit(report_matches, [3, -1, 4, 1, 5], 4, 10)
        found = [match async for match in handle.progress()]
        print(f"subset-sum in a worker process: {found}, {await handle} matches")
    print("`offload demo` serves it with a live page; `offload demo --compare` measures it")


def _crash(code: int) -> None:
    import os

    os._exit(code)


def _spin(seconds: float) -> str:
    import time

    time.sleep(seconds)
    return "finished"


async def _pool() -> None:
    import offload

    # A crash fails one task, a timeout kills and replaces its worker, the pool goes on.
    async with offload.Pool("process", max_workers=2) as pool:
        squares = [x async for x in pool.map(abs, range(-5, 0))]
        print(f"Pool.map in 2 worker processes: {squares}")
        try:
            await pool.run(_crash, 3)
        except offload.WorkerCrashed as exc:
            print(f"a worker died: {exc}")
        try:
            await pool.run(_spin, 30, timeout=0.2)
        except offload.TaskTimeout:
            print("a 30 s task with timeout=0.2 was stopped; its worker was replaced")
        print(f"the pool goes on: {await pool.run(abs, -42)}; {pool.stats().crashed} crash")


def _row_sum(shared: object, row: int) -> float:
    return float(shared.array[row].sum())  # type: ignore[attr-defined]


def _nbytes(blob: bytes) -> int:
    return len(blob)


async def _shared_memory() -> None:
    import offload

    # Big arguments go through shared memory on their own; a SharedArray is never copied.
    async with offload.Pool("process", max_workers=2) as pool:
        size = await pool.run(_nbytes, bytes(32 << 20))
        print(f"32 MB of bytes to a worker through shared memory: {size} bytes arrived")
        if importlib.util.find_spec("numpy") is None:
            print("(install NumPy to see SharedArray)")
            return
        with offload.SharedArray((4, 1_000_000), "float64") as shared:
            shared.array[:] = 1.0
            sums = await asyncio.gather(*(pool.run(_row_sum, shared, r) for r in range(4)))
            print(f"4 tasks read one 32 MB SharedArray in place: row sums {sums}")


async def _recipes() -> None:
    import offload

    calls: list[int] = []

    @offload.cached(ttl=60)
    async def get_user(user_id: int) -> str:
        calls.append(user_id)
        await asyncio.sleep(0.01)
        return f"user {user_id}"

    await asyncio.gather(*(get_user(1) for _ in range(1000)))
    await get_user(1)
    info = get_user.info()
    print(
        f"offload.cached: 1001 calls, {len(calls)} backend call "
        f"(misses={info.misses}, coalesced={info.coalesced}, hits={info.hits})"
    )

    async def users_by_id(ids: list[int]) -> list[str | Exception]:
        return [f"user {i}" if i > 0 else KeyError(i) for i in ids]

    users = offload.Batcher(users_by_id)
    found = await users.load_all([1, 2, 3, -1], return_exceptions=True)
    print(f"offload.Batcher: 4 loads, one load_many call -> {found}")


def _sum_of_squares(n: int) -> Generator[None, None, int]:
    total = 0
    for i in range(n):
        total += i * i
        yield
    return total


def _blocking_call() -> None:
    time.sleep(0.1)


async def _keep_the_loop_free() -> None:
    import offload

    async with offload.monitor.watch(threshold=0.05, log=False) as m:
        total = await offload.interleave(_sum_of_squares(300_000), budget=0.005)
        lag = m.stats().lag_p99 * 1e3
        print(f"interleave: CPU work in 5 ms slices = {total}; loop lag p99 {lag:.1f} ms")
        _blocking_call()  # the mistake the monitor is there to catch
        await asyncio.sleep(0.02)
    for block in m.blocks:
        print(f"monitor: {block}")

    @offload.cancelable
    def poll_forever() -> Generator[Any, Any, None]:
        try:
            while True:
                yield asyncio.sleep(0.01)
        finally:
            print("cancelable: its finally block ran")

    call = poll_forever()
    await asyncio.sleep(0.03)
    call.cancel("enough polling")
    try:
        await call
    except offload.Cancelled as exc:
        print(f"cancelable: {exc}")


def _double_each() -> None:
    import offload

    for number in offload.parent:
        offload.parent.send(number * 2)


async def _programs() -> None:
    import offload

    # Programs: argv lists, a timeout that ends the whole process group, rich errors.
    result = await offload.run(["uname", "-sr"], text=True)
    print(f"offload.run: {str(result.stdout).strip()!r} in {result.duration * 1e3:.1f} ms")
    try:
        await offload.run(["sh", "-c", "sleep 30 & sleep 30"], timeout=0.2)
    except offload.ProcessFailed as exc:
        print(f"timeout: {exc.argv[-1]!r} timed_out={exc.timed_out}, its group is gone")
    script = "for i in 1 2 3; do echo line $i; done"
    async with offload.spawn(["sh", "-c", script], text=True) as proc:
        assert proc.stdout is not None
        lines = [line async for line in proc.stdout.lines()]
        print(f"offload.spawn streamed {lines}, exit {await proc.wait()}")
    piped = await offload.pipe(["printf", "b\\na\\nb\\n"], ["sort", "-u"], text=True)
    print(f"offload.pipe(printf, sort -u): {str(piped.stdout).split()}")
    async with offload.fork(_double_each) as child:
        await child.send(21)
        print(f"offload.fork: a Python child doubled 21 -> {await child.recv()}")


async def _tour() -> None:
    await _cancel_token()
    await _keep_the_loop_free()
    await _recipes()
    await _pool()
    await _subset_sum()
    await _shared_memory()
    await _programs()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``offload tour`` takes no options."""


def run(args: argparse.Namespace) -> int:
    """Run every section of the tour; return the exit status."""
    asyncio.run(_tour())
    return 0
