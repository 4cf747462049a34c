"""CancelToken: a thread-safe one-way flag with reason, callbacks, any() and after()."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
import time

import pytest

import offload
from offload import CancelToken


def test_a_new_token_is_not_cancelled() -> None:
    token = CancelToken()
    assert not token.cancelled
    assert token.reason is None
    token.raise_if_cancelled()


def test_cancel_sets_reason_once_and_runs_callbacks_once() -> None:
    token = CancelToken()
    seen: list[object] = []
    token.on_cancel(lambda t: seen.append(t.reason))
    assert token.cancel("first") is True
    assert token.cancel("second") is False
    assert token.reason == "first"
    assert seen == ["first"]
    with pytest.raises(offload.Cancelled) as info:
        token.raise_if_cancelled()
    assert info.value.reason == "first"


def test_callback_registered_after_cancel_runs_at_once() -> None:
    token = CancelToken()
    token.cancel()
    seen: list[bool] = []
    token.on_cancel(lambda t: seen.append(t.cancelled))
    assert seen == [True]


def test_removed_callback_is_not_called() -> None:
    token = CancelToken()
    seen: list[int] = []
    remove = token.on_cancel(lambda t: seen.append(1))
    remove()
    remove()  # removing twice is harmless
    token.cancel()
    assert seen == []


def test_a_failing_callback_does_not_stop_the_others() -> None:
    token = CancelToken()
    seen: list[int] = []

    def bad(_: CancelToken) -> None:
        raise RuntimeError("bad callback")

    token.on_cancel(bad)
    token.on_cancel(lambda t: seen.append(1))
    with pytest.raises(ExceptionGroup):
        token.cancel()
    assert seen == [1]
    assert token.cancelled


def test_any_is_cancelled_by_any_source_with_its_reason() -> None:
    a, b = CancelToken(), CancelToken()
    linked = CancelToken.any(a, b)
    assert not linked.cancelled
    b.cancel("b went")
    assert linked.cancelled
    assert linked.reason == "b went"
    assert not a.cancelled


def test_any_of_an_already_cancelled_token_is_cancelled() -> None:
    a = CancelToken()
    a.cancel("early")
    assert CancelToken.any(CancelToken(), a).reason == "early"


def test_after_rejects_negative_delays() -> None:
    with pytest.raises(ValueError, match="seconds >= 0"):
        CancelToken.after(-1)


def test_after_is_seen_by_polling_even_without_a_loop() -> None:
    token = CancelToken.after(0.05)
    assert not token.cancelled
    time.sleep(0.06)
    assert token.cancelled
    assert isinstance(token.reason, TimeoutError)


async def test_after_fires_callbacks_from_the_running_loop() -> None:
    token = CancelToken.after(0.02)
    fired = asyncio.Event()
    token.on_cancel(lambda t: fired.set())
    await asyncio.wait_for(fired.wait(), 2)


async def test_wait_returns_the_reason_when_cancelled_from_another_thread() -> None:
    token = CancelToken()
    threading.Timer(0.02, token.cancel, args=("from thread",)).start()
    assert await asyncio.wait_for(token.wait(), 2) == "from thread"


async def test_wait_on_an_any_of_after_wakes_at_the_deadline() -> None:
    token = CancelToken.any(CancelToken(), CancelToken.after(0.03))
    reason = await asyncio.wait_for(token.wait(), 2)
    assert isinstance(reason, TimeoutError)


async def test_cancelled_wait_leaves_no_callback_behind() -> None:
    token = CancelToken()
    waiter = asyncio.create_task(token.wait())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert token._callbacks == []


def test_current_token_outside_a_task_is_never_cancelled() -> None:
    token = offload.current_token()
    assert not token.cancelled
    assert offload.current_token() is token


def test_any_does_not_leave_callbacks_on_a_long_lived_source() -> None:
    source = CancelToken()
    for _ in range(100):
        linked = CancelToken.any(source, CancelToken())
        del linked
    gc.collect()
    assert source._callbacks == []


def test_a_cancelled_any_forgets_its_other_sources() -> None:
    a, b = CancelToken(), CancelToken()
    linked = CancelToken.any(a, b)
    a.cancel("a")
    assert linked.reason == "a"
    assert b._callbacks == []


def test_after_without_a_loop_shares_one_timer_thread() -> None:
    fired = threading.Event()
    tokens = [CancelToken.after(0.05 + i * 0.001) for i in range(20)]
    tokens[-1].on_cancel(lambda t: fired.set())
    timers = [t for t in threading.enumerate() if t.name == "offload-deadlines"]
    assert 1 <= len(timers) <= 2  # one shared thread (plus, at most, one just exiting)
    assert fired.wait(5)
    assert all(t.cancelled for t in tokens)


def test_a_failing_callback_at_a_deadline_is_logged_not_raised_by_reading(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = CancelToken()
    token._deadline = time.monotonic() - 1

    def bad(_: CancelToken) -> None:
        raise RuntimeError("bad callback")

    token.on_cancel(bad)
    with caplog.at_level(logging.ERROR, logger="offload"):
        assert token.cancelled
    assert any("deadline" in r.getMessage() for r in caplog.records)


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # 3.12+: fork with threads
def test_after_without_a_loop_still_fires_in_a_forked_child() -> None:
    CancelToken.after(30)  # the deadline thread runs in the parent
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: a fresh deadline must fire its callbacks here too
        fired = threading.Event()
        CancelToken.after(0.02).on_cancel(lambda t: fired.set())
        os.write(write, b"1" if fired.wait(5) else b"0")
        os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 1) == b"1"
    finally:
        os.close(read)
        os.waitpid(pid, 0)
