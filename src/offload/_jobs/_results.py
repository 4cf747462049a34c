"""The results store: every job event in one RabbitMQ stream per queue, kept ``result_ttl``.

Workers append events (progress values, then one final event: result, error or
cancelled) to the stream ``offload.<name>.events``, each tagged with its job id in the
``x-offload-job`` header. A stream is an append-only log: reading does not remove
anything, so any number of readers, now or after a restart, can read a job's events
until the broker drops them for age (``x-max-age`` = ``result_ttl``). Nothing is
declared per job. A worker records the final events of the jobs whose results piled up
in one message (header ``x-offload-jobs``: their ids, comma-separated; body: the list
of their events, in that order), so a batch of results costs one confirmed publish.

A producer follows the stream live from where it joined (:class:`Hub`) and hands each
event to the reader of its job, if someone asked; a job asked for by id alone (``get``
after a restart) is read by a scan that starts at the job's submit time (job ids begin
with it) and goes on live until the final event. Events carry an id, so one seen twice
(after a reconnect, or by the live follower and a scan) is dropped.

``follow`` is the one loop that reads a stream, resuming after a reconnect from the
last offset it saw; workers use it too, for the stream of cancellations.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from ._link import _is_transient, publish
from ._wire import SIGNATURE, BadMessage, Codec

if TYPE_CHECKING:
    import aiormq.abc

    from ._link import Link
    from ._topology import Topology

__all__ = [
    "FINAL",
    "JOB",
    "JOBS",
    "Hub",
    "Reader",
    "append",
    "batch_message",
    "copy_to",
    "decode_events",
    "event_message",
    "follow",
    "job_time",
    "new_job_id",
    "record",
    "stamp",
]

FINAL = frozenset({"result", "error", "cancelled"})
JOB = "x-offload-job"
JOBS = "x-offload-jobs"
_KEEP_READERS = 100_000
_ACK_EVERY = 200
_SCAN_MARGIN = 5.0  # seconds before the submit time a scan starts (clock skew)


def new_job_id() -> str:
    """32 hex digits: the submit time in milliseconds, then randomness."""
    return f"{int(time.time() * 1000):012x}{uuid.uuid4().hex[:20]}"


def job_time(job_id: str) -> float | None:
    """The submit time encoded in ``job_id`` (None for an id of another shape)."""
    if len(job_id) != 32:
        return None
    try:
        return int(job_id[:12], 16) / 1000
    except ValueError:
        return None


def properties(codec: Codec, content_type: str, body: bytes, **extra: Any) -> Any:
    from pamqp.commands import Basic

    headers = dict(extra.pop("headers", None) or {})
    signature = codec.sign(content_type, body)
    if signature is not None:
        headers[SIGNATURE] = signature
    return Basic.Properties(
        content_type=content_type, delivery_mode=2, headers=headers or None, **extra
    )


def stamp(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with its id (``n``), by which readers drop an event seen twice."""
    return {"n": uuid.uuid4().hex[:16], **event}


def _travelling(codec: Codec, job_id: str, event: dict[str, Any]) -> tuple[bytes, str]:
    """``(body, content_type)`` of the stamped ``event``; a result value that cannot
    travel becomes the job's error."""
    try:
        return codec.encode(event, what=f"{event['type']} of job {job_id}")
    except Exception as exc:
        if event["type"] != "result":
            raise
        # The job's value cannot travel: record that as the job's error.
        return codec.encode(_unsendable(event, exc), what="error")


