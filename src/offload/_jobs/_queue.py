"""``offload.JobQueue``: the producer side, and the registry of job functions.

Data flow of one job (see ``_topology`` for the broker objects)::

    submit ──claim key (optional)──▶ publish, persistent ──▶ broker confirms ──▶ JobHandle
                                                                     │
    worker ◀── delivery (prefetch = concurrency) ◀───────────────────┘
      │ decode + verify (``_wire``), look the name up in the registry
      │ run in an offload.Pool; report() values ──▶ events stream (``_results``)
      │ result / last error ──▶ events stream, confirmed ──▶ then ack
    JobHandle.result() ◀── events stream (kept result_ttl, readable by id)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from offload._errors import ClosedError, JobError

from ._handle import JobHandle
from ._link import Link, publish
from ._results import Hub, Reader, job_time, new_job_id, properties, record
from ._topology import DELAY_REDECLARE_MS, Topology, delay_bucket
from ._wire import ATTEMPT, Codec, Serializer, job_body

if TYPE_CHECKING:
    import aiormq.abc

    from ._worker import JobWorker

__all__ = ["JobQueue"]

F = TypeVar("F", bound=Callable[..., Any])

# RabbitMQ closes the channel of a consumer that holds a message longer than its
# consumer_timeout (30 minutes by default); a job must end (or be killed) before that.
DEFAULT_MAX_TIMEOUT = 25 * 60.0
BROKER_DELIVERY_LIMIT = 20


class JobQueue:
    """Durable jobs on RabbitMQ: submit from anywhere, run them on ``offload worker``.

    ``url`` is an AMQP URL; ``name`` names the queue (workers consume ``--queue name``).
    Jobs are functions registered with :meth:`job` (or :meth:`register`) and travel by
    name; arguments and results are JSON unless ``serializer="pickle"``, which needs a
    ``secret`` shared with the workers (every message is then signed and checked).

    Options: ``result_ttl`` (seconds a job's result and progress wait for a reader),
    ``timeout`` (default job timeout; at most ``max_timeout``, which stays below the
    broker's consumer_timeout), ``retry_delay`` / ``max_retry_delay`` (exponential
    back-off with jitter between attempts), ``max_redeliveries`` (a job whose worker
    died that many times is dead-lettered), ``outage_timeout`` (how long a call waits
    for a lost broker before :class:`offload.BrokerUnavailable`), ``queue_type``
    ("quorum", or "classic" for full message priorities).

    Raises ``ValueError`` for bad options, :class:`offload.BrokerUnavailable` when the
    broker cannot be reached.

    Example::

        jobs = offload.JobQueue("amqp://guest:guest@localhost/", name="mail")

        @jobs.job
        def send_mails(addresses):
            for n, address in enumerate(addresses, 1):
                send(address)
                offload.report(n)
            return len(addresses)

        async with jobs:
            handle = await jobs.submit(send_mails, ["a@example.org"])
            print(await handle.result())
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "default",
        serializer: Serializer = "json",
        secret: bytes | str | None = None,
        result_ttl: float = 24 * 3600.0,
        timeout: float | None = None,
        max_timeout: float = DEFAULT_MAX_TIMEOUT,
        retry_delay: float = 1.0,
        max_retry_delay: float = 300.0,
        max_redeliveries: int = 3,
        outage_timeout: float = 30.0,
        queue_type: Literal["classic", "quorum"] = "classic",
    ) -> None:
        if not name or not all(c.isalnum() or c in "-_" for c in name):
            raise ValueError(f"JobQueue name must be letters, digits, '-' or '_', got {name!r}")
        if queue_type not in ("quorum", "classic"):
            raise ValueError(f"queue_type must be 'quorum' or 'classic', got {queue_type!r}")
        for label, value in (
            ("result_ttl", result_ttl),
            ("max_timeout", max_timeout),
            ("retry_delay", retry_delay),
            ("max_retry_delay", max_retry_delay),
            ("outage_timeout", outage_timeout),
        ):
            if not value > 0:
                raise ValueError(f"{label} must be > 0 seconds, got {value!r}")
        if not 0 <= max_redeliveries <= BROKER_DELIVERY_LIMIT - 2:
            raise ValueError(
                f"max_redeliveries must be from 0 to {BROKER_DELIVERY_LIMIT - 2}, "
                f"got {max_redeliveries!r}"
            )
        self.url = url
        self.name = name
        self.codec = Codec(serializer, secret)
        self.max_timeout = max_timeout
        self.timeout = self._check_timeout(timeout)
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.max_redeliveries = max_redeliveries
        self.outage_timeout = outage_timeout
        # The broker's own delivery limit is the backstop behind the worker's check; it
        # is fixed, so producers and workers with other settings declare the same queue.
        self.topology = Topology(name, result_ttl, BROKER_DELIVERY_LIMIT, queue_type)
        self.link = Link(url, outage_timeout=outage_timeout, name=f"offload jobs {name}")
        self._jobs: dict[str, Callable[..., Any]] = {}
        self._names: dict[Callable[..., Any], str] = {}
        self._hub: Hub | None = None
        self._delays: dict[int, float] = {}
        self._open = False
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._open else "new"
        return f"<JobQueue {self.name!r} {state} jobs={len(self._jobs)}>"

    # -- registry --------------------------------------------------------------------

    @overload
    def job(self, fn: F, /) -> F: ...

    @overload
    def job(self, fn: None = None, /, *, name: str | None = None) -> Callable[[F], F]: ...

    def job(self, fn: F | None = None, /, *, name: str | None = None) -> F | Callable[[F], F]:
        """Register ``fn`` as a job (decorator, with or without ``name=``); returns ``fn``.

        Example::

            @jobs.job
            def resize(path): ...

            @jobs.job(name="mail.send")
            def send(address): ...
        """
        if fn is None:
            return lambda f: self.register(f, name=name)
        return self.register(fn, name=name)

    def register(self, fn: F, *, name: str | None = None) -> F:
        """Register ``fn`` under ``name`` (default ``module.qualname``); returns ``fn``.

        Workers run only registered functions, found by this name. Raises ``TypeError``
        for something not callable, ``ValueError`` for a name taken by another function.
        """
        if not callable(fn):
            raise TypeError(f"a job must be a function, got {type(fn).__qualname__}")
        if asyncio.iscoroutinefunction(fn):
            raise TypeError(
                f"{fn.__qualname__} is a coroutine function; jobs run in pool workers, "
                "so register a plain function"
            )
        key = name or f"{fn.__module__}.{fn.__qualname__}"
        if self._jobs.get(key, fn) is not fn:
            raise ValueError(f"another function is already registered as job {key!r}")
        self._jobs[key] = fn
        self._names[fn] = key
        return fn

    @property
    def registered(self) -> dict[str, Callable[..., Any]]:
        """The registered jobs by name (a copy)."""
        return dict(self._jobs)

    def _name_of(self, fn: Callable[..., Any] | str) -> str:
        if isinstance(fn, str):
            return fn
        try:
            return self._names[fn]
        except (KeyError, TypeError):
            raise ValueError(
                f"{getattr(fn, '__qualname__', fn)!r} is not a registered job; register it "
                "with @jobs.job (workers run only registered functions)"
            ) from None

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> JobQueue:
        await self.open()
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect and declare the queues (``async with`` does this)."""
        if self._closed:
            raise ClosedError(f"{self!r} is closed; create a new JobQueue")
        if self._open:
            return
        await self.link.open()
        topo = self.topology
        declarations = [
            (topo.dead, {}),
            (topo.work, topo.work_args()),
            (topo.events, topo.stream_args()),
            (topo.cancels, topo.stream_args()),
        ]
        for queue_name, arguments in declarations:

            async def declare(
                ch: aiormq.abc.AbstractChannel,
                queue_name: str = queue_name,
                arguments: dict[str, Any] = arguments,
            ) -> None:
                await ch.queue_declare(queue_name, durable=True, arguments=arguments)

            try:
                await self.link.call(declare, f"declaring queue {queue_name}")
            except Exception as exc:
                await self.link.close()
                if isinstance(exc, JobError):
                    raise
                raise JobError(
                    f"could not declare queue {queue_name!r}: {exc}; it exists with other "
                    "settings (queue_type?); delete it or use the same settings"
                ) from exc
        self._hub = Hub(self.link, self.codec, topo)
        await self._hub.start()
        self._open = True

    async def close(self) -> None:
        """Stop reading results and disconnect."""
        self._closed = True
        if self._hub is not None:
            await self._hub.close()
            self._hub = None
        if self._open:
            self._open = False
            await self.link.close()

    def _check_open(self) -> None:
        if not self._open:
            raise ClosedError(
                f"{self!r} is not open; use `async with jobs:` or `await jobs.open()`"
            )

    # -- submitting ------------------------------------------------------------------

    def _check_timeout(self, timeout: float | None) -> float | None:
        if timeout is None:
            return None
        if not 0 < timeout <= self.max_timeout:
            raise ValueError(
                f"timeout must be > 0 and at most max_timeout ({self.max_timeout} s, below "
                f"the broker's consumer_timeout), got {timeout!r}"
            )
        return float(timeout)

    async def submit(
        self,
        fn: Callable[..., Any] | str,
        *args: Any,
        kwargs: dict[str, Any] | None = None,
        key: str | None = None,
        delay: float | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        priority: int | None = None,
    ) -> JobHandle:
        """Queue ``fn(*args, **kwargs)``; return its handle once the broker confirmed it.

        ``key``: a second submit with the same key, while the first job is pending or
        its result is kept, returns the first job's handle. ``delay``: seconds the broker
        holds the job first. ``timeout``: seconds it may run (the pool stops it).
        ``retries``: further attempts after a failure, with exponential back-off and
        jitter. ``priority``: 0-9 (higher first; quorum queues know two levels).

        Raises ``ValueError`` for an unregistered function or bad options,
        :class:`offload.SerializationError` for arguments that cannot travel,
        :class:`offload.BrokerUnavailable`, :class:`offload.ClosedError`.

        Example::

            handle = await jobs.submit(send_mails, addresses, key=f"newsletter-{day}")
        """
        (handle,) = await self._submit_many(
            self._name_of(fn), [(args, kwargs or {})], key, delay, timeout, retries, priority
        )
        return handle

    async def submit_many(
        self,
        fn: Callable[..., Any] | str,
        calls: Iterable[tuple[Any, ...]],
        *,
        delay: float | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        priority: int | None = None,
    ) -> list[JobHandle]:
        """Queue ``fn(*args)`` for each ``args`` tuple in ``calls``; the publishes and
        their confirms are pipelined. Returns the handles in order, once every job is
        confirmed. Raises what :meth:`submit` raises.

        Example::

            handles = await jobs.submit_many(resize, [(path,) for path in paths])
        """
        name = self._name_of(fn)
        return await self._submit_many(
            name, [(tuple(args), {}) for args in calls], None, delay, timeout, retries, priority
        )

    async def _submit_many(
        self,
        name: str,
        calls: list[tuple[tuple[Any, ...], dict[str, Any]]],
        key: str | None,
        delay: float | None,
        timeout: float | None,
        retries: int | None,
        priority: int | None,
    ) -> list[JobHandle]:
        self._check_open()
        timeout = self._check_timeout(timeout) if timeout is not None else self.timeout
        if retries is not None and (not isinstance(retries, int) or retries < 0):
            raise ValueError(f"retries must be a non-negative integer, got {retries!r}")
        if delay is not None and not delay >= 0:
            raise ValueError(f"delay must be >= 0 seconds, got {delay!r}")
        if priority is not None and (not isinstance(priority, int) or not 0 <= priority <= 9):
            raise ValueError(f"priority must be an integer from 0 to 9, got {priority!r}")
        bodies = []
        for args, kwargs in calls:
            body = job_body(name, args, kwargs, timeout, retries or 0)
            bodies.append(self.codec.encode(body, what=f"arguments of job {name}"))
        ids = [new_job_id() for _ in bodies]
        if key is not None:
            existing = await self._claim(key, ids[0])
            if existing is not None:
                return [JobHandle(self, existing)]
        assert self._hub is not None
        for job_id in ids:  # followed live from before the publish: no scan needed
            self._hub.watch(job_id, scan=False)
        routing = self.topology.work
        if delay:
            ms = delay_bucket(delay)
            await self._ensure_delay(ms)
            routing = self.topology.delay(ms)
        try:
            if len(ids) == 1:
                await self.publish_job(
                    ids[0],
                    bodies[0][0],
                    bodies[0][1],
                    routing,
                    attempt=1,
                    priority=priority,
                    reply_to=self._hub.reply_queue,
                )
            elif ids:
                await self._publish_many(ids, bodies, routing, priority, self._hub.reply_queue)
        except BaseException:
            if key is not None:
                await self._unclaim(key)
            raise
        return [JobHandle(self, job_id) for job_id in ids]

    async def publish_job(
        self,
        job_id: str,
        body: bytes,
        content_type: str,
        routing_key: str,
        *,
        attempt: int,
        priority: int | None = None,
        headers: dict[str, Any] | None = None,
        reply_to: str | None = None,
    ) -> None:
        """Publish one job message and wait for the broker's confirm (internal)."""
        props = self._job_properties(
            job_id, body, content_type, attempt, priority, reply_to, headers
        )

        async def send(ch: aiormq.abc.AbstractChannel) -> None:
            await publish(ch, body, routing_key, props)

        await self.link.call(send, f"submitting job {job_id}")

    def _job_properties(
        self,
        job_id: str,
        body: bytes,
        content_type: str,
        attempt: int,
        priority: int | None,
        reply_to: str | None,
        headers: dict[str, Any] | None = None,
    ) -> Any:
        """A job message's properties: persistent, signed if the codec signs."""
        return properties(
            self.codec,
            content_type,
            body,
            message_id=job_id,
            priority=priority,
            reply_to=reply_to,
            headers={ATTEMPT: attempt, **(headers or {})},
        )

    async def _publish_many(
        self,
        ids: list[str],
        bodies: list[tuple[bytes, str]],
        routing_key: str,
        priority: int | None,
        reply_to: str | None,
    ) -> None:
        """Publish several first attempts, pipelined, in one call that retries (after a
        reconnect) only those not confirmed yet."""
        messages = [
            (job_id, body, self._job_properties(job_id, body, content_type, 1, priority, reply_to))
            for job_id, (body, content_type) in zip(ids, bodies, strict=True)
        ]

        async def send(ch: aiormq.abc.AbstractChannel) -> None:
            nonlocal messages
            outcomes = await asyncio.gather(
                *(publish(ch, body, routing_key, props) for _, body, props in messages),
                return_exceptions=True,
            )
            left = [m for m, out in zip(messages, outcomes, strict=True) if out is not None]
            errors = [out for out in outcomes if out is not None]
            messages = left
            if errors:
                raise errors[0]

        await self.link.call(send, f"submitting {len(ids)} jobs (first: {ids[0]})")

    async def _ensure_delay(self, ms: int) -> None:
        now = time.monotonic()
        if now - self._delays.get(ms, -1e9) < DELAY_REDECLARE_MS / 1000:
            return
        name = self.topology.delay(ms)
        args = self.topology.delay_args(ms)

        async def declare(ch: aiormq.abc.AbstractChannel) -> None:
            await ch.queue_declare(name, durable=True, arguments=args)

        await self.link.call(declare, f"declaring delay queue {name}")
        self._delays[ms] = now

    async def _claim(self, key: str, job_id: str) -> str | None:
        """Claim ``key`` for ``job_id``; the id of the job holding it already, or None."""
        import aiormq.exceptions

        name = self.topology.claim(key)
        args = self.topology.claim_args()
        body = job_id.encode()

        async def claim(ch: aiormq.abc.AbstractChannel) -> bool:
            await ch.queue_declare(name, durable=True, arguments=args)
            try:
                await publish(ch, body, name, properties(self.codec, "text/plain", body))
            except aiormq.exceptions.DeliveryError:
                return False  # the queue holds a claim already (reject-publish)
            return True

        async def holder(ch: aiormq.abc.AbstractChannel) -> str | None:
            message = await ch.basic_get(name, no_ack=False)
            if message.delivery_tag is None or message.body is None:
                return None
            await ch.basic_nack(message.delivery_tag, requeue=True)
            return message.body.decode()

        for _ in range(100):
            if await self.link.call(claim, f"claiming key {key!r}"):
                return None
            existing = await self.link.call(holder, f"reading the claim of key {key!r}")
            if existing is not None:
                return existing
            await asyncio.sleep(0.01)  # another reader holds the claim for a moment
        raise JobError(f"could not claim or read key {key!r}; try again")

    async def _unclaim(self, key: str) -> None:
        name = self.topology.claim(key)

        async def delete(ch: aiormq.abc.AbstractChannel) -> None:
            await ch.queue_delete(name)

        try:
            await self.link.call(delete, f"releasing key {key!r}", timeout=1.0)
        except Exception:  # best effort: the claim expires after result_ttl
            return

    # -- handles ---------------------------------------------------------------------

    async def get(self, job_id: str) -> JobHandle:
        """The handle of job ``job_id`` (from ``handle.id``), for example after a restart.

        Raises ``ValueError`` for a malformed id, :class:`offload.ClosedError`.

        Example::

            handle = await jobs.get(saved_id)
            print(await handle.result())
        """
        self._check_open()
        if job_time(job_id) is None:
            raise ValueError(f"not a job id: {job_id!r} (ids are 32 hex digits, from handle.id)")
        return JobHandle(self, job_id)

    def _reader(self, job_id: str) -> Reader:
        self._check_open()
        assert self._hub is not None
        return self._hub.watch(job_id, scan=True)

    async def _cancel(self, job_id: str, reason: str | None) -> None:
        self._check_open()
        await record(
            self.link,
            self.codec,
            self.topology,
            job_id,
            {
                "type": "cancelled",
                "reason": reason,
            },
        )
        body = job_id.encode()
        stream = self.topology.cancels
        props = properties(self.codec, "text/plain", body)

        async def notify(ch: aiormq.abc.AbstractChannel) -> None:
            await publish(ch, body, stream, props)

        await self.link.call(notify, f"cancelling job {job_id}")

    # -- workers ---------------------------------------------------------------------

    def worker(
        self,
        *,
        concurrency: int | None = None,
        kind: Literal["process", "thread"] = "process",
        cancel_grace: float = 5.0,
        stop_grace: float = 30.0,
        buffer: int = 0,
    ) -> JobWorker:
        """A worker that runs this queue's jobs in an :class:`offload.Pool` of
        ``concurrency`` workers (default: CPU count) of ``kind``.

        ``buffer``: deliveries the worker may hold beyond its free slots. With the
        default 0 no job ever waits in a worker behind a running one (another worker
        takes it); a few (say ``concurrency``) let short jobs run back to back and their
        results be recorded in larger batches, at the cost of up to ``buffer`` jobs
        waiting for a slot here while another worker may be idle.
        Raises ``ValueError`` for a bad option.

        Use it as ``async with jobs.worker() as worker: await worker.wait()``, or run
        ``offload worker URL --queue NAME --app MODULE`` from a shell.
        """
        from ._worker import JobWorker

        return JobWorker(
            self,
            concurrency=concurrency,
            kind=kind,
            cancel_grace=cancel_grace,
            stop_grace=stop_grace,
            buffer=buffer,
        )


# What the rest of this package does with a queue beyond its public methods.


def is_open(queue: JobQueue) -> bool:
    """True while ``queue`` is connected (opened and not closed)."""
    return queue._open


def registered_job(queue: JobQueue, name: str) -> Callable[..., Any] | None:
    """The function registered under ``name``, or None."""
    return queue._jobs.get(name)


async def ensure_delay_queue(queue: JobQueue, ms: int) -> None:
    """Declare the delay queue of ``ms`` milliseconds (at most once a while)."""
    await queue._ensure_delay(ms)


def job_reader(queue: JobQueue, job_id: str) -> Reader:
    """The reader of a job's events (a producer's view of one job)."""
    return queue._reader(job_id)


async def cancel_job(queue: JobQueue, job_id: str, reason: str | None) -> None:
    """Record the job's cancel and tell the workers (see :meth:`JobHandle.cancel`)."""
    await queue._cancel(job_id, reason)
