"""Sub-interpreter workers against processes, threads, anyio.to_interpreter and piscina.

On CPython 3.13+, side by side in one run: ``offload.Pool(kind="interpreter")``,
``kind="process"``, ``kind="thread"``, ``anyio.to_interpreter.run_sync`` and Node's
piscina (installed with npm into a temporary directory, removed afterwards; skipped,
saying so, without node or npm). Three figures, each a median over rounds run in
alternating order, ratios taken within each round:

- CPU-bound speed-up: the same burst of pure-Python tasks (~20 ms each) on 2 workers
  against 1 worker (target >= 1.8x for interpreters; threads share one GIL, ~1.0x), and
  the CPUs the Python process used meanwhile (above 1.0 only when its threads really ran
  in parallel: a figure other programs' load lowers but cannot raise);
- tiny-task round trip p50, one task at a time (target <= piscina's);
- tiny-task throughput on 2 workers, many in flight (target >= 2x anyio.to_interpreter).

Run: ``python bench/bench_interpreter.py`` (``--rounds N``, default 5).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import offload
from _common import fmt_time, machine, table
from _interp_tasks import spin, tiny

HERE = Path(__file__).resolve().parent
ROUNDS = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 5
CPU_SECONDS = 0.02  # one CPU-bound task
CPU_TASKS = 8
RTT_N = 300
TPUT_N = 2000
WINDOW = 200

Call = Callable[..., Awaitable[Any]]


def calibrate(seconds: float) -> int:
    """n such that spin(n) takes about ``seconds`` here."""
    n = 10_000
    while True:
        started = time.perf_counter()
        spin(n)
        elapsed = time.perf_counter() - started
        if elapsed > 0.005:
            return max(1, round(n * seconds / elapsed))
        n *= 4


async def burst(call: Call, n: int, count: int) -> tuple[float, float]:
    """Wall time of ``count`` spin(n) tasks, and the CPUs this process used meanwhile
    (its CPU time over that wall time: above 1.0 only if threads ran in parallel)."""
    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(call(spin, n) for _ in range(count)))
    wall = time.perf_counter() - started
    return wall, (time.process_time() - cpu) / wall


async def round_trip_p50(call: Call) -> float:
    samples = []
    for i in range(RTT_N):
        started = time.perf_counter()
        await call(tiny, i)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def throughput(call: Call, count: int) -> float:
    gate = asyncio.Semaphore(WINDOW)

    async def one(i: int) -> None:
        async with gate:
            await call(tiny, i)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return count / (time.perf_counter() - started)


class Contender:
    """One side of the comparison: a 1-worker and a 2-worker ``call(fn, *args)``."""

    name = ""
    tput_n = TPUT_N

    async def start(self) -> tuple[Call, Call]:
        raise NotImplementedError

    async def stop(self) -> None:
        pass

    async def measure(self, n: int) -> dict[str, float]:
        one, two = self.calls
        cpu1, _ = await burst(one, n, CPU_TASKS)
        cpu2, cpus = await burst(two, n, CPU_TASKS)
        rtt = await round_trip_p50(two)
        tput = await throughput(two, self.tput_n)
        return {"cpu1": cpu1, "cpu2": cpu2, "cpus": cpus, "rtt_p50": rtt, "tput": tput}

    calls: tuple[Call, Call]


class OffloadKind(Contender):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = f'offload kind="{kind}"'
        self.pools: list[offload.Pool] = []

    async def start(self) -> tuple[Call, Call]:
        for workers in (1, 2):
            pool = offload.Pool(self.kind, max_workers=workers, min_workers=workers)  # type: ignore[arg-type]
            self.pools.append(pool)
            await asyncio.gather(*(pool.run(tiny, 1) for _ in range(4 * workers)))
            await asyncio.gather(*(pool.run(spin, 1000) for _ in range(2 * workers)))
        return self.pools[0].run, self.pools[1].run

    async def stop(self) -> None:
        for pool in self.pools:
            await pool.close()


class AnyioInterpreter(Contender):
    name = "anyio.to_interpreter"
    tput_n = TPUT_N // 4  # slower: keep the round short

    async def start(self) -> tuple[Call, Call]:
        import anyio
        from anyio import to_interpreter

        def caller(limit: int) -> Call:
            limiter = anyio.CapacityLimiter(limit)

            async def call(fn: Callable[..., Any], *args: Any) -> Any:
                return await to_interpreter.run_sync(fn, *args, limiter=limiter)

            return call

        one, two = caller(1), caller(2)
        for call, workers in ((one, 1), (two, 2)):
            await asyncio.gather(*(call(tiny, 1) for _ in range(4 * workers)))
        return one, two


class Piscina:
    """Node's piscina, in a node process per round (results come back as JSON)."""

    name = "piscina (Node)"

    def __init__(self) -> None:
        self.dir: str | None = None
        self.why_not = ""

    def install(self) -> bool:
        node, npm = shutil.which("node"), shutil.which("npm")
        if node is None or npm is None:
            self.why_not = "node or npm is not installed"
            return False
        self.dir = tempfile.mkdtemp(prefix="bench-piscina-")
        done = subprocess.run(
            [npm, "install", "--prefix", self.dir, "--no-audit", "--no-fund", "piscina"],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if done.returncode != 0:
            self.why_not = f"npm install piscina failed: {done.stderr.strip()[-300:]}"
            return False
        version = json.loads(Path(self.dir, "node_modules", "piscina", "package.json").read_text())[
            "version"
        ]
        node_version = subprocess.check_output([node, "--version"], text=True).strip()
        self.name = f"piscina {version} (Node {node_version})"
        return True

    def measure(self) -> dict[str, float]:
        assert self.dir is not None
        config = {
            "cpu_seconds": CPU_SECONDS,
            "cpu_tasks": CPU_TASKS,
            "rtt_n": RTT_N,
            "tput_n": TPUT_N,
        }
        env = dict(os.environ, NODE_PATH=str(Path(self.dir, "node_modules")))
        out = subprocess.run(
            ["node", str(HERE / "_piscina_bench.js"), json.dumps(config)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
        )
        result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
        return result

    def remove(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


def med(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def ratio(rows: list[dict[str, float]], base: list[dict[str, float]], key: str) -> float:
    """The median over rounds of this round's ``key`` divided by the base's."""
    return statistics.median(a[key] / b[key] for a, b in zip(rows, base, strict=True))


async def main() -> None:
    if sys.version_info < (3, 13):
        print(f"bench_interpreter needs CPython 3.13+ (this is {sys.version.split()[0]}); skipped")
        return
    os.chdir(HERE)  # anyio's sub-interpreters find _interp_tasks through the working dir
    print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.1f}\n")
    n = calibrate(CPU_SECONDS)
    contenders: list[Contender] = [
        OffloadKind("interpreter"),
        OffloadKind("process"),
        OffloadKind("thread"),
        AnyioInterpreter(),
    ]
    for contender in contenders:
        contender.calls = await contender.start()
    piscina = Piscina()
    have_piscina = piscina.install()
    results: dict[str, list[dict[str, float]]] = {c.name: [] for c in contenders}
    results[piscina.name] = []
    try:
        for r in range(ROUNDS):
            # Alternate the order: each contender goes first in some round.
            order: list[Any] = contenders[r % len(contenders) :] + contenders[: r % len(contenders)]
            if have_piscina:
                order.insert(r % (len(order) + 1), piscina)
            for contender in order:
                if contender is piscina:
                    results[piscina.name].append(piscina.measure())
                else:
                    results[contender.name].append(await contender.measure(n))
    finally:
        for contender in contenders:
            await contender.stop()
        piscina.remove()
    names = [c.name for c in contenders] + ([piscina.name] if have_piscina else [])
    load_after = os.getloadavg()[0]

    print(
        table(
            f"CPU-bound: {CPU_TASKS} tasks of ~{CPU_SECONDS * 1000:.0f} ms on 1 and on 2 workers "
            f"(medians of {ROUNDS} rounds; target >= 1.8x for interpreters)",
            ["contender", "1 worker", "2 workers", "speed-up", "CPUs used (2 workers)"],
            [
                [
                    name,
                    fmt_time(med(results[name], "cpu1")),
                    fmt_time(med(results[name], "cpu2")),
                    f"{statistics.median(x['cpu1'] / x['cpu2'] for x in results[name]):.2f}x",
                    f"{med(results[name], 'cpus'):.2f}" if "cpus" in results[name][0] else "n/a",
                ]
                for name in names
            ],
        )
    )
    base = piscina.name if have_piscina else contenders[0].name
    print(
        table(
            f"Tiny task round trip p50, one at a time ({RTT_N} per round; ratio to {base} "
            "within each round; target <= 1.0x for interpreters)",
            ["contender", "p50", f"vs {base.split(' (')[0]}"],
            [
                [
                    name,
                    fmt_time(med(results[name], "rtt_p50")),
                    f"{ratio(results[name], results[base], 'rtt_p50'):.2f}x",
                ]
                for name in names
            ],
        )
    )
    anyio_name = AnyioInterpreter.name
    print(
        table(
            f"Tiny task throughput, 2 workers, {WINDOW} in flight (ratio to {anyio_name} within "
            "each round; target >= 2x for interpreters)",
            ["contender", "tasks/s", f"vs {anyio_name}"],
            [
                [
                    name,
                    f"{med(results[name], 'tput'):,.0f}",
                    f"{ratio(results[name], results[anyio_name], 'tput'):.2f}x",
                ]
                for name in names
            ],
        )
    )
    if not have_piscina:
        print(f"piscina: not measured ({piscina.why_not})")
    print(
        f"load average after: {load_after:.1f} on {len(os.sched_getaffinity(0))} CPUs"
        + (
            " - the machine was busy with other work: CPU-bound figures are unreliable"
            if load_after > len(os.sched_getaffinity(0))
            else ""
        )
    )
    with contextlib.suppress(Exception):
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