def _unsendable(event: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    return {
        "n": event["n"],
        "type": "error",
        "error_type": type(exc).__qualname__,
        "error": str(exc),
        "traceback": "",
        "attempt": event.get("attempt", 1),
    }


def event_message(codec: Codec, job_id: str, event: dict[str, Any]) -> tuple[bytes, Any]:
    """``(body, properties)`` of ``event`` of ``job_id``, ready to publish; a result
    value that cannot travel becomes the job's error."""
    body, content_type = _travelling(codec, job_id, stamp(event))
    return body, properties(codec, content_type, body, headers={JOB: job_id})


def batch_message(
    codec: Codec, batch: list[tuple[str, dict[str, Any]]]
) -> tuple[bytes, Any, list[tuple[str, dict[str, Any]]]]:
    """One message holding the stamped events of several jobs: header ``x-offload-jobs``
    lists their ids, the body is the list of their events, in the same order. Returns
    ``(body, properties, batch)`` where ``batch`` has every result value that cannot
    travel replaced by that job's error (what the body holds)."""
    try:
        body, content_type = codec.encode([event for _, event in batch], what="results")
    except Exception:
        checked = []
        for job_id, event in batch:
            try:
                codec.encode(event, what=f"{event['type']} of job {job_id}")
            except Exception as exc:
                if event["type"] != "result":
                    raise
                event = _unsendable(event, exc)
            checked.append((job_id, event))
        batch = checked
        body, content_type = codec.encode([event for _, event in batch], what="results")
    ids = ",".join(job_id for job_id, _ in batch)
    return body, properties(codec, content_type, body, headers={JOBS: ids}), batch


def job_ids(headers: dict[str, Any] | None) -> list[str]:
    """The ids of the jobs whose events a message holds (one event, or a batch)."""
    headers = headers or {}
    job = headers.get(JOB)
    if isinstance(job, bytes):
        job = job.decode(errors="replace")
    if isinstance(job, str):
        return [job]
    jobs = headers.get(JOBS)
    if isinstance(jobs, bytes):
        jobs = jobs.decode(errors="replace")
    if isinstance(jobs, str) and jobs:
        return jobs.split(",")
    return []


def decode_events(
    codec: Codec, body: bytes, content_type: str | None, headers: dict[str, Any] | None
) -> list[tuple[str, Any]]:
    """``(job id, event)`` for each event in a message (raises BadMessage)."""
    headers = headers or {}
    ids = job_ids(headers)
    decoded = codec.decode(body, content_type, headers.get(SIGNATURE))
    if JOB in headers:
        return [(ids[0], decoded)] if ids else []
    if not isinstance(decoded, list) or len(decoded) != len(ids):
        raise BadMessage("a batch of events does not match its list of job ids")
    return list(zip(ids, decoded, strict=True))


async def append(link: Link, topo: Topology, job_id: str, body: bytes, props: Any) -> None:
    """Publish one prepared event to the events stream; returns once confirmed."""
    stream = topo.events

    async def publish_event(ch: aiormq.abc.AbstractChannel) -> None:
        await publish(ch, body, stream, props)

    await link.call(publish_event, f"recording an event of job {job_id}")


async def copy_to(
    channel: aiormq.abc.AbstractChannel, reply_to: str, body: bytes, props: Any
) -> None:
    """Send a transient copy of a recorded event to a producer's reply queue (best
    effort: the producer may be gone, and the stream has the event)."""
    from pamqp.commands import Basic

    copy = Basic.Properties(content_type=props.content_type, delivery_mode=1, headers=props.headers)
    with contextlib.suppress(Exception):
        await channel.basic_publish(body, exchange="", routing_key=reply_to, properties=copy)


async def record(
    link: Link,
    codec: Codec,
    topo: Topology,
    job_id: str,
    event: dict[str, Any],
    reply_to: str | None = None,
) -> None:
    """Append ``event`` of ``job_id`` to the events stream; returns once confirmed.

    ``reply_to``: the reply queue of the producer that submitted the job, which gets a
    copy at once (streams hand events to readers a few milliseconds later); the
    stream stays the record.
    """
    body, props = event_message(codec, job_id, event)
    await append(link, topo, job_id, body, props)
    if reply_to:
        with contextlib.suppress(Exception):
            await copy_to(await link.underlay(), reply_to, body, props)


async def follow(
    link: Link,
    stream: str,
    offset: str | int | datetime.datetime,
    handle: Callable[[Any], bool],
    *,
    ready: asyncio.Future[None] | None = None,
) -> None:
    """Read ``stream`` from ``offset`` ("first", "next", a datetime or a number), calling
    ``handle(message)`` for each message until it returns True. Survives reconnects."""
    channel = await link.new_channel()
    last: int | None = None
    # Resuming a "next" follower before anything was seen: from a little before we
    # started (the events seen twice are dropped by their ids). Any other offset is
    # asked for again until a message comes.
    began = datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(seconds=_SCAN_MARGIN)
    resume: str | int | datetime.datetime = began if offset == "next" else offset
    first = True
    try:
        while True:
            try:
                ch = await channel.get_underlay_channel()
                await ch.basic_qos(prefetch_count=1000)
                inbox: asyncio.Queue[Any] = asyncio.Queue()

                async def deliver(message: Any, inbox: asyncio.Queue[Any] = inbox) -> None:
                    inbox.put_nowait(message)

                start = last + 1 if last is not None else offset if first else resume
                first = False
                await ch.basic_consume(
                    stream, deliver, no_ack=False, arguments={"x-stream-offset": start}
                )
                if ready is not None and not ready.done():
                    ready.set_result(None)
                unacked = 0
                while True:
                    if inbox.empty():
                        getter = asyncio.ensure_future(inbox.get())
                        try:
                            done, _ = await asyncio.wait(
                                {getter, ch.closing}, return_when=asyncio.FIRST_COMPLETED
                            )
                        except BaseException:
                            getter.cancel()  # stopped while waiting: no task left behind
                            raise
                        if getter not in done:
                            getter.cancel()
                            raise ConnectionError("the channel closed while following a stream")
                        message = getter.result()
                    else:
                        message = inbox.get_nowait()
                    headers = message.header.properties.headers or {}
                    position = headers.get("x-stream-offset")
                    if isinstance(position, int):
                        last = position
                    # Acks only hand the stream its credit back: one for what has
                    # arrived so far, not one per message.
                    unacked += 1
                    if inbox.empty() or unacked >= _ACK_EVERY:
                        await ch.basic_ack(message.delivery.delivery_tag, multiple=True)
                        unacked = 0
                    if handle(message):
                        return
            except Exception as exc:
                if link.closing or not (_is_transient(exc) or isinstance(exc, RuntimeError)):
                    raise
                await asyncio.sleep(0.1)  # the link reconnects; resume after `last`
    finally:
        with contextlib.suppress(Exception):
            await channel.close()


class Reader:
    """Collects one job's events, in order, without duplicates."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.events: list[dict[str, Any]] = []
        self.final: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self._seen: set[str] = set()
        self._changed = asyncio.Event()

    def add(self, event: Any) -> None:
        if not isinstance(event, dict):
            return
        n = event.get("n")
        if isinstance(n, str):
            if n in self._seen:
                return
            self._seen.add(n)
        self.events.append(event)
        if event.get("type") in FINAL and self.final is None:
            self.final = event
        self._changed.set()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self._changed.set()

    async def wait_final(self) -> dict[str, Any]:
        while self.final is None:
            if self.error is not None:
                raise self.error
            self._changed.clear()
            await self._changed.wait()
        return self.final

    async def progress(self) -> AsyncIterator[Any]:
        index = 0
        while True:
            while index < len(self.events):
                event = self.events[index]
                index += 1
                if event.get("type") == "progress":
                    yield event.get("value")
            if self.final is not None:
                return
            if self.error is not None:
                raise self.error
            self._changed.clear()
            await self._changed.wait()


class Hub:
    """A producer's view of the events stream: one live follower, scans on demand."""

    def __init__(self, link: Link, codec: Codec, topo: Topology) -> None:
        self._link = link
        self._codec = codec
        self._topo = topo
        self._readers: OrderedDict[str, Reader] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._error: BaseException | None = None
        self.reply_queue: str | None = None

    async def start(self) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def live() -> None:
            try:
                await follow(self._link, self._topo.events, "next", self._on_live, ready=ready)
            except Exception as exc:
                if not ready.done():
                    ready.set_exception(exc)
                self._error = exc
                for reader in self._readers.values():
                    reader.fail(exc)

        self._spawn(live(), "live")
        await ready
        # The fast path: workers copy events of our jobs to this queue.
        assert self._link.channel is not None
        self.reply_queue = f"{self._topo.events}.reply.{uuid.uuid4().hex[:16]}"
        queue = await self._link.channel.declare_queue(
            self.reply_queue, exclusive=True, auto_delete=True
        )
        await queue.consume(self._on_reply, no_ack=True)

    async def _on_reply(self, message: Any) -> None:
        self._deliver(message.headers, message.body, message.content_type)

    def _deliver(
        self, headers: dict[str, Any] | None, body: bytes, content_type: str | None
    ) -> None:
        """Hand the events of a message to the readers waiting for them (decoding it
        only when one of its jobs has such a reader)."""
        readers = self._readers
        for job_id in job_ids(headers):
            reader = readers.get(job_id)
            if reader is not None and reader.final is None:
                break
        else:
            return
        with contextlib.suppress(BadMessage):
            for job_id, event in decode_events(self._codec, body, content_type, headers):
                reader = readers.get(job_id)
                if reader is not None and reader.final is None:
                    reader.add(event)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    def _spawn(self, coro: Any, what: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=f"offload-jobs-{what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def watch(self, job_id: str, *, scan: bool) -> Reader:
        """The reader of ``job_id``; ``scan``: read its past from the stream first."""
        reader = self._readers.get(job_id)
        if reader is not None:
            self._readers.move_to_end(job_id)
            return reader
        reader = self._readers[job_id] = Reader(job_id)
        if self._error is not None:
            reader.fail(self._error)
        while len(self._readers) > _KEEP_READERS:
            self._readers.popitem(last=False)
        if scan:
            self._scan(reader)
        return reader

    def _scan(self, reader: Reader) -> None:
        submitted = job_time(reader.job_id)
        start: str | datetime.datetime = "first"
        if submitted is not None:
            start = datetime.datetime.fromtimestamp(
                max(0.0, submitted - _SCAN_MARGIN), tz=datetime.UTC
            )

        def on_message(message: Any) -> bool:
            props = message.header.properties
            if reader.job_id in job_ids(props.headers):
                with contextlib.suppress(BadMessage):
                    for job_id, event in decode_events(
                        self._codec, message.body, props.content_type, props.headers
                    ):
                        if job_id == reader.job_id:
                            reader.add(event)
            return reader.final is not None

        async def run() -> None:
            try:
                await follow(self._link, self._topo.events, start, on_message)
            except Exception as exc:
                reader.fail(exc)

        self._spawn(run(), f"scan-{reader.job_id}")

    def _on_live(self, message: Any) -> bool:
        props = message.header.properties
        self._deliver(props.headers, message.body, props.content_type)
        return False
