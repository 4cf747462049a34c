"""Recipes: the cost of a cache hit, a cold-key stampede, and batching.

1. One cache hit of ``offload.cached`` next to a bare ``await`` of a trivial coroutine,
   ``async_lru.alru_cache`` and ``aiocache.cached`` (all with a TTL, same run, rounds
   interleaved, best round kept: the least disturbed measure of each).
2. 10,000 concurrent callers on one cold key: how many backend calls each makes.
3. ``offload.Batcher`` against unbatched loads, on a simulated database with one
   connection (0.5 ms per query plus 5 µs per key).

Run: ``python bench/bench_recipes.py`` (about 20 s).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiocache import cached as aiocache_cached
from async_lru import alru_cache

import offload
from _common import fmt_time, table

ROUNDS = 15
HITS_PER_ROUND = 20_000


async def trivial(x: int) -> int:
    return x


async def per_hit(fn: Callable[[int], Awaitable[Any]], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await fn(1)
    return (time.perf_counter() - start) / n


async def hit_costs() -> None:
    @offload.cached(ttl=60)
    async def offload_ttl(x: int) -> int:
        return x

    @offload.cached()
    async def offload_no_ttl(x: int) -> int:
        return x

    @alru_cache(maxsize=1024, ttl=60)
    async def alru(x: int) -> int:
        return x

    @aiocache_cached(ttl=60)
    async def aiocache_fn(x: int) -> int:
        return x

    variants: dict[str, Callable[[int], Awaitable[Any]]] = {
        "bare await of a coroutine": trivial,
        "offload.cached(ttl=60)": offload_ttl,
        "offload.cached() (no TTL)": offload_no_ttl,
        "async_lru.alru_cache(ttl=60)": alru,
        "aiocache.cached(ttl=60)": aiocache_fn,
    }
    for fn in variants.values():
        await fn(1)  # warm: the value is cached
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(ROUNDS):
        for name, fn in variants.items():
            n = HITS_PER_ROUND // 10 if name.startswith("aiocache") else HITS_PER_ROUND
            best[name] = min(best[name], await per_hit(fn, n))
    bare = best["bare await of a coroutine"]
    alru_cost = best["async_lru.alru_cache(ttl=60)"]
    rows = [
        [name, fmt_time(cost), f"{cost / bare:.2f}x", f"{cost / alru_cost:.2f}x"]
        for name, cost in best.items()
    ]
    print(
        table(
            "Cost of one cache hit (best of rounds)",
            ["variant", "per call", "vs bare await", "vs async-lru"],
            rows,
        )
    )


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
    asyncio.run(main())
    sys.exit(0)
