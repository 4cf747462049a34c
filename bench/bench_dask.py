"""Pool(kind="dask") against a bare distributed.Client on the same LocalCluster.

In one run, on one LocalCluster of 2 worker processes (one thread each): tiny-task
throughput (all tasks submitted at once, then every result collected), sequential round
trip p50/p99 (the two Dask contenders' calls interleaved one by one, so they see the
same load),
and CPU-bound tasks of about 100 ms on 1 and on 2 workers (best of rounds in alternating
order). The process pool's figures for the same tiny task are printed next to them: the
per-task cost that decides which kind a workload belongs on. Throughput is the best of
three rounds run in alternating order.
Run: ``python bench/bench_dask.py`` (add ``--quick`` for a smaller run).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import distributed

import offload
from _common import burn, fmt_time, percentile, table, tiny

_HERE = os.path.dirname(os.path.abspath(__file__))
_PYTHONPATH = os.environ.get("PYTHONPATH", "")
QUICK = "--quick" in sys.argv
WORKERS = 2
TASKS = 300 if QUICK else 1000
ROUND_TRIPS = 60 if QUICK else 200
CPU_TASKS = 8 if QUICK else 12
ROUNDS = 3
CPU_ROUNDS = 3 if QUICK else 5


def calibrate(seconds: float) -> int:
    """The ``n`` for which ``burn(n)`` takes about ``seconds`` here (best of three)."""
    n = 100_000
    best = min(_timed(burn, n) for _ in range(3))
    return max(1, round(n * seconds / best))


def _timed(fn: Callable[[int], object], n: int) -> float:
    started = time.perf_counter()
    fn(n)
    return time.perf_counter() - started


Run = Callable[..., Awaitable[Any]]


async def throughput(run_all: Callable[[int], Awaitable[list[Any]]]) -> float:
    started = time.perf_counter()
    results = await run_all(TASKS)
    elapsed = time.perf_counter() - started
    assert len(results) == TASKS
    return TASKS / elapsed


_CLUSTER_MAIN = """
import sys
import distributed

cluster = distributed.LocalCluster(
    n_workers=int(sys.argv[1]), threads_per_worker=1, processes=True,
    host="127.0.0.1", dashboard_address=":0",
)
print(cluster.scheduler_address, flush=True)
sys.stdin.read()
cluster.close()
"""


async def main() -> None:
    # The cluster runs in a process of its own, as a real one would: its scheduler does
    # not share this process's interpreter lock with the clients being measured.
    cluster = subprocess.Popen(
        [sys.executable, "-c", _CLUSTER_MAIN, str(WORKERS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        # The workers import the tasks from _common, like a cluster with the code installed.
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (_HERE, _PYTHONPATH)))},
    )
    assert cluster.stdout is not None
    assert cluster.stdin is not None
    address = cluster.stdout.readline().strip()
    client = await distributed.Client(address, asynchronous=True)
    pool = offload.Pool("dask", address=address, max_workers=WORKERS)
    process_pool = offload.Pool("process", max_workers=WORKERS, min_workers=WORKERS)
    try:

        async def bare_all(n: int) -> list[Any]:
            return await client.gather(client.map(tiny, range(n), pure=False))  # type: ignore[no-any-return]

        async def bare_call(fn: Callable[..., Any], *args: Any) -> Any:
            return await client.submit(fn, *args, pure=False)

        def pool_all(p: offload.Pool) -> Callable[[int], Awaitable[list[Any]]]:
            async def run_all(n: int) -> list[Any]:
                return await asyncio.gather(*(p.run(tiny, i) for i in range(n)))

            return run_all

        # warm up: workers import what they run, connections open
        await bare_all(50)
        await pool_all(pool)(50)
        await pool_all(process_pool)(50)

        tput: dict[str, float] = {}
        p50: dict[str, float] = {}
        p99: dict[str, float] = {}
        contenders: list[tuple[str, Callable[[int], Awaitable[list[Any]]], Run]] = [
            ("distributed.Client", bare_all, bare_call),
            ('Pool(kind="dask")', pool_all(pool), pool.run),
            ('Pool(kind="process")', pool_all(process_pool), process_pool.run),
        ]
        for round_ in range(ROUNDS):
            order = contenders if round_ % 2 == 0 else contenders[::-1]
            for name, run_all, _ in order:
                tput[name] = max(tput.get(name, 0.0), await throughput(run_all))
        # Round trips of the two Dask contenders interleaved one by one, so that both see
        # the same load; then the process pool's on their own.
        samples: dict[str, list[float]] = {name: [] for name, _, _ in contenders}
        pair = contenders[:2]
        for i in range(ROUND_TRIPS * ROUNDS):
            for name, _, call in pair if i % 2 == 0 else pair[::-1]:
                started = time.perf_counter()
                await call(tiny, i)
                samples[name].append(time.perf_counter() - started)
        name, _, call = contenders[2]
        for i in range(ROUND_TRIPS * ROUNDS):
            started = time.perf_counter()
            await call(tiny, i)
            samples[name].append(time.perf_counter() - started)
        for name, values in samples.items():
            p50[name] = percentile(values, 50)
            p99[name] = percentile(values, 99)

        bare = "distributed.Client"
        rows = [
            [
                name,
                f"{tput[name]:,.0f}/s",
                fmt_time(1 / tput[name]),
                f"{tput[name] / tput[bare]:.2f}x",
                fmt_time(p50[name]),
                fmt_time(p99[name]),
                f"{p50[name] / p50[bare]:.2f}x",
            ]
            for name, _, _ in contenders
        ]
        print(
            table(
                f"tiny tasks, {WORKERS} workers: {TASKS} at once, then {ROUND_TRIPS} one by one",
                [
                    "",
                    "throughput",
                    "per task",
                    "vs bare client",
                    "round trip p50",
                    "p99",
                    "p50 vs bare client",
                ],
                rows,
            )
        )

        # CPU-bound: ~100 ms tasks on 1 and on 2 Dask workers (slots) of the cluster
        n = calibrate(0.1)
        timings: dict[int, float] = {}
        for round_ in range(CPU_ROUNDS):
            for workers in (1, 2) if round_ % 2 == 0 else (2, 1):  # alternating order
                async with offload.Pool("dask", address=address, max_workers=workers) as p:
                    await asyncio.gather(*(p.run(burn, 1000) for _ in range(workers)))
                    started = time.perf_counter()
                    await asyncio.gather(*(p.run(burn, n) for _ in range(CPU_TASKS)))
                    elapsed = time.perf_counter() - started
                timings[workers] = min(timings.get(workers, float("inf")), elapsed)
        print(
            table(
                f"CPU-bound: {CPU_TASKS} tasks of 100 ms through Pool(kind='dask')",
                ["workers", "wall time", "speed-up"],
                [
                    ["1", fmt_time(timings[1]), "1.00x"],
                    ["2", fmt_time(timings[2]), f"{timings[1] / timings[2]:.2f}x"],
                ],
            )
        )
    finally:
        await pool.close()
        await process_pool.close()
        await client.close()
        cluster.stdin.close()
        cluster.wait(30)


if __name__ == "__main__":
    asyncio.run(main())
