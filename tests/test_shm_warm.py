"""Warm segments: kept by their sender, lent per message, never seen by a live view."""

from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np
import pytest

import offload
from _shm_helpers import assert_segments_removed, killed_app
from offload import _shm
from offload._shm import _segment

BIG = 2 << 20  # above the 1 MiB default threshold

pytestmark = pytest.mark.usefixtures("no_leaks", "no_shm_leaks")


# -- task functions (imported by reference in the workers) --------------------------


def echo(value: object) -> object:
    return value


_kept: list[object] = []


def keep(value: object) -> int:
    """Hold on to the argument (a NumPy array views the message's segment)."""
    _kept.append(value)
    return len(_kept)


def kept_sums() -> list[float]:
    return [float(np.asarray(v).sum()) for v in _kept]


def warm_names() -> list[str]:
    recycler = _shm.worker_recycler()
    return [] if recycler is None else sorted(recycler.names())


def crash_holding(value: bytes) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def names_of(pid: int) -> list[str]:
    return _shm.list_segments(_shm.root_pid(), pid)


# -- the recycler ---------------------------------------------------------------------


def test_a_segment_given_back_is_lent_again() -> None:
    recycler = _shm.Recycler()
    try:
        first = recycler.take(BIG)
        recycler.give_back(first.name)
        again = recycler.take(BIG - 100)
        assert again.name == first.name
        other = recycler.take(BIG)  # the first is lent: a second one
        assert other.name != first.name
    finally:
        recycler.clear()
    assert _shm.list_segments(os.getpid(), os.getpid()) == []


def test_a_free_segment_much_bigger_than_the_message_is_not_used() -> None:
    recycler = _shm.Recycler()
    try:
        big = recycler.take(8 * BIG)
        recycler.give_back(big.name)
        small = recycler.take(BIG)
        assert small.name != big.name
    finally:
        recycler.clear()


def test_free_segments_beyond_the_limit_are_truncated_and_removed() -> None:
    recycler = _shm.Recycler(keep=1)
    try:
        first, second = recycler.take(BIG), recycler.take(BIG)
        recycler.give_back(first.name)
        recycler.give_back(second.name)  # two free, one kept: the older goes
        assert recycler.names() == {second.name}
        assert first.name not in _shm.list_segments(os.getpid())
    finally:
        recycler.clear()


def test_a_discarded_segment_frees_its_pages_while_still_mapped() -> None:
    segment = _segment.Segment.create(BIG)
    fd = os.open(f"/dev/shm/{segment.name}", os.O_RDONLY)
    try:
        _segment.discard(segment.name)  # a receiver's mapping (this one) still exists
        assert os.fstat(fd).st_size == 0
        assert segment.name not in _shm.list_segments(os.getpid())
    finally:
        os.close(fd)
        segment.close()


def test_a_full_dev_shm_gives_up_free_segments_first(monkeypatch: pytest.MonkeyPatch) -> None:
    recycler = _shm.Recycler()
    try:
        kept = recycler.take(BIG)
        recycler.give_back(kept.name)
        create = _segment.Segment.create
        calls = []

        def full_once(size: int) -> _segment.Segment:
            calls.append(size)
            if len(calls) == 1:
                raise offload.SharedMemoryError("no space")
            return create(size)

        monkeypatch.setattr(_segment.Segment, "create", staticmethod(full_once))
        bigger = recycler.take(8 * BIG)  # does not fit the free one: a new one is needed
        assert len(calls) == 2
        assert recycler.names() == {bigger.name}  # the free one was given up
    finally:
        recycler.clear()


# -- the codec ------------------------------------------------------------------------


def test_bytes_messages_reuse_one_warm_segment() -> None:
    recycler = _shm.Recycler()
    try:
        names = set()
        for fill in (b"a", b"b", b"c"):
            encoded = _shm.encode([fill * BIG], recycler=recycler)
            names.add(encoded.segment)
            assert _shm.decode(encoded.data, encoded.descriptors) == [fill * BIG]
            encoded.release()
        assert len(names) == 1
        assert recycler.names() == names
    finally:
        recycler.clear()
        _segment.forget_mapped()


