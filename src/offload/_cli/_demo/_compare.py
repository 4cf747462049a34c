"""``offload demo --compare``: the same load on one server per strategy, side by side.

For each strategy: start ``offload demo`` in a child process on a free port, run
``jobs`` subset-sum requests at a time for ``duration`` seconds while another client
probes ``/ping`` every few milliseconds, then stop the server (SIGINT, then SIGKILL if
it hangs). The table shows what a request that needs no work waits for (ping latency)
next to the work done (jobs per second).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ._command import STRATEGY_NAMES

__all__ = ["ChildServer", "Outcome", "compare", "job_for_compare", "serve_in_child"]

PING_EVERY = 0.005  # seconds between the end of one ping and the next
START_TIMEOUT = 30.0  # seconds a server may take to print its URL
STOP_TIMEOUT = 10.0  # seconds a server may take to exit after SIGINT


@dataclass(frozen=True)
class Outcome:
    """What one strategy did under the load: ping latencies (ms) and finished jobs."""

    strategy: str
    pings_ms: list[float]
    jobs: int
    seconds: float

    def percentile(self, q: float) -> float:
        """The ``q`` quantile (0..1) of the ping latencies, in milliseconds."""
        if not self.pings_ms:
            return float("nan")
        ordered = sorted(self.pings_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    @property
    def jobs_per_second(self) -> float:
        """Finished jobs per second of load."""
        return self.jobs / self.seconds if self.seconds > 0 else 0.0


def job_for_compare(items: int = 20, seed: int = 7) -> tuple[list[int], int]:
    """A fixed job: ``items`` spread-out integers and a sum few subsets reach.

    Example::

        data, total = job_for_compare()
    """
    rng = random.Random(seed)
    data = [rng.randint(1, 1_000_000) for _ in range(items)]
    return data, data[0] + data[items // 2] + data[-1]


async def compare(
    *,
    workers: int,
    jobs: int,
    duration: float,
    host: str = "127.0.0.1",
    strategies: tuple[str, ...] = STRATEGY_NAMES,
    console: Console | None = None,
) -> int:
    """Load one server per strategy and print the comparison table.

    Returns 0, or 1 if a strategy's server failed (the table shows the others).

    Example::

        asyncio.run(compare(workers=2, jobs=2, duration=3.0))
    """
    # A table wider than 80 columns reads better than wrapped headers, even in a pipe.
    console = console or Console(width=None if sys.stdout.isatty() else 120)
    data, total = job_for_compare()
    outcomes: list[Outcome] = []
    failures: list[str] = []
    columns = (
        TextColumn("{task.description:<22}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("starting", total=len(strategies) * duration)
        for index, name in enumerate(strategies):
            progress.update(bar, description=f"{name}: starting", completed=index * duration)

            def advance(elapsed: float, base: float = index * duration) -> None:
                progress.update(bar, completed=base + min(elapsed, duration))

            try:
                async with serve_in_child(name, workers, host) as server:
                    progress.update(bar, description=f"{name}: {jobs} jobs + pings")
                    outcome = await _load(name, server.url, data, total, jobs, duration, advance)
                    outcomes.append(outcome)
            except (RuntimeError, httpx.HTTPError) as exc:
                failures.append(f"{name}: {exc}")
        progress.update(bar, completed=len(strategies) * duration)
    console.print(_table(outcomes, workers=workers, jobs=jobs, items=len(data)))
    for failure in failures:
        console.print(f"[red]failed[/red] {failure}", markup=True, highlight=False)
    return 1 if failures else 0


@dataclass(frozen=True)
class ChildServer:
    """A demo server running in a child process."""

    url: str
    pid: int


@contextlib.asynccontextmanager
async def serve_in_child(
    strategy: str, workers: int, host: str = "127.0.0.1"
) -> AsyncIterator[ChildServer]:
    """Run ``offload demo`` in a child process on a free port until the block ends.

    On exit the server gets SIGINT (a clean shutdown of its pool), and SIGKILL if it
    is not gone after a while. Raises RuntimeError if it does not start.

    Example::

        async with serve_in_child("process", workers=2) as server:
            print(server.url)
    """
    argv = [sys.executable, "-m", "offload", "demo", "--strategy", strategy]
    argv += ["--host", host, "--port", "0", "--workers", str(workers)]
    with tempfile.TemporaryFile() as errors:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=errors
        )
        try:
            url = await asyncio.wait_for(_read_url(proc), START_TIMEOUT)
            if url is None:
                errors.seek(0)
                lines = errors.read().decode(errors="replace").strip().splitlines()
                raised = [line for line in lines if re.match(r"\w+(Error|Exception)\b", line)]
                detail = (raised or lines or [f"exit status {proc.returncode}"])[-1]
                raise RuntimeError(f"the {strategy} demo server did not start: {detail}")
            yield ChildServer(url, proc.pid)
        finally:
            await _stop(proc)


async def _read_url(proc: asyncio.subprocess.Process) -> str | None:
    assert proc.stdout is not None
    async for raw in proc.stdout:
        found = re.search(r"http://\S+", raw.decode(errors="replace"))
        if found:
            return found.group(0).rstrip("/")
    return None


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    await proc.wait()


async def _load(
    strategy: str,
    url: str,
    data: list[int],
    total: int,
    jobs: int,
    duration: float,
    advance: Callable[[float], None],
) -> Outcome:
    params = {"data": str(data), "sum": str(total)}
    pings: list[float] = []
    finished = 0
    limits = httpx.Limits(max_connections=jobs + 4)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await client.get("/ping")  # the server answers: start the clock
        started = time.perf_counter()
        stop_at = started + duration

        async def run_jobs() -> None:
            nonlocal finished
            while time.perf_counter() < stop_at:
                last = ""
                async with client.stream("GET", "/subset-sum", params=params) as response:
                    response.raise_for_status()
                    async for line in response.aiter_lines():
                        last = line or last
                summary = json.loads(last)
                if summary.get("count") is None:
                    raise RuntimeError(f"a {strategy} job did not finish: {summary}")
                finished += 1

        async def probe(done: asyncio.Event) -> None:
            while not done.is_set():
                sent = time.perf_counter()
                (await client.get("/ping")).raise_for_status()
                pings.append((time.perf_counter() - sent) * 1000)
                advance(time.perf_counter() - started)
                await asyncio.sleep(PING_EVERY)

        done = asyncio.Event()
        prober = asyncio.create_task(probe(done))
        try:
            await asyncio.gather(*(run_jobs() for _ in range(jobs)))
        finally:
            done.set()
            await prober
        seconds = time.perf_counter() - started
    return Outcome(strategy, pings, finished, seconds)


def _table(outcomes: list[Outcome], *, workers: int, jobs: int, items: int) -> Table:
    table = Table(
        title=f"offload demo --compare: {jobs} concurrent jobs of {items} items, "
        f"{workers} workers; /ping probed every {PING_EVERY * 1000:.0f} ms",
        box=box.MARKDOWN,
    )
    for header in ("strategy", "ping p50 ms", "ping p99 ms", "ping max ms", "pings", "jobs/s"):
        table.add_column(header, justify="left" if header == "strategy" else "right")
    table.add_column("ping p99 vs process", justify="right")
    reference = next((o.percentile(0.99) for o in outcomes if o.strategy == "process"), None)
    for outcome in outcomes:
        p99 = outcome.percentile(0.99)
        ratio = f"{p99 / reference:.1f}x" if reference else "-"
        table.add_row(
            outcome.strategy,
            f"{outcome.percentile(0.5):.1f}",
            f"{p99:.1f}",
            f"{max(outcome.pings_ms, default=float('nan')):.1f}",
            str(len(outcome.pings_ms)),
            f"{outcome.jobs_per_second:.2f}",
            ratio,
        )
    return table
