"""The connection to the broker: reconnects by itself, bounds how long a call waits.

One robust connection (aio-pika reconnects it and restores the channels, and the queues
and consumers declared through them) and a channel with publisher confirms. Every
operation goes through :meth:`Link.call`, which retries on connection loss until
``outage_timeout`` has passed and then raises :class:`offload.BrokerUnavailable`.
Per-job queues are declared on the underlying channel directly, so the robust channel
does not remember (and re-declare after every reconnect) one queue per job ever seen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from offload._errors import BrokerUnavailable

if TYPE_CHECKING:
    import aiormq.abc
    from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

__all__ = ["Link", "Unrouted", "import_aio_pika", "publish"]

T = TypeVar("T")
_log = logging.getLogger("offload.jobs")


def import_aio_pika() -> Any:
    try:
        import aio_pika
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "offload.JobQueue needs aio-pika: pip install 'offload[rabbitmq]'"
        ) from exc
    return aio_pika


class Unrouted(ConnectionError):
    """The broker returned a mandatory message: no running queue took it.

    Right after a broker restart the node accepts connections before its streams and
    quorum queues are running again; a message published to one of them in that window
    is confirmed *and dropped* unless it is mandatory. Transient: the call is retried
    until the queue runs again (or ``outage_timeout`` passes)."""


async def publish(
    channel: aiormq.abc.AbstractChannel, body: bytes, routing_key: str, props: Any
) -> None:
    """Publish ``body`` to the queue ``routing_key``, mandatory; on a confirming channel,
    return once the broker has confirmed that the queue took it. Raises
    :class:`Unrouted` when no running queue took it."""
    import aiormq.exceptions
    from pamqp.commands import Basic

    try:
        outcome = await channel.basic_publish(
            body, exchange="", routing_key=routing_key, properties=props, mandatory=True
        )
    except aiormq.exceptions.PublishError as exc:
        returned: Any = exc.frame
    else:
        # aio-pika's channels hand a returned message back as the confirm's result.
        returned = getattr(outcome, "delivery", None)
        if not isinstance(returned, Basic.Return):
            return
    raise Unrouted(
        f"queue {routing_key!r} did not take the message ({returned.reply_code} "
        f"{returned.reply_text}): it is not running yet (the broker restarted a moment "
        "ago) or it was deleted"
    )


def _transient() -> tuple[type[BaseException], ...]:
    import aiormq.exceptions as e

    return (
        e.AMQPConnectionError,
        e.ChannelInvalidStateError,
        ConnectionError,
        OSError,
        asyncio.TimeoutError,
    )


def _is_transient(exc: BaseException) -> bool:
    import aiormq.exceptions as e

    if isinstance(exc, e.ChannelNotFoundEntity) and "down or inaccessible" in str(exc):
        return True  # a replicated queue or stream still starting after a broker restart
    if isinstance(exc, e.ChannelClosed):
        # A channel closed under us (the connection went away) is transient; one closed
        # for what we asked (bad arguments, missing queue, access) is not.
        return not isinstance(
            exc, e.ChannelPreconditionFailed | e.ChannelNotFoundEntity | e.ChannelAccessRefused
        )
    return isinstance(exc, _transient())


def _safe_url(url: str) -> str:
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return url


class Link:
    """A reconnecting connection with one confirming channel for publishes and queue work."""

    def __init__(self, url: str, *, outage_timeout: float, name: str) -> None:
        self.url = url
        self.outage_timeout = outage_timeout
        self.name = name
        self.connection: AbstractRobustConnection | None = None
        self.channel: AbstractRobustChannel | None = None
        self.closing = False

    async def open(self) -> None:
        aio_pika = import_aio_pika()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.outage_timeout
        delay = 0.05
        while True:
            try:
                self.connection = await aio_pika.connect_robust(
                    self.url,
                    reconnect_interval=0.5,
                    client_properties={"connection_name": self.name},
                    timeout=max(0.1, deadline - loop.time()),
                )
                break
            except Exception as exc:
                if not _is_transient(exc) or loop.time() + delay >= deadline:
                    raise BrokerUnavailable(
                        f"could not connect to the broker at {_safe_url(self.url)} within "
                        f"{self.outage_timeout} s: {exc}; check that RabbitMQ runs and the URL"
                    ) from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        self.channel = await self.new_channel()

    async def new_channel(
        self,
        prefetch: int | None = None,
        *,
        global_qos: bool = False,
        confirms: bool = True,
    ) -> AbstractRobustChannel:
        """A new channel; waits for a reconnect in progress (up to ``outage_timeout``).

        ``prefetch`` with ``global_qos``: a limit for the whole channel, which the broker
        applies at once when it changes (classic queues only); without: per consumer,
        fixed when the consumer starts."""
        assert self.connection is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.outage_timeout
        while True:
            try:
                async with asyncio.timeout(max(deadline - loop.time(), 0.001)):
                    await self.connection.connected.wait()
                    channel = await self.connection.channel(publisher_confirms=confirms)
                    if prefetch is not None:
                        await channel.set_qos(prefetch_count=prefetch, global_=global_qos)
                    return channel
            except Exception as exc:
                if not (_is_transient(exc) or isinstance(exc, RuntimeError)):
                    raise
                if loop.time() >= deadline:
                    raise BrokerUnavailable(
                        f"opening a channel: the broker at {_safe_url(self.url)} stayed "
                        f"unreachable for {self.outage_timeout} s ({exc})"
                    ) from exc
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        self.closing = True
        if self.connection is not None:
            await self.connection.close()
        self.connection = None
        self.channel = None

    async def underlay(
        self, channel: AbstractRobustChannel | None = None
    ) -> aiormq.abc.AbstractChannel:
        chan = channel or self.channel
        if chan is None:
            raise BrokerUnavailable("the job queue is not open; use `async with JobQueue(...)`")
        return await chan.get_underlay_channel()

    async def call(
        self,
        op: Callable[[aiormq.abc.AbstractChannel], Awaitable[T]],
        what: str,
        *,
        channel: AbstractRobustChannel | None = None,
        timeout: float | None = None,
    ) -> T:
        """Run ``op`` on the current channel; on connection loss wait for the reconnect
        and run it again, for up to ``timeout`` (default ``outage_timeout``) seconds."""
        loop = asyncio.get_running_loop()
        bound = self.outage_timeout if timeout is None else timeout
        deadline = loop.time() + bound
        delay = 0.02
        while True:
            remaining = deadline - loop.time()
            try:
                async with asyncio.timeout(max(remaining, 0.001)):
                    return await op(await self.underlay(channel))
            except BrokerUnavailable:
                raise
            except Exception as exc:
                if not _is_transient(exc):
                    raise
                if loop.time() + delay >= deadline:
                    raise BrokerUnavailable(
                        f"{what}: the broker at {_safe_url(self.url)} stayed unreachable "
                        f"for {bound} s ({type(exc).__name__}: {exc}); check that RabbitMQ "
                        "runs, or raise JobQueue(outage_timeout=...)"
                    ) from exc
                _log.debug("%s: %r; retrying after the reconnect", what, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)
