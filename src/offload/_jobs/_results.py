"""The results store: each job's events in its own durable queue, kept ``result_ttl``.

The worker appends events (progress values, then one final event: result, error or
cancelled) to ``offload.<name>.r.<job id>``; the queue exists as long as someone used
it within ``result_ttl`` (RabbitMQ's queue expiry), so a producer that restarts can
read a job's progress and result by id alone.

A reader consumes the queue without acknowledging, keeps what it saw, and once the
final event is in, cancels its consumer and hands every message back (nack with
requeue): the events stay for the next reader. Events carry an id, so the ones seen
twice (redelivered after a reconnect) are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ._wire import SIGNATURE, BadMessage, Codec

if TYPE_CHECKING:
    import aiormq.abc

    from ._link import Link
    from ._topology import Topology

__all__ = ["FINAL", "Reader", "declare_results", "record", "scan_final"]

FINAL = frozenset({"result", "error", "cancelled"})


def properties(codec: Codec, content_type: str, body: bytes, **extra: Any) -> Any:
    from pamqp.commands import Basic

    headers = dict(extra.pop("headers", None) or {})
    signature = codec.sign(content_type, body)
    if signature is not None:
        headers[SIGNATURE] = signature
    return Basic.Properties(
        content_type=content_type, delivery_mode=2, headers=headers or None, **extra
    )


async def declare_results(link: Link, topo: Topology, job_id: str) -> int:
    """Declare the job's result queue (renewing its lease); the number of events in it."""
    name = topo.results(job_id)
    args = topo.results_args()

    async def declare(ch: aiormq.abc.AbstractChannel) -> int:
        ok = await ch.queue_declare(name, durable=True, arguments=args)
        return int(ok.message_count or 0)

    return await link.call(declare, f"declaring the result queue of job {job_id}")


async def record(
    link: Link, codec: Codec, topo: Topology, job_id: str, event: dict[str, Any]
) -> None:
    """Append ``event`` to the job's result queue; returns once the broker confirmed it."""
    event = {"n": uuid.uuid4().hex[:16], **event}
    try:
        body, content_type = codec.encode(event, what=f"{event['type']} of job {job_id}")
    except Exception as exc:
        if event["type"] != "result":
            raise
        # The job's value cannot travel: record that as the job's error.
        body, content_type = codec.encode(
            {
                "n": event["n"],
                "type": "error",
                "error_type": type(exc).__qualname__,
                "error": str(exc),
                "traceback": "",
                "attempt": event.get("attempt", 1),
            },
            what="error",
        )
    props = properties(codec, content_type, body)
    routing_key = topo.results(job_id)

    async def publish(ch: aiormq.abc.AbstractChannel) -> None:
        await ch.basic_publish(body, exchange="", routing_key=routing_key, properties=props)

    await link.call(publish, f"recording the {event['type']} of job {job_id}")


async def scan_final(link: Link, codec: Codec, topo: Topology, job_id: str, count: int) -> bool:
    """Whether the job's result queue already holds a final event (looked at, put back)."""
    name = topo.results(job_id)
    assert link.connection is not None
    channel = await link.connection.channel(publisher_confirms=False)
    found = False
    try:
        ch = await channel.get_underlay_channel()
        for _ in range(count):
            msg = await ch.basic_get(name, no_ack=False)
            if msg.delivery_tag is None or msg.body is None:
                break
            with contextlib.suppress(BadMessage):
                event = codec.decode(
                    msg.body, msg.header.properties.content_type, _sig(msg.header.properties)
                )
                if isinstance(event, dict) and event.get("type") in FINAL:
                    found = True
                    break
    finally:
        await channel.close()  # unacknowledged messages go back to the queue
    return found


def _sig(props: Any) -> object:
    return (props.headers or {}).get(SIGNATURE)


class Reader:
    """Collects one job's events; shared by every handle of that job in one JobQueue."""

    def __init__(self, link: Link, codec: Codec, topo: Topology, job_id: str) -> None:
        self._link = link
        self._codec = codec
        self._topo = topo
        self.job_id = job_id
        self.events: list[dict[str, Any]] = []
        self.final: dict[str, Any] | None = None
        self._seen: set[str] = set()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        if self._task is None and self.final is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"offload-job-reader-{self.job_id}"
            )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def wait_final(self) -> dict[str, Any]:
        self.start()
        while self.final is None:
            if self.error is not None:
                raise self.error
            self._changed.clear()
            await self._changed.wait()
        return self.final

    async def progress(self) -> AsyncIterator[Any]:
        self.start()
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

    def _add(self, event: Any) -> None:
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

    async def _run(self) -> None:
        try:
            while self.final is None:
                try:
                    await self._consume()
                except Exception as exc:
                    from ._link import _is_transient

                    if not _is_transient(exc):
                        raise
                    await asyncio.sleep(0.1)  # the link reconnects; consume again
        except Exception as exc:
            self.error = exc
            self._changed.set()

    async def _consume(self) -> None:
        await declare_results(self._link, self._topo, self.job_id)
        ch = await self._link.underlay()
        inbox: asyncio.Queue[Any] = asyncio.Queue()

        async def deliver(message: Any) -> None:
            inbox.put_nowait(message)

        name = self._topo.results(self.job_id)
        ok = await ch.basic_consume(name, deliver, no_ack=False)
        tags: list[int] = []
        try:
            while self.final is None:
                getter = asyncio.ensure_future(inbox.get())
                done, _ = await asyncio.wait(
                    {getter, ch.closing}, return_when=asyncio.FIRST_COMPLETED
                )
                if getter not in done:
                    getter.cancel()
                    raise ConnectionError("the channel closed while reading results")
                message = getter.result()
                tags.append(message.delivery.delivery_tag)
                try:
                    event = self._codec.decode(
                        message.body,
                        message.header.properties.content_type,
                        _sig(message.header.properties),
                    )
                except BadMessage:
                    continue  # not ours to read (forged or corrupt); leave it
                self._add(event)
        finally:
            if not ch.is_closed:
                with contextlib.suppress(Exception):
                    await ch.basic_cancel(ok.consumer_tag or "")
                    while not inbox.empty():
                        tags.append(inbox.get_nowait().delivery.delivery_tag)
                    for tag in tags:
                        await ch.basic_nack(tag, multiple=False, requeue=True)
