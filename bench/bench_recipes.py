"""Recipes: the cost of a cache hit (on each Python given), a cold-key stampede, batching.

1. One cache hit of ``offload.cached`` next to a bare ``await`` of a trivial coroutine,
   ``async_lru.alru_cache`` and ``aiocache.cached``, in one run. Each variant is called
   over 500 distinct keys, all cached, so every hit also moves its key in the LRU
   order. A round times every variant once, in alternating order (forward, then
   backward). Two ways of reading the rounds are reported, side by side, because they
   differ: the median over rounds of (variant's time / bare await's time in that same
   round), which cancels the machine's drift between rounds, and best of rounds (a
   variant's best time over the bare await's best time). A coroutine that does nothing
   but one dict lookup is measured too: the least a hit can cost on Python 3.12+, where
   a hit must be a coroutine call.
2. 10,000 concurrent callers on one cold key: how many backend calls each makes.
3. ``offload.Batcher`` against unbatched loads, on a simulated database with one
   connection (0.5 ms per query plus 5 µs per key).

Run: ``python bench/bench_recipes.py`` (about 10 s), or, for the hit costs on several
Pythons in one run (each needs offload, async-lru and aiocache installed)::

    python bench/bench_recipes.py --hits PYTHON [PYTHON ...]
"""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiocache import cached as aiocache_cached
from async_lru import alru_cache

import offload
from _common import fmt_time, table

ROUNDS = 30
KEYS = list(range(500))
PASSES = 10  # hits per round = PASSES * len(KEYS)
TARGET = 1.5  # a hit at most this many times a bare await
BARE = "bare await of a coroutine"
ALRU = "async_lru.alru_cache(ttl=60)"


async def trivial(x: int) -> int:
    return x


FLOOR = "floor: a coroutine doing only d[x]"
_table = {key: key for key in KEYS}


async def lookup_only(x: int) -> int:
    """What no cache hit can beat on 3.12+: a coroutine call plus one dict lookup."""
    return _table[x]


async def per_hit(fn: Callable[[int], Awaitable[Any]], passes: int) -> float:
    keys = KEYS
    start = time.perf_counter()
    for _ in range(passes):
        for key in keys:
            await fn(key)
    return (time.perf_counter() - start) / (passes * len(keys))


class Repository:
    @offload.cached(ttl=60)
    async def get(self, x: int) -> int:
        return x


class AlruRepository:
    @alru_cache(maxsize=1024, ttl=60)
    async def get(self, x: int) -> int:
        return x


async def per_method_hit(repo: Repository | AlruRepository, passes: int) -> float:
    keys = KEYS
    start = time.perf_counter()
    for _ in range(passes):
        for key in keys:
            await repo.get(key)  # binds the method on every call, as callers do
    return (time.perf_counter() - start) / (passes * len(keys))


async def measure_hits() -> dict[str, list[float]]:
    """Per-hit times of every variant, one list entry per round."""

    @offload.cached(ttl=60)
    async def offload_ttl(x: int) -> int:
        return x

    @offload.cached(ttl=60, resolution=0)
    async def offload_exact(x: int) -> int:
        return x

    @offload.cached()
    async def offload_no_ttl(x: int) -> int:
        return x

    @offload.cached(ttl=60)
    async def offload_two(x: int, y: int = 0) -> int:
        return x

    @alru_cache(maxsize=1024, ttl=60)
    async def alru(x: int) -> int:
        return x

    @aiocache_cached(ttl=60)
    async def aiocache_fn(x: int) -> int:
        return x

    repo = Repository()
    functions: dict[str, Callable[[int], Awaitable[Any]]] = {
        BARE: trivial,
        FLOOR: lookup_only,
        "offload.cached(ttl=60)": offload_ttl,
        "offload.cached(ttl=60, resolution=0)": offload_exact,
        "offload.cached() (no TTL)": offload_no_ttl,
        "offload.cached(ttl=60), f(x, y=0) called f(x)": offload_two,
        ALRU: alru,
        "aiocache.cached(ttl=60)": aiocache_fn,
    }
    methods: dict[str, Repository | AlruRepository] = {
        "offload.cached(ttl=60) on a method, obj.get(x)": repo,
        "async_lru.alru_cache(ttl=60) on a method, obj.get(x)": AlruRepository(),
    }
    for fn in functions.values():
        for key in KEYS:
            await fn(key)  # warm: every key is cached
    for obj in methods.values():
        for key in KEYS:
            await obj.get(key)
    names = [*functions, *methods]
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(ROUNDS):
        for name in names if round_number % 2 == 0 else names[::-1]:
            passes = 1 if name.startswith("aiocache") else PASSES
            if name in methods:
                times[name].append(await per_method_hit(methods[name], passes))
            else:
                times[name].append(await per_hit(functions[name], passes))
    return times


def hit_rows(times: dict[str, list[float]]) -> list[list[str]]:
    def ratio(name: str, base: str) -> float:
        return statistics.median(a / b for a, b in zip(times[name], times[base], strict=True))

    return [
        [
            name,
            fmt_time(min(times[name])),
            f"{ratio(name, BARE):.2f}x",
            f"{min(times[name]) / min(times[BARE]):.2f}x",
            f"{ratio(name, ALRU):.2f}x",
        ]
        for name in times
    ]


