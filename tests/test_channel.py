"""offload.Channel: a pair of ports, sync and async, handed to children."""

from __future__ import annotations

import asyncio

import pytest

import offload


def produce(port: offload.Port, count: int) -> None:
    with port:
        for i in range(count):
            port.send(i)


def consume(port: offload.Port) -> None:
    offload.parent.send(sum(port))


async def ping_pong(port: offload.Port) -> None:
    async for message in port:
        if message == "stop":
            break
        await port.asend(message + "!")


def test_sync_round_trip_in_one_process(no_leaks: None) -> None:
    with offload.Channel() as channel:
        channel.port1.send({"a": [1, 2]})
        channel.port2.send(b"back")
        assert channel.port2.recv() == {"a": [1, 2]}
        assert channel.port1.recv() == b"back"
        channel.port1.close()
        assert list(channel.port2) == []
        with pytest.raises(offload.ChannelClosed):
            channel.port2.recv()
        with pytest.raises(offload.ClosedError):
            channel.port1.send("closed")


async def test_async_round_trip_and_large_messages(no_leaks: None) -> None:
    async with offload.Channel() as channel:
        big = b"z" * 5_000_000
        sender = asyncio.create_task(channel.port1.asend(big))
        assert await channel.port2.arecv() == big
        await sender


async def test_two_children_talk_directly(no_leaks: None) -> None:
    channel = offload.Channel()
    async with (
        offload.fork(produce, channel.port1, 1000),
        offload.fork(consume, channel.port2) as consumer,
    ):
        # The ports moved to the children: the parent's copies are closed.
        assert channel.port1.closed
        assert channel.port2.closed
        assert await consumer.recv() == sum(range(1000))


async def test_parent_and_child_over_a_channel_port(no_leaks: None) -> None:
    with offload.Channel() as channel:
        async with offload.fork(ping_pong, channel.port2) as child:
            await channel.port1.asend("ping")
            assert await channel.port1.arecv() == "ping!"
            await channel.port1.asend("stop")
            assert await child.wait() == 0


def talk_over(port: offload.Port) -> str:
    with port:
        port.send("hello from a pool worker")
        return str(port.recv())


async def test_a_port_reaches_a_pool_process_worker(no_leaks: None) -> None:
    with offload.Channel() as channel:
        async with offload.Pool("process", max_workers=1) as pool:
            task = asyncio.create_task(pool.run(talk_over, channel.port2))
            assert await channel.port1.arecv() == "hello from a pool worker"
            await channel.port1.asend("reply")
            assert await task == "reply"
