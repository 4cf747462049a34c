"""JobQueue and JobWorker against a real RabbitMQ: results, progress, keys, delays,
retries, dead letters, timeouts, cancellation, and what a worker refuses to run."""

from __future__ import annotations

import asyncio
import pickle
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from tests import _jobs_app as app
from tests._rabbitmq import amqp_url, queue_name  # noqa: F401

import offload
from offload._jobs._link import Unrouted
from offload._jobs._results import new_job_id, record

pytestmark = pytest.mark.timeout(60)


def make_queue(url: str, name: str, **options: object) -> offload.JobQueue:
    options.setdefault("retry_delay", 0.05)
    return app.register_all(offload.JobQueue(url, name=name, **options))  # type: ignore[arg-type]


@pytest.fixture
async def jobs(amqp_url: str, queue_name: str) -> AsyncIterator[offload.JobQueue]:  # noqa: F811
    async with make_queue(amqp_url, queue_name) as queue:
        yield queue


async def dead_letters(url: str, name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(f"offload.{name}.dead", durable=True)
        found = []
        while (message := await queue.get(fail=False)) is not None:
            await message.ack()
            found.append(message)
        return found


async def test_a_confirmed_job_runs_and_its_result_arrives(
    amqp_url: str,  # noqa: F811
    queue_name: str,  # noqa: F811
    no_leaks: None,
) -> None:
    jobs = make_queue(amqp_url, queue_name)
    async with jobs, jobs.worker(concurrency=2, kind="process"):
        handle = await jobs.submit(app.add, 2, 3)
        assert isinstance(handle, offload.JobHandle)
        assert await handle.result(timeout=20) == 5


async def test_progress_values_arrive_in_order_then_the_result(jobs: offload.JobQueue) -> None:
    async with jobs.worker(concurrency=1, kind="process"):
        handle = await jobs.submit(app.count, 5)
        assert [v async for v in handle.progress()] == [1, 2, 3, 4, 5]
        assert await handle.result(timeout=20) == 5


async def test_submit_many_of_nothing_submits_nothing(jobs: offload.JobQueue) -> None:
    assert await jobs.submit_many(app.add, []) == []


async def test_submit_many_pipelines_and_keeps_order(jobs: offload.JobQueue) -> None:
    handles = await jobs.submit_many(app.add, [(i, 1) for i in range(50)])
    assert len({h.id for h in handles}) == 50
    async with jobs.worker(concurrency=2, kind="thread"):
        results = await asyncio.gather(*(h.result(timeout=30) for h in handles))
    assert results == [i + 1 for i in range(50)]


async def test_a_restarted_producer_reads_result_and_progress_by_id(
    amqp_url: str,  # noqa: F811
    queue_name: str,  # noqa: F811
) -> None:
    async with make_queue(amqp_url, queue_name) as first:
        job_id = (await first.submit(app.count, 3)).id
        async with first.worker(concurrency=1, kind="thread"):
            assert await (await first.get(job_id)).result(timeout=20) == 3
    for _ in range(2):  # every new reader sees the events again
        async with make_queue(amqp_url, queue_name) as again:
            handle = await again.get(job_id)
            assert [v async for v in handle.progress()] == [1, 2, 3]
            assert await handle.result(timeout=20) == 3


async def test_only_registered_functions_can_be_submitted(jobs: offload.JobQueue) -> None:
    def stranger() -> None: ...

    with pytest.raises(ValueError, match="not a registered job"):
        await jobs.submit(stranger)
    with pytest.raises(offload.SerializationError, match="not JSON"):
        await jobs.submit(app.add, object(), 1)
    with pytest.raises(ValueError, match="max_timeout"):
        await jobs.submit(app.add, 1, 1, timeout=10**6)


async def test_a_name_no_worker_knows_is_rejected(jobs: offload.JobQueue) -> None:
    async with jobs.worker(concurrency=1, kind="thread"):
        handle = await jobs.submit("os.system", "echo pwned")
        with pytest.raises(offload.JobRejected, match=r"no job named 'os\.system'"):
            await handle.result(timeout=20)


async def test_a_key_deduplicates_while_pending_and_while_kept(jobs: offload.JobQueue) -> None:
    first = await jobs.submit(app.add, 1, 1, key="order-17")
    second = await jobs.submit(app.add, 1, 1, key="order-17")
    assert second.id == first.id
    other = await jobs.submit(app.add, 1, 1, key="order-18")
    assert other.id != first.id
    async with jobs.worker(concurrency=1, kind="thread"):
        assert await first.result(timeout=20) == 2
        assert await other.result(timeout=20) == 2
    again = await jobs.submit(app.add, 1, 1, key="order-17")
    assert again.id == first.id


async def test_a_delay_is_held_by_the_broker(jobs: offload.JobQueue, tmp_path: Path) -> None:
    async with jobs.worker(concurrency=1, kind="thread"):
        submitted = time.time()
        handle = await jobs.submit(app.touch, str(tmp_path / "ran"), "done", delay=0.6)
        assert await handle.result(timeout=20) == "done"
    ran = float((tmp_path / "ran").read_text())
    assert ran - submitted >= 0.55


async def test_retries_back_off_and_the_job_sees_its_attempt(jobs: offload.JobQueue) -> None:
    async with jobs.worker(concurrency=1, kind="thread"):
        handle = await jobs.submit(app.fail_until, 3, retries=3)
        assert await handle.result(timeout=20) == 3


async def test_after_the_last_attempt_the_job_is_dead_lettered_with_its_error(
    jobs: offload.JobQueue,
    amqp_url: str,  # noqa: F811
) -> None:
    async with jobs.worker(concurrency=1, kind="thread"):
        handle = await jobs.submit(app.fail, "boom", retries=2)
        with pytest.raises(offload.JobFailed, match="ValueError: boom") as caught:
            await handle.result(timeout=20)
    assert caught.value.attempts == 3
    assert caught.value.error_type == "ValueError"
    assert "raise ValueError(message)" in caught.value.remote_traceback
    dead = await dead_letters(amqp_url, jobs.name)
    assert [m.message_id for m in dead] == [handle.id]
    assert dead[0].headers["x-offload-error"] == "ValueError: boom"


async def test_the_pool_enforces_the_job_timeout(jobs: offload.JobQueue) -> None:
    async with jobs.worker(concurrency=1, kind="process"):
        started = time.monotonic()
        handle = await jobs.submit(app.hang, timeout=0.5)
        with pytest.raises(offload.JobFailed) as caught:
            await handle.result(timeout=20)
        assert caught.value.error_type == "TaskTimeout"
        assert time.monotonic() - started < 15
        assert await (await jobs.submit(app.add, 1, 2)).result(timeout=20) == 3


async def test_a_crashing_job_fails_alone(jobs: offload.JobQueue) -> None:
    async with jobs.worker(concurrency=1, kind="process"):
        with pytest.raises(offload.JobFailed) as caught:
            await (await jobs.submit(app.crash)).result(timeout=20)
        assert caught.value.error_type == "WorkerCrashed"
        assert await (await jobs.submit(app.add, 2, 2)).result(timeout=20) == 4


async def test_a_cancelled_queued_job_never_starts(jobs: offload.JobQueue, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    handle = await jobs.submit(app.touch, str(marker))
    await handle.cancel("not needed")
    with pytest.raises(offload.Cancelled, match="not needed"):
        await handle.result(timeout=20)
    async with jobs.worker(concurrency=1, kind="thread"):
        after = await jobs.submit(app.add, 1, 1)
        assert await after.result(timeout=20) == 2
    assert not marker.exists()


async def test_a_running_job_is_cancelled_through_its_token(
    jobs: offload.JobQueue, tmp_path: Path
) -> None:
    started, saw = tmp_path / "started", tmp_path / "saw"
    async with jobs.worker(concurrency=1, kind="process"):
        handle = await jobs.submit(app.wait_for_cancel, str(started), str(saw))
        deadline = time.monotonic() + 20
        while not started.exists():
            assert time.monotonic() < deadline, "the job never started"
            await asyncio.sleep(0.02)
        await handle.cancel()
        with pytest.raises(offload.Cancelled):
            await handle.result(timeout=20)
        deadline = time.monotonic() + 20
        while not saw.exists():
            assert time.monotonic() < deadline, "the job never saw its token cancelled"
            await asyncio.sleep(0.02)
        assert await (await jobs.submit(app.add, 1, 1)).result(timeout=20) == 2


class _Evil:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, ...]:
        return (Path.write_text, (Path(self.path), "pwned"))


@pytest.mark.parametrize("secret", [None, "s3cret"])
async def test_a_forged_pickle_message_is_never_loaded_and_is_dead_lettered(
    amqp_url: str,  # noqa: F811
    queue_name: str,  # noqa: F811
    tmp_path: Path,
    secret: str | None,
) -> None:
    marker = tmp_path / "pwned"
    forged_id = f"{int(time.time() * 1000):012x}" + "f" * 20
    options = {"secret": secret, "serializer": "pickle"} if secret else {}
    async with make_queue(amqp_url, queue_name, **options) as jobs:
        body = pickle.dumps({"fn": "tests._jobs_app.add", "args": [_Evil(str(marker)), 1]})
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body,
                    message_id=forged_id,
                    content_type="application/x-offload-pickle",
                    headers={"x-offload-signature": "0" * 64},
                ),
                routing_key=f"offload.{queue_name}",
            )
        async with jobs.worker(concurrency=1, kind="thread"):
            with pytest.raises(offload.JobRejected, match=r"signature|no secret"):
                await (await jobs.get(forged_id)).result(timeout=20)
        assert not marker.exists()
        assert [m.message_id for m in await dead_letters(amqp_url, queue_name)] == [forged_id]


