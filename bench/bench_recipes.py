"""Recipes: the cost of a cache hit, a cold-key stampede, and batching.

1. One cache hit of ``offload.cached`` next to a bare ``await`` of a trivial coroutine,
   ``async_lru.alru_cache`` and ``aiocache.cached``, in one run. Each variant is called
   over 500 distinct keys, all cached, so every hit also moves its key in the LRU
   order. A round times every variant once, in alternating order (forward, then
   backward); the ratio of a round is a variant's time over the bare await's time in
   that same round, and the table shows the median ratio over all rounds (the
   machine's speed drifts between rounds, a ratio within one round much less) next to
   the best time of each variant.
2. 10,000 concurrent callers on one cold key: how many backend calls each makes.
3. ``offload.Batcher`` against unbatched loads, on a simulated database with one
   connection (0.5 ms per query plus 5 µs per key).

Run: ``python bench/bench_recipes.py`` (about 10 s).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiocache import cached as aiocache_cached
from async_lru import alru_cache

import offload
from _common import fmt_time, table

ROUNDS = 30
KEYS = list(range(500))
PASSES = 10  # hits per round = PASSES * len(KEYS)


async def trivial(x: int) -> int:
    return x


async def per_hit(fn: Callable[[int], Awaitable[Any]], passes: int) -> float:
    keys = KEYS
    start = time.perf_counter()
    for _ in range(passes):
        for key in keys:
            await fn(key)
    return (time.perf_counter() - start) / (passes * len(keys))


async def hit_costs() -> None:
    @offload.cached(ttl=60)
    async def offload_ttl(x: int) -> int:
        return x

    @offload.cached(ttl=60, resolution=0)
    async def offload_exact(x: int) -> int:
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

    bare_name, alru_name = "bare await of a coroutine", "async_lru.alru_cache(ttl=60)"
    variants: dict[str, Callable[[int], Awaitable[Any]]] = {
        bare_name: trivial,
        "offload.cached(ttl=60)": offload_ttl,
        "offload.cached(ttl=60, resolution=0)": offload_exact,
        "offload.cached() (no TTL)": offload_no_ttl,
        alru_name: alru,
        "aiocache.cached(ttl=60)": aiocache_fn,
    }
    for fn in variants.values():
        for key in KEYS:
            await fn(key)  # warm: every key is cached
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(ROUNDS):
        for name in names if round_number % 2 == 0 else names[::-1]:
            passes = 1 if name.startswith("aiocache") else PASSES
            times[name].append(await per_hit(variants[name], passes))

    def ratio(name: str, base: str) -> float:
        return statistics.median(a / b for a, b in zip(times[name], times[base], strict=True))

    rows = [
        [
            name,
            fmt_time(min(times[name])),
            f"{ratio(name, bare_name):.2f}x",
            f"{min(times[name]) / min(times[bare_name]):.2f}x",
            f"{ratio(name, alru_name):.2f}x",
        ]
        for name in names
    ]
    print(
        table(
            f"Cost of one cache hit ({ROUNDS} rounds, {len(KEYS)} keys)",
            [
                "variant",
                "per call (best)",
                "vs bare await (median of rounds)",
                "vs bare await (best/best)",
                "vs async-lru (median of rounds)",
            ],
            rows,
        )
    )
    print("Target: offload.cached hit <= 1.5x a bare await and < 0.5x async-lru's hit.\n")


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