HIT_HEADER = [
    "variant",
    "per call (best)",
    "vs bare await (median of rounds)",
    "vs bare await (best of rounds)",
    "vs async-lru (median of rounds)",
]


async def hit_costs() -> None:
    times = await measure_hits()
    print(
        table(
            f"Cost of one cache hit, Python {platform.python_version()} "
            f"({ROUNDS} rounds, {len(KEYS)} keys)",
            HIT_HEADER,
            hit_rows(times),
        )
    )
    print(f"Target: offload.cached hit <= {TARGET}x a bare await and < 0.5x async-lru's hit.\n")


def hits_on(pythons: list[str]) -> int:
    """The hit-cost table of each Python in turn (run one after the other), then a summary."""
    summary = []
    for python in pythons:
        done = subprocess.run(
            [python, str(Path(__file__).resolve()), "--hits-json"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(f"{python}: failed\n{done.stderr}")
            return 1
        result = json.loads(done.stdout)
        times: dict[str, list[float]] = result["times"]
        rows = hit_rows(times)
        print(
            table(
                f"Cost of one cache hit, Python {result['version']} "
                f"({ROUNDS} rounds, {len(KEYS)} keys)",
                HIT_HEADER,
                rows,
            )
        )
        for row in rows:
            if row[0].startswith("offload"):
                median, best = float(row[2][:-1]), float(row[3][:-1])
                met = "yes" if max(median, best) <= TARGET else "no"
                summary.append([result["version"], row[0], row[2], row[3], met])
    print(
        table(
            f"offload.cached hit vs a bare await (target <= {TARGET}x)",
            ["Python", "variant", "median of rounds", "best of rounds", "met"],
            summary,
        )
    )
    return 0


async def stampede() -> None:
    async def backend_factory() -> tuple[Callable[[str], Awaitable[str]], list[str]]:
        calls: list[str] = []

        async def backend(key: str) -> str:
            calls.append(key)
            await asyncio.sleep(0.01)
            return key

        return backend, calls

    rows = []
    for name, decorate in (
        ("offload.cached(ttl=60)", offload.cached(ttl=60)),
        ("offload.coalesce", offload.coalesce),
        ("async_lru.alru_cache(ttl=60)", alru_cache(maxsize=1024, ttl=60)),
        ("aiocache.cached(ttl=60)", aiocache_cached(ttl=60)),
    ):
        backend, calls = await backend_factory()
        fn: Any = decorate(backend)
        start = time.perf_counter()
        await asyncio.gather(*(fn("cold") for _ in range(10_000)))
        rows.append([name, len(calls), fmt_time(time.perf_counter() - start)])
    print(
        table(
            "10,000 concurrent callers on one cold key",
            ["variant", "backend calls", "wall time"],
            rows,
        )
    )


class Database:
    """One connection: queries run one at a time, 0.5 ms each plus 5 µs per key."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.queries = 0

    async def query(self, keys: list[int]) -> list[str]:
        async with self.lock:
            self.queries += 1
            await asyncio.sleep(0.0005 + 0.000005 * len(keys))
            return [f"row{k}" for k in keys]


async def batching() -> None:
    n = 1000
    rows = []

    db = Database()

    async def one(key: int) -> str:
        return (await db.query([key]))[0]

    start = time.perf_counter()
    await asyncio.gather(*(one(k) for k in range(n)))
    unbatched = time.perf_counter() - start
    rows.append(["unbatched: one query per load", db.queries, fmt_time(unbatched), "1.00x"])

    db = Database()
    batcher = offload.Batcher(db.query, max_batch=None, cache=False)
    start = time.perf_counter()
    await asyncio.gather(*(batcher.load(k) for k in range(n)))
    batched = time.perf_counter() - start
    rows.append(["offload.Batcher", db.queries, fmt_time(batched), f"{unbatched / batched:.1f}x"])

    db = Database()
    batcher = offload.Batcher(db.query, max_batch=100, cache=False)
    start = time.perf_counter()
    await asyncio.gather(*(batcher.load(k) for k in range(n)))
    batched = time.perf_counter() - start
    rows.append(
        [
            "offload.Batcher(max_batch=100)",
            db.queries,
            fmt_time(batched),
            f"{unbatched / batched:.1f}x",
        ]
    )
    print(
        table(
            f"{n} concurrent loads, one-connection database",
            ["variant", "queries", "wall time", "speed-up"],
            rows,
        )
    )


async def main() -> None:
    await hit_costs()
    await stampede()
    await batching()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--hits-json"]:
        measured = asyncio.run(measure_hits())
        print(json.dumps({"version": platform.python_version(), "times": measured}))
    elif sys.argv[1:2] == ["--hits"]:
        sys.exit(hits_on(sys.argv[2:] or [sys.executable]))
    else:
        asyncio.run(main())
    sys.exit(0)
