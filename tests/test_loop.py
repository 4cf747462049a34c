"""call_in_loop: run a callback in its event loop, from that loop or any other thread."""

from __future__ import annotations

import asyncio
import threading

from offload._loop import call_in_loop, running_in


async def test_in_its_own_loop_the_callback_runs_at_once() -> None:
    loop = asyncio.get_running_loop()
    ran: list[int] = []
    assert running_in(loop)
    assert call_in_loop(loop, ran.append, 1)
    assert ran == [1]


async def test_from_another_thread_the_callback_runs_in_the_loop() -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bool] = loop.create_future()

    def in_loop() -> None:
        done.set_result(running_in(loop))

    scheduled: list[bool] = []
    thread = threading.Thread(target=lambda: scheduled.append(call_in_loop(loop, in_loop)))
    thread.start()
    assert await asyncio.wait_for(done, timeout=10)
    thread.join()
    assert scheduled == [True]


def test_a_closed_loop_runs_nothing() -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    ran: list[int] = []
    assert not running_in(loop)
    assert not call_in_loop(loop, ran.append, 1)
    assert ran == []
