"""Process pool throughput of tiny tasks, for comparing two versions of offload (A/B).

Not one of the ``bench_*`` scripts that ``make bench`` runs: it measures one version,
the one Python imports, so that the same script runs against an older checkout's
sources (``PYTHONPATH=OLD/src python bench/pool_ab.py``; it prints which it imported).

Three shapes on a process pool of 2 workers, each run ``--reps`` times in one process:

- ``run``: 64 lanes, each awaiting ``pool.run(tiny, i)`` one after the other
  (``--n`` tasks in all, rounded down to a multiple of 64);
- ``map``: ``pool.map`` over ``2 * --n`` items (its default window: 4 in flight);
- ``submit``: ``--n`` handles from ``pool.submit`` in one burst, then awaited.

One line per shape and repetition: tasks/s and the parent's CPU time per task. On a
shared machine the CPU time per task is the steadier figure; for a deterministic one,
count the parent's instructions (``valgrind --tool=callgrind --trace-children=no``,
workers untraced) at ``--reps 1`` and ``--reps 3``: the difference divided by twice the
tasks of one repetition is the parent's cost per task, start-up left out.

Run: ``python bench/pool_ab.py [--shape run|map|submit|all] [--n 10000] [--reps 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

import offload
from _common import tiny

LANES = 64
WORKERS = 2


async def shape_run(pool: offload.Pool, n: int) -> int:
    per = n // LANES

    async def lane(base: int) -> None:
        for i in range(base, base + per):
            assert await pool.run(tiny, i) == i

    await asyncio.gather(*[lane(k * per) for k in range(LANES)])
    return per * LANES


async def shape_map(pool: offload.Pool, n: int) -> int:
    count = 0
    async for _ in pool.map(tiny, range(2 * n)):
        count += 1
    assert count == 2 * n
    return count


async def shape_submit(pool: offload.Pool, n: int) -> int:
    handles = [pool.submit(tiny, i) for i in range(n)]
    for i, handle in enumerate(handles):
        assert await handle == i
    return n


SHAPES: dict[str, Callable[[offload.Pool, int], Awaitable[int]]] = {
    "run": shape_run,
    "map": shape_map,
    "submit": shape_submit,
}


async def main(args: argparse.Namespace) -> None:
    print(f"offload from {offload.__file__}", file=sys.stderr)
    async with offload.Pool("process", max_workers=WORKERS, min_workers=WORKERS) as pool:
        for _ in range(4):  # started, and short tasks measured (pipelining on)
            await asyncio.gather(*[pool.run(tiny, i) for i in range(256)])
        shapes = list(SHAPES) if args.shape == "all" else [args.shape]
        for _ in range(args.reps):
            for name in shapes:
                cpu, wall = time.process_time(), time.perf_counter()
                done = await SHAPES[name](pool, args.n)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                print(
                    f"{name} n={done} wall={wall:.4f} rate={done / wall:.0f}/s "
                    f"cpu_us={1e6 * cpu / done:.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--shape", choices=[*SHAPES, "all"], default="all")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
