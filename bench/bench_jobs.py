"""Durable jobs on one RabbitMQ: offload vs Celery, dramatiq and taskiq; confirmed submits.

Run: ``python bench/bench_jobs.py`` (starts a private broker with scripts/rabbitmq.sh
unless OFFLOAD_AMQP_URL is set). Each framework gets a worker of 2 processes on the same
broker, runs no-op jobs, and is measured the same way:

- throughput: submit N no-op jobs, wait until all are done (jobs/s);
- round trip: submit one job, wait until it is done, N times (p50).

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
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from _common import fmt_time, machine, percentile, table

HERE = Path(__file__).resolve().parent
SCRIPT = HERE.parent / "scripts" / "rabbitmq.sh"
N = int(os.environ.get("BENCH_JOBS", "400"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "60"))


@contextlib.contextmanager
def broker() -> Iterator[str]:
    url = os.environ.get("OFFLOAD_AMQP_URL")
    if url:
        yield url
        return
    directory = tempfile.mkdtemp(prefix="offload-bench-rabbitmq-")
    url = subprocess.run(
        ["sh", str(SCRIPT), "start", directory], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        yield url
    finally:
        subprocess.run(["sh", str(SCRIPT), "stop", directory], check=False)


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


async def measure(
    submit_all: Callable[[int], Awaitable[None]], one: Callable[[], Awaitable[None]]
) -> tuple[float, float]:
    await submit_all(20)  # warm up workers and connections
    started = time.perf_counter()
    await submit_all(N)
    rate = N / (time.perf_counter() - started)
    samples = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        await one()
        samples.append(time.perf_counter() - t)
    return rate, percentile(samples, 50)


async def bench_offload(url: str, counter: Counter) -> dict[str, tuple[float, float]]:
    os.environ["BENCH_AMQP_URL"] = url
    import _jobs_tasks as tasks
    import offload

    env = {"BENCH_AMQP_URL": url, "BENCH_COUNTER": str(counter.path)}
    argv = [
        sys.executable,
        "-m",
        "offload",
        "worker",
        url,
        "--queue",
        "bench",
        "--app",
        "_jobs_tasks",
        "--concurrency",
        "2",
        "--kind",
        "process",
    ]
    out = {}
    jobs = offload.JobQueue(url, name="bench")
    for name in tasks.jobs.registered:
        jobs.register(tasks.jobs.registered[name], name=name)
    with worker(argv, env):
        async with jobs:

            async def all_results(n: int) -> None:
                handles = await jobs.submit_many("noop", [()] * n)
                await asyncio.gather(*(h.result() for h in handles))

            async def one_result() -> None:
                await (await jobs.submit("noop")).result()

            out["offload (results)"] = await measure(all_results, one_result)

            async def all_counted(n: int) -> None:
                target = counter.value() + n
                await jobs.submit_many("noop_counted", [()] * n)
                await counter.reach(target)

            async def one_counted() -> None:
                target = counter.value() + 1
                await jobs.submit("noop_counted")
                await counter.reach(target)

            out["offload (counted)"] = await measure(all_counted, one_counted)
    return out


async def bench_celery(url: str) -> tuple[float, float]:
    os.environ["BENCH_AMQP_URL"] = url
    from _jobs_tasks import _celery

    app, noop = _celery()
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "_jobs_tasks:celery_app",
        "worker",
        "-c",
        "2",
        "-P",
        "prefork",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "warning",
    ]
    with worker(argv, {"BENCH_AMQP_URL": url, "BENCH_FRAMEWORK": "celery"}):

        async def all_results(n: int) -> None:
            def run() -> None:
                results = [noop.delay() for _ in range(n)]
                for r in results:
                    r.get(timeout=120)

            await asyncio.to_thread(run)

        async def one() -> None:
            noop.delay().get(timeout=60)

        try:
            return await measure(all_results, one)
        finally:
            app.close()


async def bench_dramatiq(url: str, counter: Counter) -> tuple[float, float]:
    os.environ["BENCH_AMQP_URL"] = url
    from _jobs_tasks import _dramatiq

    broker, noop = _dramatiq()
    argv = [sys.executable, "-m", "dramatiq", "_jobs_tasks", "--processes", "2", "--threads", "1"]
    env = {"BENCH_AMQP_URL": url, "BENCH_FRAMEWORK": "dramatiq", "BENCH_COUNTER": str(counter.path)}
    with worker(argv, env):

        async def all_counted(n: int) -> None:
            target = counter.value() + n
            for _ in range(n):
                noop.send()
            await counter.reach(target)

        async def one() -> None:
            target = counter.value() + 1
            noop.send()
            await counter.reach(target)

        try:
            return await measure(all_counted, one)
        finally:
            broker.close()


async def bench_taskiq(url: str, counter: Counter) -> tuple[float, float]:
    os.environ["BENCH_AMQP_URL"] = url
    from _jobs_tasks import _taskiq

    broker, noop = _taskiq()
    await broker.startup()
    argv = [sys.executable, "-m", "taskiq", "worker", "_jobs_tasks:taskiq_broker", "--workers", "2"]
    env = {"BENCH_AMQP_URL": url, "BENCH_FRAMEWORK": "taskiq", "BENCH_COUNTER": str(counter.path)}
    with worker(argv, env):

        async def all_counted(n: int) -> None:
            target = counter.value() + n
            await asyncio.gather(*(noop.kiq() for _ in range(n)))
            await counter.reach(target)

        async def one() -> None:
            target = counter.value() + 1
            await noop.kiq()
            await counter.reach(target)

        try:
            return await measure(all_counted, one)
        finally:
            await broker.shutdown()


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
    print(f"machine: {machine()}; {N} jobs for throughput, {ROUNDS} round trips\n")
    with broker() as url, tempfile.TemporaryDirectory() as tmp:
        results: dict[str, tuple[float, float]] = {}
        results.update(await bench_offload(url, Counter(Path(tmp) / "offload")))
        for name, run in (
            ("Celery (rpc:// results)", lambda: bench_celery(url)),
            ("dramatiq (counted)", lambda: bench_dramatiq(url, Counter(Path(tmp) / "dramatiq"))),
            ("taskiq-aio-pika (counted)", lambda: bench_taskiq(url, Counter(Path(tmp) / "taskiq"))),
        ):
            try:
                results[name] = await run()
            except Exception as exc:  # a missing framework is reported, not fatal
                print(f"{name}: not measured ({type(exc).__name__}: {exc})")
        best_other = max(
            (r for k, (r, _) in results.items() if not k.startswith("offload")), default=0
        )
        rows = [
            (
                name,
                f"{rate:,.0f}",
                fmt_time(p50),
                f"{rate / best_other:.2f}x" if best_other else "-",
            )
            for name, (rate, p50) in results.items()
        ]
        print(
            table(
                "No-op jobs, 2 worker processes each, one broker",
                ["framework", "jobs/s", "round trip p50", "jobs/s vs best other"],
                rows,
            )
        )
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
