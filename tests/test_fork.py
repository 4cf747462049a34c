"""offload.fork and offload.parent: a Python child with a two-way message channel."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading

import pytest

import offload


def echo_doubled() -> None:
    for number in offload.parent:
        offload.parent.send(number * 2)


async def echo_tripled_async() -> None:
    async for number in offload.parent:
        await offload.parent.asend(number * 3)


def send_then_exit(count: int) -> None:
    for i in range(count):
        offload.parent.send({"i": i, "pad": "x" * 1000})


def send_then_raise() -> None:
    offload.parent.send("first")
    offload.parent.send("second")
    raise ValueError("the child gave up")


def kill_myself() -> None:
    offload.parent.send("about to die")
    os.kill(os.getpid(), signal.SIGKILL)


def close_the_channel_then_wait_to_be_killed() -> None:
    offload.parent.send("ready")
    # What the kernel does to a dying process: its descriptors close before its exit is
    # reported. This child stays in that gap until the parent kills it.
    offload.parent._port._live().shutdown(socket.SHUT_RDWR)  # no disconnect message
    while True:
        signal.pause()


def disconnect_and_wait_to_be_stopped() -> None:
    offload.parent.send("bye")
    offload.parent.close()
    while True:
        signal.pause()


def exit_with(code: int) -> None:
    raise SystemExit(code)


def disconnect_and_linger() -> None:
    offload.parent.send("bye")
    offload.parent.close()
    import time

    time.sleep(0.5)


def ignore_everything() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    offload.parent.send("ready")
    import time

    while True:
        time.sleep(0.05)


async def test_messages_both_ways_with_a_sync_child(no_leaks: None) -> None:
    async with offload.fork(echo_doubled) as child:
        for n in range(5):
            await child.send(n)
        assert [await child.recv() for _ in range(5)] == [0, 2, 4, 6, 8]
        child.disconnect()  # the child's loop over offload.parent ends
        assert await child.wait() == 0
    assert child.exitcode == 0


async def test_messages_both_ways_with_an_async_child(no_leaks: None) -> None:
    async with offload.fork(echo_tripled_async) as child:
        await child.send(1)
        await child.send(2)
        assert await child.recv() == 3
        assert await child.recv() == 6


async def test_messages_sent_before_exit_all_arrive_then_the_iteration_ends(
    no_leaks: None,
) -> None:
    async with offload.fork(send_then_exit, 2000) as child:
        received = [message["i"] async for message in child.messages()]
        assert await child.wait() == 0
    assert received == list(range(2000))


async def test_a_child_that_raises_is_an_error_after_its_messages(no_leaks: None) -> None:
    received = []

    async def collect(child: offload.Child) -> None:
        async for message in child.messages():
            received.append(message)

    async with offload.fork(send_then_raise) as child:
        with pytest.raises(offload.ProcessFailed) as info:
            await collect(child)
    assert received == ["first", "second"]
    assert "ValueError: the child gave up" in str(info.value)
    assert info.value.returncode == 1
    assert child.exitcode == 1


async def test_a_child_killed_by_a_signal_is_an_error(no_leaks: None) -> None:
    async with offload.fork(kill_myself) as child:
        assert await child.recv() == "about to die"
        with pytest.raises(offload.ProcessFailed) as info:
            await child.recv()
    assert info.value.signal == signal.SIGKILL
    assert "SIGKILL" in str(info.value)


async def test_a_child_killed_after_its_channel_closed_is_reported_as_killed(
    no_leaks: None,
) -> None:
    async with offload.fork(close_the_channel_then_wait_to_be_killed) as child:
        assert await child.recv() == "ready"
        pending = asyncio.create_task(child.recv())
        # The channel is closed but the child did not disconnect: recv() waits for the
        # exit status however long the exit takes to be reported (this one, forever).
        done, _ = await asyncio.wait({pending}, timeout=0.5)
        assert not done
        child.kill()
        with pytest.raises(offload.ProcessFailed) as info:
            await pending
    assert info.value.signal == signal.SIGKILL
    assert "SIGKILL" in str(info.value)


async def test_a_child_that_disconnects_and_runs_on_ends_messages_at_once(
    no_leaks: None,
) -> None:
    async with offload.fork(disconnect_and_wait_to_be_stopped) as child:
        assert [m async for m in child.messages()] == ["bye"]
        with pytest.raises(offload.ChannelClosed):
            await child.recv()
        assert child.exitcode is None  # it never exits on its own
        assert await child.stop() == -signal.SIGTERM


async def test_a_non_zero_exit_is_an_error_and_exit_is_observable(no_leaks: None) -> None:
    async with offload.fork(exit_with, 3) as child:
        assert await child.wait() == 3
        with pytest.raises(offload.ProcessFailed):
            await child.recv()


async def test_a_child_disconnecting_ends_messages_without_error(no_leaks: None) -> None:
    async with offload.fork(disconnect_and_linger) as child:
        assert [m async for m in child.messages()] == ["bye"]
        assert not child.connected
        assert await child.wait() == 0
        with pytest.raises(offload.ChannelClosed):
            await child.send("anyone?")
    with pytest.raises(offload.ClosedError):
        await child.send("we closed our end when leaving the block")


async def test_leaving_the_block_ends_a_child_that_does_not_exit(no_leaks: None) -> None:
    async with offload.fork(ignore_everything, kill_after=0.3) as child:
        assert await child.recv() == "ready"
    assert child.exitcode == -signal.SIGKILL


async def test_lambdas_and_closures_are_sent_with_cloudpickle(no_leaks: None) -> None:
    offset = 100
    async with offload.fork(lambda: offload.parent.send(offset + 1)) as child:
        assert await child.recv() == 101


async def test_unpicklable_arguments_raise_serialization_error(no_leaks: None) -> None:
    with pytest.raises(offload.SerializationError):
        offload.fork(echo_doubled, threading.Lock())


async def test_sending_something_unpicklable_raises_serialization_error(
    no_leaks: None,
) -> None:
    async with offload.fork(echo_doubled) as child:
        with pytest.raises(offload.SerializationError):
            await child.send(threading.Lock())


def test_parent_outside_a_forked_child_is_a_clear_error() -> None:
    assert not offload.parent.connected
    with pytest.raises(offload.ChannelClosed, match=r"offload\.fork"):
        offload.parent.send("hello?")
    with pytest.raises(offload.ChannelClosed):
        iter(offload.parent)


async def test_fork_works_under_a_cancelled_waiter(no_leaks: None) -> None:
    async with offload.fork(echo_doubled) as child:
        waiter = asyncio.create_task(child.recv())
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await child.send(4)
        assert await child.recv() == 8
