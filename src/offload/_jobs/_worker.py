"""``JobWorker``: consumes a job queue and runs each job in an ``offload.Pool``.

Per delivery::

    decode + verify ──bad──▶ error recorded, copy to .dead, ack
    cancelled (the worker follows the stream of cancellations) ──▶ ack, skip
    redelivered (classic queue) ──▶ republished with x-offload-redeliveries + 1, ack
    died too often (redeliveries > max_redeliveries) ──▶ error, .dead, ack
    pool.submit(job, timeout, token) ── report() values ──▶ events stream
      ok      ──▶ the pool slot is free at once; the settler records the results
                  that piled up (one events-stream message per batch, confirmed),
                  sends each producer one copy of its own, then acks the batch
      failed  ──▶ attempts left: copy to a delay queue (back-off + jitter) ──▶ ack
                  none left: error recorded, copy to .dead ──▶ ack
      stopped by a worker shutdown ──▶ nack, requeue (another worker runs it)
    buffered (waiting for a slot) when the worker stops ──▶ republished as it came, ack

The event loop only moves messages: the jobs run in the pool, so heartbeats are never
missed however long a job runs.

Prefetch, exactly: a delivery is "parked" once it no longer needs a pool slot (its job
ended and its result is being recorded, or it is being skipped, dead-lettered or
retried) and until its ack or nack is sent. On a classic queue the channel's prefetch
(global QoS, which the broker applies at once) follows ``concurrency + buffer + parked``
(``buffer``: deliveries allowed to wait here for a slot, 0 by default): raised when a
delivery parks, lowered *before* the ack that unparks it is sent. So the broker never
holds more unacked deliveries than ``running + parked + free slots + buffer``; with no
buffer a delivery never waits here behind a running job: a long job holds nobody
hostage, while the next job starts as soon as a slot frees, not after two confirmed
writes. Buffered deliveries wait for a slot here (not in the pool), so a stopping worker
hands them back at once. Quorum queues refuse a global QoS: there prefetch is
``concurrency + buffer`` for the consumer's life, and a slot's next delivery waits for
the previous job's ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import traceback
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Literal

from offload._cancel import CancelToken
from offload._errors import Cancelled, ClosedError, SerializationError
from offload._pool import Pool

from ._context import JobInfo, run_job
from ._link import publish
from ._queue import ensure_delay_queue, is_open, registered_job
from ._results import batch_message, copy_to, follow, properties, record, stamp
from ._topology import delay_bucket
from ._wire import (
    ATTEMPT,
    DELIVERY_COUNT,
    REDELIVERIES,
    SIGNATURE,
    BadMessage,
    header_int,
    parse_job,
)

if TYPE_CHECKING:
    import aiormq.abc
    from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel

    from ._queue import JobQueue

__all__ = ["JobWorker"]

_log = logging.getLogger("offload.jobs")
_REMEMBER_CANCELLED = 10_000
_MARKER = "x-offload-marker"
_BATCH = 200  # results recorded in one stream message at most


class _Delivery:
    """One delivery and the channel it came on (acks go to that channel only)."""

    __slots__ = ("channel", "message", "tag")

    def __init__(self, message: AbstractIncomingMessage) -> None:
        self.message = message
        self.channel: aiormq.abc.AbstractChannel = message.channel
        self.tag: int = message.delivery_tag or 0


class _Done:
    """A job that ended well: its result event waits to be recorded, then the ack."""

    __slots__ = ("delivery", "event", "job_id", "reply_to", "settled")

    def __init__(
        self,
        delivery: _Delivery,
        job_id: str,
        event: dict[str, Any],
        settled: asyncio.Future[bool],
    ) -> None:
        self.delivery = delivery
        self.job_id = job_id
        self.event = event
        self.reply_to = delivery.message.reply_to
        self.settled = settled


class JobWorker:
    """Runs the jobs of one :class:`offload.JobQueue` (made by ``jobs.worker()``).

    ``async with jobs.worker(concurrency=4) as worker: await worker.wait()`` runs until
    :meth:`stop` (the ``offload worker`` command calls it on SIGTERM and SIGINT).
    Starting raises :class:`offload.BrokerUnavailable` when the broker cannot be reached.

    Example::

        async with offload.JobQueue(url, name="mail") as jobs:
            jobs.register(send_mails)
            async with jobs.worker(concurrency=4) as worker:
                await worker.wait()
    """

    def __init__(
        self,
        queue: JobQueue,
        *,
        concurrency: int | None,
        kind: Literal["process", "thread"],
        cancel_grace: float,
        stop_grace: float,
        buffer: int = 0,
    ) -> None:
        if concurrency is not None and (not isinstance(concurrency, int) or concurrency < 1):
            raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        if not isinstance(buffer, int) or buffer < 0:
            raise ValueError(f"buffer must be an integer >= 0, got {buffer!r}")
        if not stop_grace >= 0:  # NaN included
            raise ValueError(f"stop_grace must be >= 0 seconds, got {stop_grace!r}")
        self.queue = queue
        self.pool = Pool(
            kind,
            max_workers=concurrency,
            cancel_grace=cancel_grace,
            idle_timeout=None,
            name=f"offload-jobs-{queue.name}",
        )
        self.concurrency = self.pool.max_workers
        self.buffer = buffer
        # The prefetch with nothing parked: a delivery for every slot, plus the buffer.
        self._base = self.concurrency + buffer
        self.stop_grace = stop_grace
        self._classic = queue.topology.queue_type == "classic"
        self._channel: AbstractRobustChannel | None = None
        self._copies: AbstractRobustChannel | None = None
        self._work: AbstractQueue | None = None
        self._tag: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._helpers: set[asyncio.Task[None]] = set()
        # job id -> resolved once that job's delivery is settled (True: acked, False:
        # handed back to the queue)
        self._running: dict[str, asyncio.Future[bool]] = {}
        self._tokens: dict[str, CancelToken] = {}
        self._cancelled: OrderedDict[str, None] = OrderedDict()
        # Per channel: unacked delivery tags, the parked ones, the prefetch last sent.
        self._held: dict[Any, set[int]] = {}
        self._parked: dict[Any, set[int]] = {}
        self._limit: dict[Any, int] = {}
        self._raising: set[Any] = set()
        self._qos_lock = asyncio.Lock()
        self._outbox: list[_Done] = []
        self._outbox_ready = asyncio.Event()
        self._outbox_idle = asyncio.Event()
        self._outbox_idle.set()
        self._settler: asyncio.Task[None] | None = None
        self._abandoning = False
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self._stopped = asyncio.Event()
        # A job takes a slot before it goes to the pool: buffered deliveries wait here,
        # where a stop hands them back at once (none waits inside the pool).
        self._slots = asyncio.Semaphore(self.concurrency)
        self._owns_queue = False
        self._follower: asyncio.Task[None] | None = None
        self._caught_up: asyncio.Future[None] | None = None
        self._marker = ""
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
        if not is_open(self.queue):
            await self.queue.open()
            self._owns_queue = True
        topo = self.queue.topology
        self.pool.start()
        loop = asyncio.get_running_loop()
        self._settler = loop.create_task(
            self._settle_loop(), name=f"offload-jobs-settler-{topo.name}"
        )
        self._copies = await self.queue.link.new_channel(confirms=False)
        channel = self._channel = await self.queue.link.new_channel(
            prefetch=self._base, global_qos=self._classic
        )
        # Read every cancellation recorded so far before taking a job: append a marker
        # to the stream and follow it from the start until the marker comes by.
        caught_up = self._caught_up = loop.create_future()
        self._marker = uuid.uuid4().hex
        marker = self._marker.encode()
        props = properties(self.queue.codec, "text/plain", marker, headers={_MARKER: "1"})

        async def publish_marker(ch: aiormq.abc.AbstractChannel) -> None:
            await publish(ch, marker, topo.cancels, props)

        await self.queue.link.call(publish_marker, "starting to follow the cancellations")
        self._follower = loop.create_task(
            follow(self.queue.link, topo.cancels, "first", self._on_cancel),
            name=f"offload-jobs-cancels-{topo.name}",
        )
        done, _ = await asyncio.wait(
            {caught_up, self._follower},
            timeout=self.queue.outage_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if self._follower in done:
            await self._follower  # raises what stopped it
        if not done:
            # Start anyway: cancellations still reach running and later jobs.
            _log.warning("the stream of cancellations was not read up to now in time")
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
        self._stop_requested.set()
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
            # Results of finished jobs: recorded and acked before the channel closes
            # (each record gives up after the queue's outage_timeout).
            await self._outbox_idle.wait()
            await self.pool.close(force=True)
            for task in [self._follower, self._settler, *self._helpers]:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            for channel in (self._channel, self._copies):
                if channel is not None:
                    with contextlib.suppress(Exception):
                        await channel.close()
            if self._owns_queue:
                await self.queue.close()
        finally:
            self._stopped.set()

    # -- control messages ------------------------------------------------------------

    def _on_cancel(self, message: Any) -> bool:
        body: bytes = message.body
        if (message.header.properties.headers or {}).get(_MARKER):
            caught_up = self._caught_up
            mine = body.decode(errors="replace") == self._marker
            if mine and caught_up is not None and not caught_up.done():
                caught_up.set_result(None)
            return False
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

    # -- prefetch: concurrency + parked deliveries -----------------------------------

    def _park(self, delivery: _Delivery) -> None:
        """``delivery`` no longer needs a pool slot (and is not settled yet)."""
        parked = self._parked.setdefault(delivery.channel, set())
        if delivery.tag in parked:
            return
        parked.add(delivery.tag)
        if self._classic and delivery.channel not in self._raising:
            self._raising.add(delivery.channel)
            task = asyncio.get_running_loop().create_task(self._raise(delivery.channel))
            self._helpers.add(task)
            task.add_done_callback(self._helpers.discard)

    async def _raise(self, channel: Any) -> None:
        async with self._qos_lock:
            self._raising.discard(channel)
            limit = self._base + len(self._parked.get(channel, ()))
            if limit > self._limit.get(channel, self._base):
                with contextlib.suppress(Exception):  # closed: its deliveries went back
                    await channel.basic_qos(prefetch_count=limit, global_=True)
                    self._limit[channel] = limit

    async def _settle(self, deliveries: list[_Delivery], *, requeue: bool = False) -> None:
        """Ack (or nack and requeue) ``deliveries``; on a classic queue, lower the
        prefetch first, so that the freed credit never exceeds the free slots."""
        groups: dict[Any, list[int]] = {}
        for delivery in deliveries:
            groups.setdefault(delivery.channel, []).append(delivery.tag)
        for channel, tags in groups.items():
            async with self._qos_lock:
                parked = self._parked.get(channel, set())
                held = self._held.get(channel, set())
                parked.difference_update(tags)
                try:
                    if self._classic:
                        limit = self._base + len(parked)
                        if limit < self._limit.get(channel, self._base):
                            await channel.basic_qos(prefetch_count=limit, global_=True)
                            self._limit[channel] = limit
                    if requeue:
                        for tag in tags:
                            await channel.basic_nack(tag, requeue=True, wait=False)
                    else:
                        top = max(tags)
                        chosen = set(tags)
                        if all(tag in chosen for tag in held if tag <= top):
                            # Every unacked delivery up to `top` is in this batch.
                            await channel.basic_ack(top, multiple=True, wait=False)
                        else:
                            for tag in tags:
                                await channel.basic_ack(tag, wait=False)
                except Exception as exc:
                    # The channel that delivered them is gone: the broker has requeued
                    # them already, and a redelivery finds the result recorded.
                    _log.debug("could not settle %d message(s): %r", len(tags), exc)
                finally:
                    held.difference_update(tags)
                    if not held and channel.is_closed:
                        self._held.pop(channel, None)
                        self._parked.pop(channel, None)
                        self._limit.pop(channel, None)

    # -- results: recorded a batch at a time, then acked -----------------------------

    async def _settle_loop(self) -> None:
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            while self._outbox:
                batch, self._outbox = self._outbox, []
                try:
                    await self._record_batch(batch)
                except Exception:  # pragma: no cover - a bug; keep settling the rest
                    _log.exception("recording %d results failed", len(batch))
                    for done in batch:
                        if not done.settled.done():
                            done.settled.set_result(False)
            self._outbox_idle.set()

    async def _record_batch(self, batch: list[_Done]) -> None:
        for start in range(0, len(batch), _BATCH):
            await self._record_chunk(batch[start : start + _BATCH])

    async def _record_chunk(self, batch: list[_Done]) -> None:
        """Record the results of ``batch`` in one confirmed stream message, send each
        producer one copy of its own, then ack them all."""
        queue = self.queue
        stream = queue.topology.events
        events = [(d.job_id, stamp(d.event)) for d in batch]
        recorded = False
        try:
            body, props, events = batch_message(queue.codec, events)

            async def publish_batch(ch: aiormq.abc.AbstractChannel) -> None:
                await publish(ch, body, stream, props)

            await queue.link.call(publish_batch, f"recording the results of {len(batch)} jobs")
            recorded = True
        except Exception as exc:
            _log.warning("the results of %d jobs could not be recorded: %r", len(batch), exc)
        if not recorded:
            await self._settle([d.delivery for d in batch], requeue=True)
        else:
            self.completed += len(batch)
            if any(d.reply_to for d in batch) and self._copies is not None:
                with contextlib.suppress(Exception):
                    await self._send_copies(batch, events, body, props)
            await self._settle([d.delivery for d in batch])
        for d in batch:
            if not d.settled.done():
                d.settled.set_result(recorded)

    async def _send_copies(
        self, batch: list[_Done], events: list[tuple[str, dict[str, Any]]], body: bytes, props: Any
    ) -> None:
        """One transient copy per producer of the events of its jobs (best effort)."""
        assert self._copies is not None
        channel = await self._copies.get_underlay_channel()
        groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for d, event in zip(batch, events, strict=True):
            if d.reply_to:
                groups.setdefault(d.reply_to, []).append(event)
        for reply_to, group in groups.items():
            if len(group) == len(events):
                await copy_to(channel, reply_to, body, props)
            else:
                group_body, group_props, _ = batch_message(self.queue.codec, group)
                await copy_to(channel, reply_to, group_body, group_props)

    # -- jobs ------------------------------------------------------------------------

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        # The delivery is handled in a task of the worker's own, not in the channel's
        # consumer task: the channel cancels its consumer tasks when the connection
        # drops, which would kill a running job only for its redelivery to run it again.
        # Here the job goes on; its redelivery waits for it (see _handle).
        delivery = _Delivery(message)
        self._held.setdefault(delivery.channel, set()).add(delivery.tag)
        task = asyncio.get_running_loop().create_task(self._consume(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _consume(self, delivery: _Delivery) -> None:
        try:
            await self._handle(delivery)
        except Exception:
            _log.exception("job message %s could not be handled", delivery.message.message_id)
            self._park(delivery)
            await self._settle([delivery], requeue=True)

    async def _handle(self, delivery: _Delivery) -> None:
        queue = self.queue
        message = delivery.message
        job_id = message.message_id or ""
        headers = dict(message.headers or {})
        attempt = header_int(headers, ATTEMPT, 1)
        redeliveries = header_int(headers, DELIVERY_COUNT, 0) + header_int(headers, REDELIVERIES, 0)
        if not job_id or not all(c.isalnum() or c in "-_" for c in job_id):
            await self._dead(delivery, "", "the message has no valid message id")
            return
        try:
            decoded = queue.codec.decode(message.body, message.content_type, headers.get(SIGNATURE))
            job = parse_job(job_id, decoded, attempt)
            fn = registered_job(queue, job.fn)
            if fn is None:
                raise BadMessage(f"no job named {job.fn!r} is registered on this worker")
        except BadMessage as exc:
            await self._dead(delivery, job_id, str(exc), rejected=True, attempt=attempt)
            return
        if self._stopping and self._abandoning:
            self._park(delivery)
            await self._settle([delivery], requeue=True)
            return
        if job_id in self._cancelled:
            self._park(delivery)
            await self._settle([delivery])
            return
        running = self._running.get(job_id)
        if running is not None:  # a redelivery of a job still running (or settling) here
            self._park(delivery)
            # Acked there (result recorded, or failed for good): ack this copy too.
            # Handed back there: hand this one back as well.
            acked = await asyncio.shield(running)
            await self._settle([delivery], requeue=not acked)
            return
        if self._classic and message.redelivered:
            # Count the redelivery where the next delivery sees it: republish with the
            # count + 1 (confirmed), then ack this one.
            redeliveries += 1
            if redeliveries <= queue.max_redeliveries:
                self._park(delivery)
                await self._republish(message, job_id, attempt, redeliveries)
                await self._settle([delivery])
                return
        if redeliveries > queue.max_redeliveries:
            await self._dead(
                delivery,
                job_id,
                f"the worker running it died {redeliveries} times; not trying again",
                error_type="WorkerCrashed",
                attempt=attempt + redeliveries,
            )
            return
        settled: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._running[job_id] = settled
        to_settler = False
        try:
            to_settler = await self._run(delivery, job, fn, attempt, redeliveries, settled)
        finally:
            self._tokens.pop(job_id, None)
            # A result handed to the settler resolves `settled` once it is recorded and
            # acked; until then a redelivery of the job waits for it.
            if not settled.done() and not to_settler:
                settled.set_result(False)
            if self._running.get(job_id) is settled:
                settled.add_done_callback(lambda _: self._forget(job_id, settled))

    def _forget(self, job_id: str, settled: asyncio.Future[bool]) -> None:
        if self._running.get(job_id) is settled:
            del self._running[job_id]

    async def _run(
        self,
        delivery: _Delivery,
        job: Any,
        fn: Any,
        attempt: int,
        redeliveries: int,
        settled: asyncio.Future[bool],
    ) -> bool:
        """Run the job; True when its result went to the settler (which resolves
        ``settled``)."""
        queue = self.queue
        message = delivery.message
        topo = queue.topology
        if not await self._take_slot():
            await self._hand_back(delivery, job.id, attempt, redeliveries)
            return False
        if job.id in self._cancelled:  # cancelled while it waited for the slot
            self._slots.release()
            self._park(delivery)
            await self._settle([delivery])
            settled.set_result(True)
            return False
        info = JobInfo(job.id, attempt + redeliveries, topo.name)
        token = self._tokens[job.id] = CancelToken()
        timeout = min(job.timeout or queue.timeout or queue.max_timeout, queue.max_timeout)
        try:
            handle = self.pool.submit(
                run_job, fn, info, job.args, job.kwargs, timeout=timeout, token=token
            )
        except ClosedError:
            self._slots.release()
            self._park(delivery)
            await self._settle([delivery], requeue=True)
            return False
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
        self._slots.release()
        self._park(delivery)  # the pool slot is free: the broker may send the next job
        with contextlib.suppress(Exception):
            await forward
        if isinstance(outcome, Cancelled) or (self._abandoning and outcome is not None):
            if self._abandoning:
                await self._settle([delivery], requeue=True)  # another worker runs it
            else:
                await self._settle([delivery])  # the producer recorded the cancel
                settled.set_result(True)
            return False
        if outcome is None:
            event = {"type": "result", "value": value, "attempt": info.attempt}
            self._outbox.append(_Done(delivery, job.id, event, settled))
            self._outbox_idle.clear()
            self._outbox_ready.set()
            return True
        self.failed += 1
        error_type = type(outcome).__qualname__
        text = "".join(traceback.format_exception(outcome))
        if attempt <= job.retries:
            await self._retry(delivery, job, attempt, error_type, str(outcome))
        else:
            await self._dead(
                delivery,
                job.id,
                str(outcome),
                error_type=error_type,
                remote_traceback=text,
                attempt=info.attempt,
            )
        settled.set_result(True)
        return False

    async def _hand_back(
        self, delivery: _Delivery, job_id: str, attempt: int, redeliveries: int
    ) -> None:
        """Return a delivery that never started (the worker stops) to the queue without
        counting it as a redelivery: a nack would set the broker's redelivered flag (or
        a quorum queue's delivery count), which counts towards ``max_redeliveries``.
        Republished as it came, confirmed, then acked; nacked if that fails."""
        self._park(delivery)
        try:
            await self._republish(delivery.message, job_id, attempt, redeliveries)
        except Exception as exc:
            _log.debug("could not hand job %s back by a publish: %r", job_id, exc)
            await self._settle([delivery], requeue=True)
        else:
            await self._settle([delivery])

    async def _republish(
        self, message: AbstractIncomingMessage, job_id: str, attempt: int, redeliveries: int
    ) -> None:
        """Publish ``message`` to the work queue again as it came, with its count of
        redeliveries (confirmed)."""
        queue = self.queue
        await queue.publish_job(
            job_id,
            message.body,
            message.content_type or "application/json",
            queue.topology.work,
            attempt=attempt,
            priority=message.priority,
            reply_to=message.reply_to,
            headers={REDELIVERIES: redeliveries} if redeliveries else None,
        )

    async def _take_slot(self) -> bool:
        """Wait for a free pool slot (at once unless deliveries are buffered); False,
        holding none, when the worker stops first."""
        if self._stopping:
            return False
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns without waiting
            return True
        acquire = asyncio.ensure_future(self._slots.acquire())
        stop = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait({acquire, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            acquire.cancel()  # no-op once it has the slot
        with contextlib.suppress(asyncio.CancelledError):
            await acquire
        if not acquire.cancelled() and acquire.exception() is None:
            if not self._stop_requested.is_set():
                return True
            self._slots.release()
        return False

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
        delivery: _Delivery,
        job: Any,
        attempt: int,
        error_type: str,
        error: str,
    ) -> None:
        """Hand the job to the broker for its next attempt after a back-off."""
        queue = self.queue
        message = delivery.message
        self._park(delivery)
        ms = delay_bucket(self._backoff(attempt))
        await ensure_delay_queue(queue, ms)
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
        await self._settle([delivery])

    async def _dead(
        self,
        delivery: _Delivery,
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
        message = delivery.message
        topo = queue.topology
        self._park(delivery)
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

        async def publish_dead(ch: aiormq.abc.AbstractChannel) -> None:
            await publish(ch, body, topo.dead, props)

        await queue.link.call(publish_dead, f"dead-lettering job {job_id or '(no id)'}")
        _log.warning("job %s dead-lettered: %s: %s", job_id or "(no id)", error_type, error)
        await self._settle([delivery])
