"""``JobWorker``: consumes a job queue and runs each job in an ``offload.Pool``.

Per delivery::

    decode + verify ──bad──▶ error recorded, copy to .dead, ack
    cancelled (the worker follows the stream of cancellations) ──▶ ack, skip
    died too often (x-delivery-count > max_redeliveries) ──▶ error, .dead, ack
    pool.submit(job, timeout, token) ── report() values ──▶ events stream
      ok      ──▶ result recorded in the events stream (confirmed) ──▶ ack
      failed  ──▶ attempts left: copy to a delay queue (back-off + jitter) ──▶ ack
                  none left: error recorded, copy to .dead ──▶ ack
      stopped by a worker shutdown ──▶ nack, requeue (another worker runs it)

The event loop only moves messages: the jobs run in the pool, so heartbeats are never
missed however long a job runs. Prefetch equals concurrency: a worker never holds a
job it cannot start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import traceback
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Literal

from offload._cancel import CancelToken
from offload._errors import Cancelled, ClosedError, SerializationError
from offload._pool import Pool

from ._context import JobInfo, run_job
from ._results import follow, record
from ._topology import delay_bucket
from ._wire import ATTEMPT, DELIVERY_COUNT, SIGNATURE, BadMessage, header_int, parse_job

if TYPE_CHECKING:
    import aiormq.abc
    from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel

    from ._queue import JobQueue

__all__ = ["JobWorker"]

_log = logging.getLogger("offload.jobs")
_REMEMBER_CANCELLED = 10_000


class JobWorker:
    """Runs the jobs of one :class:`offload.JobQueue` (made by ``jobs.worker()``).

    ``async with jobs.worker(concurrency=4) as worker: await worker.wait()`` runs until
    :meth:`stop` (the ``offload worker`` command calls it on SIGTERM and SIGINT).
    """

    def __init__(
        self,
        queue: JobQueue,
        *,
        concurrency: int | None,
        kind: Literal["process", "thread"],
        cancel_grace: float,
        stop_grace: float,
    ) -> None:
        if concurrency is not None and (not isinstance(concurrency, int) or concurrency < 1):
            raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        self.queue = queue
        self.pool = Pool(
            kind,
            max_workers=concurrency,
            cancel_grace=cancel_grace,
            idle_timeout=None,
            name=f"offload-jobs-{queue.name}",
        )
        self.concurrency = self.pool.max_workers
        self.stop_grace = stop_grace
        self._channel: AbstractRobustChannel | None = None
        self._work: AbstractQueue | None = None
        self._tag: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._tokens: dict[str, CancelToken] = {}
        self._cancelled: OrderedDict[str, None] = OrderedDict()
        self._abandoning = False
        self._stopping = False
        self._stopped = asyncio.Event()
        self._owns_queue = False
        self._follower: asyncio.Task[None] | None = None
        self.completed = 0
        self.failed = 0

    def __repr__(self) -> str:
        return (
            f"<JobWorker {self.queue.name!r} {self.pool.kind} concurrency={self.concurrency}"
            f" running={len(self._running)}>"
        )

    async def __aenter__(self) -> JobWorker:
        await self.start()
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Open the queue if needed and start consuming."""
        if not self.queue._open:
            await self.queue.open()
            self._owns_queue = True
        topo = self.queue.topology
        self.pool.start()
        channel = self._channel = await self.queue.link.new_channel(prefetch=self.concurrency)
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._follower = asyncio.get_running_loop().create_task(
            follow(self.queue.link, topo.cancels, "first", self._on_cancel, ready=ready),
            name=f"offload-jobs-cancels-{topo.name}",
        )
        await ready
        self._work = await channel.declare_queue(
            topo.work, durable=True, arguments=topo.work_args()
        )
        self._tag = await self._work.consume(self._on_message)

    async def wait(self) -> None:
        """Return once the worker has stopped."""
        await self._stopped.wait()

    async def stop(self, grace: float | None = None) -> None:
        """Stop consuming; give running jobs ``grace`` seconds (default ``stop_grace``)
        to finish, then stop them and hand their messages back to the queue."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        grace = self.stop_grace if grace is None else grace
        try:
            if self._work is not None and self._tag is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._work.cancel(self._tag), timeout=5)
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=grace)
            if self._tasks:
                # Past the grace: stop the jobs at once; their messages go back.
                self._abandoning = True
                await self.pool.close(force=True)
                await asyncio.wait(set(self._tasks))
            await self.pool.close(force=True)
            if self._follower is not None:
                self._follower.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._follower
            if self._channel is not None:
                with contextlib.suppress(Exception):
                    await self._channel.close()
            if self._owns_queue:
                await self.queue.close()
        finally:
            self._stopped.set()

    # -- control messages ------------------------------------------------------------

    def _on_cancel(self, message: Any) -> bool:
        body: bytes = message.body
        if self.queue.codec.signs:
            headers = message.header.properties.headers or {}
            if headers.get(SIGNATURE) != self.queue.codec.sign("text/plain", body):
                _log.warning("ignored a cancel notice with a bad signature")
                return False
        job_id = body.decode(errors="replace")
        self._cancelled[job_id] = None
        while len(self._cancelled) > _REMEMBER_CANCELLED:
            self._cancelled.popitem(last=False)
        token = self._tokens.get(job_id)
        if token is not None:
            token.cancel("cancelled by the producer")
        return False

    # -- jobs ------------------------------------------------------------------------

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handle(message)
        except Exception:
            _log.exception("job message %s could not be handled", message.message_id)
            await _settle(message.nack(requeue=True))
        finally:
            self._tasks.discard(task)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        queue = self.queue
        job_id = message.message_id or ""
        headers = dict(message.headers or {})
        attempt = header_int(headers, ATTEMPT, 1)
        redeliveries = header_int(headers, DELIVERY_COUNT, 0)
        if not job_id or not all(c.isalnum() or c in "-_" for c in job_id):
            await self._dead(message, "", "the message has no valid message id")
            return
        try:
            decoded = queue.codec.decode(message.body, message.content_type, headers.get(SIGNATURE))
            job = parse_job(job_id, decoded, attempt)
            fn = queue._jobs.get(job.fn)
            if fn is None:
                raise BadMessage(f"no job named {job.fn!r} is registered on this worker")
        except BadMessage as exc:
            await self._dead(message, job_id, str(exc), rejected=True, attempt=attempt)
            return
        if self._stopping and self._abandoning:
            await _settle(message.nack(requeue=True))
            return
        if job_id in self._cancelled:
            await _settle(message.ack())
            return
        running = self._running.get(job_id)
        if running is not None:  # a redelivery of a job still running here
            await asyncio.wait({running})
            await _settle(message.ack())
            return
        if redeliveries > queue.max_redeliveries:
            await self._dead(
                message,
                job_id,
                f"the worker running it died {redeliveries} times; not trying again",
                error_type="WorkerCrashed",
                attempt=attempt + redeliveries,
            )
            return
        task = asyncio.current_task()
        assert task is not None
        self._running[job_id] = task
        try:
            await self._run(message, job, fn, attempt, redeliveries)
        finally:
            self._running.pop(job_id, None)
            self._tokens.pop(job_id, None)

    async def _run(
        self,
        message: AbstractIncomingMessage,
        job: Any,
        fn: Any,
        attempt: int,
        redeliveries: int,
    ) -> None:
        queue = self.queue
        topo = queue.topology
        info = JobInfo(job.id, attempt + redeliveries, topo.name)
        token = self._tokens[job.id] = CancelToken()
        if job.id in self._cancelled:
            token.cancel("cancelled by the producer")
        timeout = min(job.timeout or queue.timeout or queue.max_timeout, queue.max_timeout)
        try:
            handle = self.pool.submit(
                run_job, fn, info, job.args, job.kwargs, timeout=timeout, token=token
            )
        except ClosedError:
            await _settle(message.nack(requeue=True))
            return
        forward = asyncio.get_running_loop().create_task(
            self._forward(handle, job.id, info, message.reply_to)
        )
        outcome: BaseException | None = None
        value: Any = None
        try:
            value = await handle
        except Cancelled as exc:
            outcome = exc
        except Exception as exc:
            outcome = exc
        with contextlib.suppress(Exception):
            await forward
        if isinstance(outcome, Cancelled) or (self._abandoning and outcome is not None):
            if self._abandoning:
                await _settle(message.nack(requeue=True))  # another worker runs it
            else:
                await _settle(message.ack())  # the producer recorded the cancel
            return
        if outcome is None:
            await record(
                queue.link,
                queue.codec,
                topo,
                job.id,
                {
                    "type": "result",
                    "value": value,
                    "attempt": info.attempt,
                },
                message.reply_to,
            )
            self.completed += 1
            await _settle(message.ack())
            return
        self.failed += 1
        error_type = type(outcome).__qualname__
        text = "".join(traceback.format_exception(outcome))
        if attempt <= job.retries:
            await self._retry(message, job, attempt, error_type, str(outcome))
            return
        await self._dead(
            message,
            job.id,
            str(outcome),
            error_type=error_type,
            remote_traceback=text,
            attempt=info.attempt,
        )

    async def _forward(self, handle: Any, job_id: str, info: JobInfo, reply_to: str | None) -> None:
        queue = self.queue
        async for value in handle.progress():
            try:
                await record(
                    queue.link,
                    queue.codec,
                    queue.topology,
                    job_id,
                    {
                        "type": "progress",
                        "value": value,
                        "attempt": info.attempt,
                    },
                    reply_to,
                )
            except SerializationError as exc:
                _log.warning("job %s reported a value that cannot travel: %s", job_id, exc)

    def _backoff(self, attempt: int) -> float:
        base = min(self.queue.retry_delay * 2 ** (attempt - 1), self.queue.max_retry_delay)
        return float(base * random.uniform(0.5, 1.0))

    async def _retry(
        self,
        message: AbstractIncomingMessage,
        job: Any,
        attempt: int,
        error_type: str,
        error: str,
    ) -> None:
        """Hand the job to the broker for its next attempt after a back-off."""
        queue = self.queue
        ms = delay_bucket(self._backoff(attempt))
        await queue._ensure_delay(ms)
        content_type = message.content_type or "application/json"
        await queue.publish_job(
            job.id,
            message.body,
            content_type,
            queue.topology.delay(ms),
            attempt=attempt + 1,
            priority=message.priority,
            reply_to=message.reply_to,
        )
        with contextlib.suppress(SerializationError):
            await record(
                queue.link,
                queue.codec,
                queue.topology,
                job.id,
                {
                    "type": "retry",
                    "attempt": attempt,
                    "error_type": error_type,
                    "error": error,
                    "delay": ms / 1000,
                },
            )
        await _settle(message.ack())

    async def _dead(
        self,
        message: AbstractIncomingMessage,
        job_id: str,
        error: str,
        *,
        error_type: str = "",
        remote_traceback: str = "",
        rejected: bool = False,
        attempt: int = 1,
    ) -> None:
        """Record the failure, copy the message to the dead-letter queue, ack it."""
        queue = self.queue
        topo = queue.topology
        if rejected and not error_type:
            error_type = "JobRejected"
        if job_id:
            await record(
                queue.link,
                queue.codec,
                topo,
                job_id,
                {
                    "type": "error",
                    "error_type": error_type,
                    "error": error,
                    "traceback": remote_traceback,
                    "rejected": rejected,
                    "attempt": attempt,
                },
                None if rejected else message.reply_to,
            )
        headers = dict(message.headers or {})
        headers["x-offload-error"] = f"{error_type}: {error}"[:4000]
        body = message.body
        from pamqp.commands import Basic

        props = Basic.Properties(
            content_type=message.content_type,
            delivery_mode=2,
            message_id=message.message_id,
            headers=headers,
        )

        async def publish(ch: aiormq.abc.AbstractChannel) -> None:
            await ch.basic_publish(body, exchange="", routing_key=topo.dead, properties=props)

        await queue.link.call(publish, f"dead-lettering job {job_id or '(no id)'}")
        _log.warning("job %s dead-lettered: %s: %s", job_id or "(no id)", error_type, error)
        await _settle(message.ack())


async def _settle(operation: Any) -> None:
    """Ack or nack; when the channel that delivered the message is gone the broker has
    requeued it already, and the redelivery finds its result recorded."""
    try:
        await operation
    except Exception as exc:
        _log.debug("could not settle a message: %r", exc)
