"""What a task's exceptions become in the caller.

sys.exit() or KeyboardInterrupt in a task reaches the caller as offload.TaskExited:
delivered as itself, such an exception would stop the caller's event loop (asyncio
re-raises SystemExit and KeyboardInterrupt out of the loop). Process, thread and
executor paths all deliver the ordinary TaskExited, and the worker lives on. An
exception that cannot travel back still says what the task raised.
"""

from __future__ import annotations

import asyncio
import pickle
import traceback
from typing import Any

import pytest
from tests import _pool_data_helpers as d
from tests import _pool_helpers as h

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")

KINDS = ["process", "thread"]


async def _outcome(awaitable: Any) -> BaseException | None:
    # Catch everything here, inside the test's coroutine: a SystemExit escaping to the
    # loop would end the test session instead of failing this test.
    try:
        await awaitable
    except BaseException as exc:
        return exc
    return None


@pytest.mark.parametrize("kind", KINDS)
async def test_sys_exit_in_a_task_is_task_exited_with_its_code(kind: str) -> None:
    async with offload.Pool(kind, max_workers=1) as pool:  # type: ignore[arg-type]
        error = await _outcome(pool.run(d.exit_now, 3))
        assert isinstance(error, offload.TaskExited), repr(error)
        assert (error.exc_type, error.code, error.function) == (SystemExit, 3, "exit_now")
        assert "exit_now() raised SystemExit(3)" in str(error)
        # Its cause shows where the task exited (the worker's traceback).
        assert "sys.exit(code)" in "".join(traceback.format_exception(error))
        assert await pool.run(h.square, 4) == 16  # the same worker goes on
        assert pool.stats().workers == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_keyboard_interrupt_and_other_base_exceptions_are_task_exited(kind: str) -> None:
    async with offload.Pool(kind, max_workers=1) as pool:  # type: ignore[arg-type]
        error = await _outcome(pool.run(d.interrupt))
        assert isinstance(error, offload.TaskExited), repr(error)
        assert error.exc_type is KeyboardInterrupt
        assert error.code is None
        handle = pool.submit(d.raise_stop)
        error = await _outcome(handle)
        assert isinstance(error, offload.TaskExited), repr(error)
        assert error.exc_type is d.Stop
        error = await _outcome(pool.run(d.exit_now, "bye"))
        assert isinstance(error, offload.TaskExited)
        assert error.code == "bye"
        assert await pool.run(h.square, 5) == 25


@pytest.mark.parametrize("kind", KINDS)
async def test_the_executor_delivers_task_exited_too(kind: str) -> None:
    async with offload.Pool(kind, max_workers=1) as pool:  # type: ignore[arg-type]
        future = pool.executor.submit(d.exit_now, 4)
        error = await asyncio.to_thread(future.exception, 30)
        assert isinstance(error, offload.TaskExited), repr(error)
        assert error.code == 4


@pytest.mark.parametrize("kind", KINDS)
async def test_map_raises_task_exited(kind: str) -> None:
    async with offload.Pool(kind, max_workers=1) as pool:  # type: ignore[arg-type]

        async def consume() -> list[None]:
            return [x async for x in pool.map(d.exit_now, [5])]

        error = await _outcome(consume())
        assert isinstance(error, offload.TaskExited), repr(error)


def test_task_exited_is_an_ordinary_exception_that_pickles() -> None:
    error = offload.TaskExited.from_exception(SystemExit(2), "job")
    assert isinstance(error, Exception)
    assert isinstance(error, offload.OffloadError)
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is offload.TaskExited
    assert (back.exc_type, back.code, back.function, str(back)) == (
        SystemExit,
        2,
        "job",
        str(error),
    )


async def test_an_exception_that_cannot_be_unpickled_still_says_what_was_raised() -> None:
    async with offload.Pool(max_workers=1) as pool:
        with pytest.raises(offload.SerializationError) as info:
            await pool.run(d.raise_two_arg_error)
        message = str(info.value)
        assert "TwoArgError: upload failed with 7" in message
        assert "__reduce__" in message
        assert "raise_two_arg_error" in str(info.value.__cause__)  # the worker's traceback
        assert await pool.run(h.square, 2) == 4