def test_arrays_and_memoryviews_never_use_a_warm_segment() -> None:
    recycler = _shm.Recycler()
    try:
        for value in (np.ones(BIG // 8), memoryview(b"m" * BIG), [b"b" * BIG, np.ones(BIG)]):
            encoded = _shm.encode(value, recycler=recycler)
            assert encoded.segment is not None
            assert encoded.segment not in recycler.names()
            _shm.decode(encoded.data, encoded.descriptors)
            encoded.release()
    finally:
        recycler.clear()
        _segment.forget_mapped()


def test_a_view_alive_never_sees_a_reused_segment() -> None:
    recycler = _shm.Recycler()
    try:
        sent = _shm.encode(np.full(BIG // 8, 7.0), recycler=recycler)
        view = _shm.decode(sent.data, sent.descriptors)
        sent.release()
        for fill in range(5):  # warm messages: none may land where the view looks
            encoded = _shm.encode(bytes([fill]) * BIG, recycler=recycler)
            assert _shm.decode(encoded.data, encoded.descriptors) == bytes([fill]) * BIG
            encoded.release()
        assert float(view.sum()) == 7.0 * (BIG // 8)
    finally:
        recycler.clear()
        _segment.forget_mapped()


def test_returns_travel_in_front_of_the_descriptors() -> None:
    _segment.note_return(12345, "offload-1-12345-0-aa")
    framed = _shm.add_returns(b"rest", 12345)
    assert framed != b"rest"
    assert _shm.add_returns(b"rest", 12345) == b"rest"  # handed back once
    assert _shm.accept_returns(framed) == b"rest"
    assert _shm.accept_returns(b"rest") == b"rest"


# -- through a pool -------------------------------------------------------------------


async def test_a_pool_reuses_warm_segments_both_ways() -> None:
    async with offload.Pool("process", max_workers=1) as pool:
        blobs = [bytes([i]) * BIG for i in range(4)]
        for blob in blobs:
            assert await pool.run(echo, blob) == blob
        # One segment each way is enough for a caller that awaits each call.
        assert len(pool._scheduler.backend.segments.names()) == 1
        assert len(await pool.run(warm_names)) == 1


async def test_views_in_the_worker_and_the_caller_outlive_warm_traffic() -> None:
    async with offload.Pool("process", max_workers=1) as pool:
        array = np.full(BIG // 8, 3.0)
        assert await pool.run(keep, array) == 1  # the worker keeps a view of its argument
        result = await pool.run(echo, np.full(BIG // 8, 5.0))  # the caller keeps a view
        for i in range(4):
            blob = bytes([i + 1]) * BIG
            assert await pool.run(echo, blob) == blob
        assert await pool.run(kept_sums) == [3.0 * (BIG // 8)]
        assert float(result.sum()) == 5.0 * (BIG // 8)


async def test_a_worker_crash_mid_transfer_leaves_no_warm_segment() -> None:
    async with offload.Pool("process", max_workers=1) as pool:
        blob = os.urandom(BIG)
        assert await pool.run(echo, blob) == blob  # warm segments exist both ways now
        held = await pool.run(warm_names)
        assert held
        worker_pid = int(held[0].split("-")[2])
        with pytest.raises(offload.WorkerCrashed):
            await pool.run(crash_holding, blob)
        assert names_of(worker_pid) == []
        assert await pool.run(echo, blob) == blob  # the argument segment is lent again


KILLED_APP = r"""
import asyncio, time
import offload

def echo(value):
    return value

def slow_echo(value):
    time.sleep(60)
    return value

async def main():
    async with offload.Pool("process", max_workers=1) as pool:
        blob = b"w" * (4 << 20)
        for _ in range(3):
            assert await pool.run(echo, blob) == blob
        task = pool.submit(slow_echo, blob)
        print("ready", flush=True)
        await task

asyncio.run(main())
"""


def test_warm_segments_are_removed_after_the_application_is_killed_mid_transfer() -> None:
    with killed_app(KILLED_APP) as app:
        deadline = time.monotonic() + 20
        while len(_shm.list_segments(app.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)  # the worker's warm result segment and the argument's
        assert len(_shm.list_segments(app.pid)) >= 2
    assert_segments_removed(app.pid)


@pytest.mark.skipif(sys.version_info < (3, 13), reason="the interpreter kind needs 3.13+")
async def test_interpreter_workers_send_big_arguments_without_warm_segments() -> None:
    from _interpreter_helpers import echo as plain_echo  # no NumPy inside

    async with offload.Pool("interpreter", max_workers=1) as pool:
        # An abandoned interpreter may still read its arguments: they are never lent.
        assert pool._scheduler.backend.segments is None
        for i in range(3):
            blob = bytes([i]) * BIG
            assert await pool.run(plain_echo, blob) == blob
