"""What survives: worker processes killed or stopped mid-job, a broker restart, an outage.

Workers run as real ``offload worker`` processes; the broker restarts are of the
private test node only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests import _jobs_app as app
from tests._rabbitmq import Broker, amqp_url, private_broker, queue_name  # noqa: F401

import offload
from offload._jobs._link import Link
from offload._jobs._results import new_job_id, record

pytestmark = pytest.mark.timeout(90)

ROOT = Path(__file__).resolve().parent.parent


def make_queue(url: str, name: str, **options: object) -> offload.JobQueue:
    options.setdefault("retry_delay", 0.05)
    return app.register_all(offload.JobQueue(url, name=name, **options))  # type: ignore[arg-type]


class WorkerProcess:
    """``offload worker`` in its own process group, started and waited for."""

    def __init__(self, url: str, name: str, *extra: str, env: dict[str, str] | None = None):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "offload",
                "worker",
                url,
                "--queue",
                name,
                "--app",
                "tests._jobs_app",
                "--concurrency",
                "1",
                *extra,
            ],
            cwd=ROOT,
            env={**os.environ, "OFFLOAD_TEST_QUEUE": name, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    async def ready(self) -> None:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), 60)
        assert line.startswith("offload worker:"), line

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def close(self) -> None:
        self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.close()


async def wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
async def test_a_worker_killed_mid_job_hands_it_to_another_worker(
    amqp_url: str,  # noqa: F811
    queue_name: str,  # noqa: F811
    workers: list[WorkerProcess],
    tmp_path: Path,
    queue_type: str,
) -> None:
    started, go = tmp_path / "started", tmp_path / "go"
    env = {"OFFLOAD_TEST_QUEUE_TYPE": queue_type}
    async with make_queue(amqp_url, queue_name, queue_type=queue_type) as jobs:
        first = WorkerProcess(amqp_url, queue_name, env=env)
        workers.append(first)
        await first.ready()
        handle = await jobs.submit(app.wait_for_file, str(started), str(go))
        await wait_for(started)
        second = WorkerProcess(amqp_url, queue_name, env=env)
        workers.append(second)
        await second.ready()
        started.unlink()
        first.kill()
        await wait_for(started)  # redelivered, running on the second worker
        go.write_text("")
        assert await handle.result(timeout=30) == 2  # the job saw it is a second attempt


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
async def test_a_job_whose_workers_keep_dying_is_dead_lettered(
    amqp_url: str,  # noqa: F811
    queue_name: str,  # noqa: F811
    workers: list[WorkerProcess],
    tmp_path: Path,
    queue_type: str,
) -> None:
    started, go = tmp_path / "started", tmp_path / "go"
    env = {"OFFLOAD_TEST_MAX_REDELIVERIES": "0", "OFFLOAD_TEST_QUEUE_TYPE": queue_type}
    async with make_queue(amqp_url, queue_name, queue_type=queue_type) as jobs:
        first = WorkerProcess(amqp_url, queue_name, env=env)
        workers.append(first)
        await first.ready()
        handle = await jobs.submit(app.wait_for_file, str(started), str(go))
        await wait_for(started)
        first.kill()
        second = WorkerProcess(amqp_url, queue_name, env=env)
        workers.append(second)
        await second.ready()
        with pytest.raises(offload.JobFailed, match="died 1 times") as caught:
            await handle.result(timeout=30)
        assert caught.value.error_type == "WorkerCrashed"


async def test_sigterm_stops_gracefully_and_returns_the_running_job(
    amqp_url: str,  # noqa: F811
    queue_name: str,  # noqa: F811
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    started, go = tmp_path / "started", tmp_path / "go"
    async with make_queue(amqp_url, queue_name) as jobs:
        first = WorkerProcess(amqp_url, queue_name, "--stop-grace", "0.2")
        workers.append(first)
        await first.ready()
        quick = await jobs.submit(app.add, 1, 1)
        assert await quick.result(timeout=30) == 2
        handle = await jobs.submit(app.wait_for_file, str(started), str(go))
        await wait_for(started)
        started.unlink()
        first.proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(first.proc.wait, 30) == 0
        second = WorkerProcess(amqp_url, queue_name)
        workers.append(second)
        await second.ready()
        await wait_for(started)
        go.write_text("")
        assert await handle.result(timeout=30) == 2
        # The job that completed before the stop is not run again.
        assert await quick.result(timeout=5) == 2


async def test_confirmed_jobs_survive_a_broker_restart_and_consumers_come_back(
    private_broker: Broker,  # noqa: F811
    queue_name: str,  # noqa: F811
) -> None:
    url = private_broker.url
    idle_name = queue_name + "idle"
    async with (
        make_queue(url, queue_name) as jobs,
        make_queue(url, idle_name) as idle,
        jobs.worker(concurrency=2, kind="thread") as worker,
    ):
        assert await (await jobs.submit(app.add, 1, 1)).result(timeout=30) == 2
        waiting = await idle.submit_many(app.add, [(i, i) for i in range(10)])
        await asyncio.to_thread(private_broker.restart)
        # Submits wait for the reconnect; the worker's consumer is back.
        after = await jobs.submit_many(app.add, [(i, 1) for i in range(10)])
        assert [await h.result(timeout=30) for h in after] == [i + 1 for i in range(10)]
        assert worker.completed >= 11
        async with idle.worker(concurrency=2, kind="thread"):
            assert [await h.result(timeout=30) for h in waiting] == [2 * i for i in range(10)]


async def test_submit_during_an_outage_waits_then_raises_a_clear_error(
    private_broker: Broker,  # noqa: F811
    queue_name: str,  # noqa: F811
) -> None:
    async with make_queue(private_broker.url, queue_name, outage_timeout=1.0) as jobs:
        await asyncio.to_thread(private_broker.stop)
        try:
            started = time.monotonic()
            with pytest.raises(offload.BrokerUnavailable, match="unreachable"):
                await jobs.submit(app.add, 1, 1)
            assert 0.9 <= time.monotonic() - started < 20
            started = time.monotonic()
            with pytest.raises(offload.BrokerUnavailable, match="submitting 3 jobs"):
                await jobs.submit_many(app.add, [(1, 1), (2, 2), (3, 3)])
            assert 0.5 <= time.monotonic() - started < 20
        finally:
            await asyncio.to_thread(private_broker.start)
    # Once the broker is back, a producer and a worker connect and work again.
    async with (
        make_queue(private_broker.url, queue_name) as jobs,
        jobs.worker(concurrency=1, kind="thread"),
    ):
        assert await (await jobs.submit(app.add, 2, 2)).result(timeout=30) == 4


async def test_a_result_recorded_the_moment_the_broker_is_back_is_kept(
    private_broker: Broker,  # noqa: F811
    queue_name: str,  # noqa: F811
) -> None:
    # The node takes connections a moment before its streams run again; a confirmed
    # publish to a stream in that moment was confirmed and dropped (a result lost, a
    # worker waiting for its own marker in the stream of cancellations).
    url = private_broker.url
    async with make_queue(url, queue_name) as jobs:
        topology, codec = jobs.topology, jobs.codec
    await asyncio.to_thread(private_broker.restart)  # returns once the listener answers
    link = Link(private_broker.url, outage_timeout=30, name="test restart")
    await link.open()
    job_id = new_job_id()
    try:
        await record(link, codec, topology, job_id, {"type": "result", "value": 42})
    finally:
        await link.close()
    async with make_queue(private_broker.url, queue_name) as jobs:
        handle = await jobs.get(job_id)
        assert await handle.result(timeout=30) == 42


async def test_a_worker_started_the_moment_the_broker_is_back_reads_the_cancellations(
    private_broker: Broker,  # noqa: F811
    queue_name: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="offload.jobs")
    async with make_queue(private_broker.url, queue_name) as jobs:
        handle = await jobs.submit(app.add, 1, 2)
        await handle.cancel()
        await asyncio.to_thread(private_broker.restart)
        # Started while the queue's connection comes back: its marker in the stream of
        # cancellations may be published before the stream runs again.
        async with jobs.worker(concurrency=1, kind="thread") as worker:
            assert "not read up to now" not in caplog.text
            # The cancelled job was skipped, not run; the next one runs.
            assert await (await jobs.submit(app.add, 2, 2)).result(timeout=30) == 4
            assert worker.completed == 1


async def test_a_job_running_across_a_broker_restart_runs_once(
    private_broker: Broker,  # noqa: F811
    queue_name: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    started, go = tmp_path / "started", tmp_path / "go"
    async with (
        make_queue(private_broker.url, queue_name) as jobs,
        jobs.worker(concurrency=2, kind="process") as worker,
    ):
        handle = await jobs.submit(app.wait_for_file, str(started), str(go))
        await wait_for(started)
        started.unlink()
        await asyncio.to_thread(private_broker.restart)
        # The worker consumes again; the job's redelivery (ahead of this one in the
        # queue) has come by and waits for the run still going.
        assert await (await jobs.submit(app.add, 1, 1)).result(timeout=30) == 2
        go.write_text("")
        assert await handle.result(timeout=30) == 1  # the first attempt's result
        assert not started.exists()  # never started again
        assert worker.completed == 2