async def test_signed_pickle_jobs_carry_python_values(
    amqp_url: str,  # noqa: F811
    queue_name: str,  # noqa: F811
) -> None:
    jobs = make_queue(amqp_url, queue_name, serializer="pickle", secret="k")
    async with jobs, jobs.worker(concurrency=1, kind="thread"):
        handle = await jobs.submit(app.add, (1,), (2,))
        assert await handle.result(timeout=20) == (1, 2)


async def _appears(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
async def test_a_long_job_holds_no_other_job_hostage(
    amqp_url: str,  # noqa: F811
    queue_name: str,  # noqa: F811
    tmp_path: Path,
    queue_type: str,
) -> None:
    started, go = tmp_path / "started", tmp_path / "go"
    async with (
        make_queue(amqp_url, queue_name, queue_type=queue_type) as jobs,
        jobs.worker(concurrency=1, kind="thread") as busy,
    ):
        # Short jobs first, so that results are being recorded while others start.
        warm = await jobs.submit_many(app.add, [(i, 1) for i in range(30)])
        assert [await h.result(timeout=30) for h in warm] == [i + 1 for i in range(30)]
        long = await jobs.submit(app.wait_for_file, str(started), str(go))
        await _appears(started)
        short = await jobs.submit_many(app.add, [(i, 2) for i in range(20)])
        try:
            async with jobs.worker(concurrency=1, kind="thread") as other:
                # Every short job runs on the other worker: none waits behind the long one.
                results = [await h.result(timeout=30) for h in short]
                assert results == [i + 2 for i in range(20)]
                assert other.completed == 20
                assert busy.completed == 30
        finally:
            go.write_text("")
        assert await long.result(timeout=30) == 1


async def _ready(url: str, queue: str, count: int, timeout: float = 30) -> None:
    """Wait until the broker's queue holds ``count`` messages not delivered to anyone."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        deadline = time.monotonic() + timeout
        while True:
            declared = await channel.declare_queue(queue, passive=True)
            ready = declared.declaration_result.message_count
            if ready == count:
                return
            assert time.monotonic() < deadline, f"{queue} holds {ready} messages, not {count}"
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
async def test_a_buffer_holds_that_many_jobs_beyond_the_free_slots_and_no_more(
    amqp_url: str,  # noqa: F811
    queue_name: str,  # noqa: F811
    tmp_path: Path,
    queue_type: str,
) -> None:
    started, go = tmp_path / "started", tmp_path / "go"
    async with (
        make_queue(amqp_url, queue_name, queue_type=queue_type) as jobs,
        jobs.worker(concurrency=1, kind="thread", buffer=2) as busy,
    ):
        long = await jobs.submit(app.wait_for_file, str(started), str(go))
        await _appears(started)
        short = await jobs.submit_many(app.add, [(i, 2) for i in range(3)])
        # Two wait in the busy worker behind the long job; the third stays queued ...
        await _ready(amqp_url, f"offload.{queue_name}", 1)
        try:
            async with jobs.worker(concurrency=1, kind="thread") as other:
                # ... until a worker with a free slot takes it.
                assert await short[2].result(timeout=30) == 4
                assert other.completed == 1
        finally:
            go.write_text("")
        assert [await h.result(timeout=30) for h in short[:2]] == [2, 3]
        assert await long.result(timeout=30) == 1
        assert busy.completed == 3


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
async def test_a_stopping_worker_hands_its_buffered_jobs_back_at_once_uncounted(
    amqp_url: str,  # noqa: F811
    queue_name: str,  # noqa: F811
    tmp_path: Path,
    queue_type: str,
) -> None:
    started, go = tmp_path / "started", tmp_path / "go"
    async with make_queue(amqp_url, queue_name, queue_type=queue_type) as jobs:
        busy = jobs.worker(concurrency=1, kind="thread", buffer=2)
        await busy.start()
        stopping = None
        try:
            long = await jobs.submit(app.wait_for_file, str(started), str(go))
            await _appears(started)
            short = await jobs.submit_many(app.attempt, [(), ()])
            await _ready(amqp_url, f"offload.{queue_name}", 0)  # both wait in `busy`
            stopping = asyncio.create_task(busy.stop(grace=60))
            # The running job keeps its grace; the two that never started go back now.
            await _ready(amqp_url, f"offload.{queue_name}", 2, timeout=10)
            async with jobs.worker(concurrency=1, kind="thread") as other:
                # They never ran: their first attempt, not counted as a redelivery.
                assert [await h.result(timeout=30) for h in short] == [1, 1]
                assert other.completed == 2
            assert not stopping.done()
        finally:
            go.write_text("")
            await (stopping or busy.stop())
        assert await long.result(timeout=30) == 1
        assert busy.completed == 1


async def test_a_negative_buffer_is_refused(jobs: offload.JobQueue) -> None:
    with pytest.raises(ValueError, match="buffer must be an integer >= 0"):
        jobs.worker(buffer=-1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stop_grace": -1.0}, "stop_grace must be >= 0 seconds"),
        ({"stop_grace": float("nan")}, "stop_grace must be >= 0 seconds"),
        ({"concurrency": 0}, "concurrency must be an integer >= 1"),
        ({"cancel_grace": -1.0}, "cancel_grace"),
    ],
)
async def test_a_worker_with_a_bad_option_is_refused_before_connecting(
    options: dict[str, Any], message: str
) -> None:
    # No broker is asked: the queue is never opened.
    queue = offload.JobQueue("amqp://guest:guest@127.0.0.1:1/", name="never-opened")
    with pytest.raises(ValueError, match=message):
        queue.worker(**options)


async def test_a_durable_publish_that_stays_unroutable_ends_in_broker_unavailable(
    amqp_url: str,  # noqa: F811
    queue_name: str,  # noqa: F811
) -> None:
    # The broker returns a mandatory publish that no queue takes (here: the work queue
    # was deleted); it is retried as an outage until outage_timeout, then fails: never
    # confirmed as if it had been queued, never waiting forever.
    async with make_queue(amqp_url, queue_name, outage_timeout=1.0) as jobs:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(f"offload.{queue_name}")
        started = time.monotonic()
        with pytest.raises(offload.BrokerUnavailable) as caught:
            await jobs.submit(app.add, 1, 1)
        # Retried up to the deadline (it gives up when the next back-off, 0.5 s at
        # most, would pass it), then raised: not at once, and not hanging.
        assert 0.5 <= time.monotonic() - started < 20
        text = str(caught.value)
        assert "submitting job" in text
        assert "stayed unreachable for 1.0 s" in text
        assert f"Unrouted: queue 'offload.{queue_name}' did not take the message" in text
        assert "NO_ROUTE" in text
        assert "it was deleted" in text
        assert isinstance(caught.value.__cause__, Unrouted)


async def test_a_result_whose_stream_stays_unroutable_ends_in_broker_unavailable(
    amqp_url: str,  # noqa: F811
    queue_name: str,  # noqa: F811
) -> None:
    async with make_queue(amqp_url, queue_name, outage_timeout=1.0) as jobs:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(f"offload.{queue_name}.events")
        started = time.monotonic()
        with pytest.raises(
            offload.BrokerUnavailable, match=r"stayed unreachable for 1\.0 s"
        ) as caught:
            await record(jobs.link, jobs.codec, jobs.topology, new_job_id(), {"type": "result"})
        # Retried up to the deadline (it gives up when the next back-off, 0.5 s at
        # most, would pass it), then raised: not at once, and not hanging.
        assert 0.5 <= time.monotonic() - started < 20
        assert f"queue 'offload.{queue_name}.events' did not take the message" in str(caught.value)
        assert isinstance(caught.value.__cause__, Unrouted)
