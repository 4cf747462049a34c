"""Durable jobs on one RabbitMQ: offload vs Celery, dramatiq and taskiq; confirmed submits.

Run: ``python bench/bench_jobs.py`` (starts a private broker with scripts/rabbitmq.sh
unless OFFLOAD_AMQP_URL is set). Every framework runs 2 jobs at once (2 worker
processes, or offload's worker with a pool of 2 processes), all workers are started
first, then the frameworks take turns for BENCH_ROUNDS rounds (offload also with
``--buffer 8``: 8 deliveries may wait in the worker beyond its 2 slots); each round
measures:

- throughput: submit BENCH_JOBS no-op jobs, wait until all are done (jobs/s);
- round trip: submit one job, wait until it is done, BENCH_TRIPS times.

The table gives the median throughput over the rounds, the p50 of all round trips,
and the CPU time per job of every process involved (broker, worker processes,
submitter) over the throughput runs: on a shared machine the rates move with the
load, the CPU time much less.

"Done" is the result in the caller's hands for offload and Celery (rpc:// results over
AMQP). dramatiq and taskiq have no RabbitMQ result backend, so their jobs append a byte
to a file that the bench watches (0.2 ms polls); offload is measured that way too.

Confirmed durable submits: offload's submit_many (pipelined confirms) vs awaiting each
publisher confirm in turn with plain aio-pika, persistent messages, durable queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from _common import fmt_time, machine, percentile, table

HERE = Path(__file__).resolve().parent
SCRIPT = HERE.parent / "scripts" / "rabbitmq.sh"
N = int(os.environ.get("BENCH_JOBS", "400"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
TRIPS = int(os.environ.get("BENCH_TRIPS", "20"))
CONCURRENCY = 2
_TICK = os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def broker() -> Iterator[tuple[str, int | None]]:
    """The broker's URL, and its pid when it is the private node started here."""
    url = os.environ.get("OFFLOAD_AMQP_URL")
    if url:
        yield url, None
        return
    directory = tempfile.mkdtemp(prefix="offload-bench-rabbitmq-")
    url = subprocess.run(
        ["sh", str(SCRIPT), "start", directory], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        yield url, int(Path(directory, "node.pid").read_text().strip())
    finally:
        subprocess.run(["sh", str(SCRIPT), "stop", directory], check=False)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


@contextlib.contextmanager
def worker(argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        argv,
        cwd=HERE,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


class Counter:
    def __init__(self, path: Path) -> None:
        self.path = path

    def value(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    async def reach(self, target: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.value() < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.path.name}: {self.value()} of {target}")
            await asyncio.sleep(0.0002)


@dataclass
class Contender:
    """One framework (with one way of counting a job done), measured round after round."""

    name: str
    burst: Callable[[int], Awaitable[None]]
    one: Callable[[], Awaitable[None]]
    pid: int
    rates: list[float] = field(default_factory=list)
    trips: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    async def round(self, broker_pid: int | None) -> None:
        pids = process_tree(self.pid) + ([broker_pid] if broker_pid else [])
        before = sum(cpu_seconds(p) for p in pids) + _own_cpu()
        started = time.perf_counter()
        await self.burst(N)
        self.rates.append(N / (time.perf_counter() - started))
        self.cpu.append((sum(cpu_seconds(p) for p in pids) + _own_cpu() - before) / N)
        for _ in range(TRIPS):
            t = time.perf_counter()
            await self.one()
            self.trips.append(time.perf_counter() - t)


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


@contextlib.asynccontextmanager
async def offload_contenders(
    url: str, counter: Counter, queue_type: str = "classic", buffer: int = 0
) -> AsyncIterator[list[Contender]]:
    os.environ["BENCH_AMQP_URL"] = url
    import _jobs_tasks as tasks
    import offload

    name = "bench" if queue_type == "classic" else f"bench{queue_type}"
    name += f"buffer{buffer}" if buffer else ""
    env = {"BENCH_AMQP_URL": url, "BENCH_COUNTER": str(counter.path), "BENCH_QUEUE": name}
    env["BENCH_QUEUE_TYPE"] = queue_type
    argv = [sys.executable, "-m", "offload", "worker", url, "--queue", name]
    argv += ["--app", "_jobs_tasks", "--concurrency", str(CONCURRENCY), "--kind", "process"]
    argv += ["--buffer", str(buffer)]
    jobs = offload.JobQueue(url, name=name, queue_type=queue_type)  # type: ignore[arg-type]
    for job_name, fn in tasks.jobs.registered.items():
        jobs.register(fn, name=job_name)
    with worker(argv, env) as proc:
        async with jobs:

            async def all_results(n: int) -> None:
                handles = await jobs.submit_many("noop", [()] * n)
                await asyncio.gather(*(h.result() for h in handles))

            async def one_result() -> None:
                await (await jobs.submit("noop")).result()

            async def all_counted(n: int) -> None:
                target = counter.value() + n
                await jobs.submit_many("noop_counted", [()] * n)
                await counter.reach(target)

            async def one_counted() -> None:
                target = counter.value() + 1
                await jobs.submit("noop_counted")
                await counter.reach(target)

            await all_results(20)  # the worker is up and connected
            if buffer:
                yield [
                    Contender(
                        f"offload, --buffer {buffer} (results)", all_results, one_result, proc.pid
                    )
                ]
                return
            if queue_type != "classic":
                yield [
                    Contender(
                        f"offload, {queue_type} queue (results)", all_results, one_result, proc.pid
                    )
                ]
                return
            yield [
                Contender("offload (results)", all_results, one_result, proc.pid),
                Contender("offload (counted)", all_counted, one_counted, proc.pid),
            ]


@contextlib.asynccontextmanager
async def celery_contenders(url: str) -> AsyncIterator[list[Contender]]:
    os.environ["BENCH_AMQP_URL"] = url
    from _jobs_tasks import _celery

    app, noop = _celery()
    argv = [sys.executable, "-m", "celery", "-A", "_jobs_tasks:celery_app", "worker"]
    argv += ["-c", str(CONCURRENCY), "-P", "prefork", "--without-gossip", "--without-mingle"]
    argv += ["--without-heartbeat", "-l", "warning"]
    with worker(argv, {"BENCH_AMQP_URL": url, "BENCH_FRAMEWORK": "celery"}) as proc:

        async def all_results(n: int) -> None:
            def run() -> None:
                results = [noop.delay() for _ in range(n)]
                for r in results:
                    r.get(timeout=120)

            await asyncio.to_thread(run)

        async def one() -> None:
            noop.delay().get(timeout=60)

        try:
            await all_results(20)
            yield [Contender("Celery (rpc:// results)", all_results, one, proc.pid)]
        finally:
            app.close()


@contextlib.asynccontextmanager
async def dramatiq_contenders(url: str, counter: Counter) -> AsyncIterator[list[Contender]]:
    os.environ["BENCH_AMQP_URL"] = url
    from _jobs_tasks import _dramatiq

    plain, noop = _dramatiq(confirm=False)
    confirming, noop_confirmed = _dramatiq(confirm=True)
    argv = [sys.executable, "-m", "dramatiq", "_jobs_tasks"]
    argv += ["--processes", str(CONCURRENCY), "--threads", "1"]
    env = {"BENCH_AMQP_URL": url, "BENCH_FRAMEWORK": "dramatiq", "BENCH_COUNTER": str(counter.path)}
    with worker(argv, env) as proc:

        def contender(name: str, actor: object) -> Contender:
            async def all_counted(n: int) -> None:
                target = counter.value() + n
                for _ in range(n):
                    actor.send()  # type: ignore[attr-defined]
                await counter.reach(target)

            async def one() -> None:
                target = counter.value() + 1
                actor.send()  # type: ignore[attr-defined]
                await counter.reach(target)

            return Contender(name, all_counted, one, proc.pid)

        try:
            first = contender("dramatiq (counted)", noop)
            await first.burst(20)
            yield [first, contender("dramatiq, confirm_delivery (counted)", noop_confirmed)]
        finally:
            plain.close()
            confirming.close()


@contextlib.asynccontextmanager
async def taskiq_contenders(url: str, counter: Counter) -> AsyncIterator[list[Contender]]:
    os.environ["BENCH_AMQP_URL"] = url
    from _jobs_tasks import _taskiq

    broker, noop = _taskiq()
    await broker.startup()
    argv = [sys.executable, "-m", "taskiq", "worker", "_jobs_tasks:taskiq_broker"]
    argv += ["--workers", str(CONCURRENCY), "--max-async-tasks", "1"]
    env = {"BENCH_AMQP_URL": url, "BENCH_FRAMEWORK": "taskiq", "BENCH_COUNTER": str(counter.path)}
    with worker(argv, env) as proc:

        async def all_counted(n: int) -> None:
            target = counter.value() + n
            await asyncio.gather(*(noop.kiq() for _ in range(n)))
            await counter.reach(target)

        async def one() -> None:
            target = counter.value() + 1
            await noop.kiq()
            await counter.reach(target)

        try:
            await all_counted(20)
            yield [Contender("taskiq-aio-pika (counted)", all_counted, one, proc.pid)]
        finally:
            await broker.shutdown()


SETTINGS = [
    (
        "offload",
        "confirmed persistent submits to a durable classic queue; result recorded in a "
        "stream (confirmed) before the ack; prefetch = 2 running + results being recorded; "
        "the quorum row: a quorum queue, prefetch 2 fixed; the --buffer 8 row: up to 8 more "
        "deliveries wait in the worker for a slot, results recorded a batch at a time",
    ),
    ("Celery", "acks before running (default), rpc:// transient results, prefetch 2"),
    (
        "dramatiq",
        "persistent, durable; submits unconfirmed by default (confirm_delivery=False), "
        "ack after running, prefetch 2 per process (4 for 2 jobs at once)",
    ),
    (
        "taskiq-aio-pika",
        "persistent, durable, confirmed submits; ack after running; prefetch 10 per process",
    ),
]


async def bench_submits(url: str) -> list[tuple[str, float]]:
    import aio_pika

    import offload

    n = N * 2
    rows = []
    jobs = offload.JobQueue(url, name="benchsubmit")
    jobs.register(lambda: None, name="noop")
    async with jobs:
        started = time.perf_counter()
        await jobs.submit_many("noop", [()] * n)
        rows.append(
            ("offload submit_many (pipelined confirms)", n / (time.perf_counter() - started))
        )
        started = time.perf_counter()
        for _ in range(n // 4):
            await jobs.submit("noop")
        rows.append(("offload submit, one at a time", n / 4 / (time.perf_counter() - started)))
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue("bench_confirms", durable=True)
        started = time.perf_counter()
        for _ in range(n // 4):
            await channel.default_exchange.publish(
                aio_pika.Message(b"{}", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=queue.name,
            )
        rows.append(("aio-pika, awaiting each confirm", n / 4 / (time.perf_counter() - started)))
        await queue.delete(if_unused=False, if_empty=False)
        q2 = await channel.declare_queue("offload.benchsubmit", durable=True, passive=True)
        await q2.purge()
    return rows


async def main() -> None:
    print(
        f"machine: {machine()}; {CONCURRENCY} jobs at once per framework; {ROUNDS} rounds of "
        f"{N} jobs (throughput) and {TRIPS} round trips, frameworks taking turns\n"
    )
    with broker() as (url, broker_pid), tempfile.TemporaryDirectory() as tmp:
        contenders: list[Contender] = []
        async with contextlib.AsyncExitStack() as stack:
            for name, setup in (
                ("offload", lambda: offload_contenders(url, Counter(Path(tmp) / "offload"))),
                (
                    "offload (quorum)",
                    lambda: offload_contenders(url, Counter(Path(tmp) / "quorum"), "quorum"),
                ),
                (
                    "offload (buffer)",
                    lambda: offload_contenders(
                        url, Counter(Path(tmp) / "buffer"), buffer=4 * CONCURRENCY
                    ),
                ),
                ("Celery", lambda: celery_contenders(url)),
                ("dramatiq", lambda: dramatiq_contenders(url, Counter(Path(tmp) / "dramatiq"))),
                ("taskiq", lambda: taskiq_contenders(url, Counter(Path(tmp) / "taskiq"))),
            ):
                try:
                    contenders += await stack.enter_async_context(setup())
                except Exception as exc:  # a missing framework is reported, not fatal
                    print(f"{name}: not measured ({type(exc).__name__}: {exc})")
            for _ in range(ROUNDS):
                for contender in contenders:
                    await contender.round(broker_pid)
        rates = {c.name: statistics.median(c.rates) for c in contenders}
        best_other = max((r for k, r in rates.items() if not k.startswith("offload")), default=0)
        rows = [
            (
                c.name,
                f"{rates[c.name]:,.0f}",
                " ".join(f"{r:,.0f}" for r in c.rates),
                fmt_time(percentile(c.trips, 50)),
                f"{statistics.median(c.cpu) * 1e6:,.0f} µs" if broker_pid else "-",
                f"{rates[c.name] / best_other:.2f}x" if best_other else "-",
            )
            for c in contenders
        ]
        print(
            table(
                f"No-op jobs, {CONCURRENCY} at once per framework, one broker",
                [
                    "framework",
                    "jobs/s (median)",
                    "each round",
                    "round trip p50",
                    "CPU per job",
                    "vs best other",
                ],
                rows,
            )
        )
        print()
        for name, text in SETTINGS:
            print(f"- {name}: {text}")
        print()
        submits = await bench_submits(url)
        base = submits[-1][1]
        print(
            table(
                "Confirmed durable submits",
                ["how", "submits/s", "vs awaiting each confirm"],
                [(name, f"{rate:,.0f}", f"{rate / base:.1f}x") for name, rate in submits],
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
