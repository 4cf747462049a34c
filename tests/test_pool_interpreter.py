"""The interpreter kind: tasks in sub-interpreters of this process, each with its own GIL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator

import pytest
from tests import _interpreter_helpers as ih
from tests import _pool_helpers as h

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")

HAVE_INTERPRETERS = sys.version_info >= (3, 13) and sys.implementation.name == "cpython"
needs_interpreters = pytest.mark.skipif(
    not HAVE_INTERPRETERS,
    reason="sub-interpreters with their own GIL need CPython 3.13+ (this is "
    f"{sys.implementation.name} {sys.version.split()[0]}); the error on older "
    "versions is tested instead",
)


def interpreters() -> set[int]:
    """Ids of the interpreters that exist in this process now."""
    import _interpreters  # type: ignore[import-not-found,unused-ignore]

    return {int(entry[0]) for entry in _interpreters.list_all()}


def settle(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait until ``check()`` is true (a condition, not a duration), or fail."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"still not true after {timeout} s: {what}"
        time.sleep(0.01)


@pytest.fixture
def pipes() -> Iterator[Callable[[], tuple[int, int]]]:
    """Make pipes (read end, write end); all closed at the end of the test."""
    made: list[int] = []

    def make() -> tuple[int, int]:
        r, w = os.pipe()
        made.extend((r, w))
        return r, w

    yield make
    for fd in made:
        with contextlib.suppress(OSError):
            os.close(fd)


@pytest.mark.skipif(HAVE_INTERPRETERS, reason="only Pythons without the interpreter kind")
def test_interpreter_kind_names_the_python_it_needs() -> None:
    with pytest.raises(ValueError, match=r"CPython 3\.13 or later.*kind=\"process\""):
        offload.Pool("interpreter")


@needs_interpreters
def test_memory_limits_are_refused_for_interpreters() -> None:
    with pytest.raises(ValueError, match="max_memory_per_worker needs separate processes"):
        offload.Pool("interpreter", max_memory_per_worker=1 << 30)


@needs_interpreters
async def test_tasks_run_in_sub_interpreters_of_this_process_with_their_own_gil() -> None:
    import _interpreters  # type: ignore[import-not-found,unused-ignore]

    before = interpreters()
    async with offload.Pool("interpreter", max_workers=2) as pool:
        pid, interp = await pool.run(ih.where)
        assert pid == os.getpid()
        assert interp not in before
        assert _interpreters.get_config(interp).gil == "own"
        assert await pool.run(h.square, 7) == 49
    assert interpreters() == before


@needs_interpreters
async def test_two_workers_run_tasks_at_the_same_time(
    pipes: Callable[[], tuple[int, int]],
) -> None:
    a_read, a_write = pipes()
    b_read, b_write = pipes()
    async with offload.Pool("interpreter", max_workers=2) as pool:
        # Each task waits for the other's signal: they finish only if both run at once.
        first = pool.submit(ih.meet, a_write, b_read)
        second = pool.submit(ih.meet, b_write, a_read)
        assert await asyncio.wait_for(asyncio.gather(first, second), 30) == [b"x", b"x"]


@needs_interpreters
async def test_submit_map_lambdas_and_closures() -> None:
    offset = 3
    async with offload.Pool("interpreter", max_workers=2) as pool:
        assert await pool.submit(h.square, 5) == 25
        assert await pool.run(lambda x: x + offset, 4) == 7  # cloudpickle, as for processes
        squares = [x async for x in pool.map(h.square, range(50))]
        assert squares == [x * x for x in range(50)]
        unordered = [x async for x in pool.map(h.square, range(20), ordered=False)]
        assert sorted(unordered) == [x * x for x in range(20)]


@needs_interpreters
async def test_errors_arrive_with_their_own_type_and_the_workers_traceback() -> None:
    async with offload.Pool("interpreter", max_workers=1) as pool:
        with pytest.raises(ih.Boom, match="bad input") as caught:
            await pool.run(ih.raise_boom, "bad input")
        assert "raise_boom" in str(caught.value.__cause__)
        assert await pool.run(h.square, 3) == 9  # the worker lives on


@needs_interpreters
async def test_sys_exit_in_a_task_is_task_exited() -> None:
    async with offload.Pool("interpreter", max_workers=1) as pool:
        first = await pool.run(ih.where)
        with pytest.raises(offload.TaskExited) as caught:
            await pool.run(ih.exit_with, 4)
        assert caught.value.code == 4
        assert await pool.run(ih.where) == first  # same interpreter, still serving


@needs_interpreters
async def test_an_extension_that_refuses_sub_interpreters_fails_only_that_task() -> None:
    pytest.importorskip("numpy")
    async with offload.Pool("interpreter", max_workers=1) as pool:
        with pytest.raises(offload.InterpreterIncompatible) as caught:
            await pool.run(ih.use_numpy)
        error = caught.value
        assert isinstance(error, ImportError)
        assert isinstance(error, offload.WorkerError)
        assert "numpy" in str(error)
        assert 'kind="process"' in str(error)
        assert await pool.run(h.square, 4) == 16
    async with offload.Pool("process", max_workers=1) as pool:
        assert await pool.run(ih.use_numpy) == 3  # where the message sends the user


@needs_interpreters
async def test_an_initializer_that_needs_numpy_fails_the_start_with_that_reason() -> None:
    pytest.importorskip("numpy")
    async with offload.Pool("interpreter", max_workers=1, initializer=ih.use_numpy) as pool:
        with pytest.raises(offload.WorkerStartFailed, match="InterpreterIncompatible") as caught:
            await pool.run(h.square, 2)
        assert isinstance(caught.value.__cause__, offload.InterpreterIncompatible)


@needs_interpreters
async def test_progress_reports_stream_in_order() -> None:
    async with offload.Pool("interpreter", max_workers=1) as pool:
        handle = pool.submit(ih.report_each, 100)
        assert [v async for v in handle.progress()] == list(range(100))
        assert await handle == 100


@needs_interpreters
async def test_context_variables_and_initializer_reach_the_task() -> None:
    async with offload.Pool(
        "interpreter", max_workers=1, context=[h.REQUEST_ID], initializer=h.square, initargs=(2,)
    ) as pool:
        h.REQUEST_ID.set("req-7")
        assert await pool.run(h.read_request_id) == "req-7"


@needs_interpreters
async def test_large_arguments_and_results_cross_through_shared_memory() -> None:
    data = os.urandom(3 << 20)
    async with offload.Pool("interpreter", max_workers=1) as pool:
        assert await pool.run(bytes, data) == data
        assert len(await pool.run(bytes, 5 << 20)) == 5 << 20


@needs_interpreters
async def test_task_logs_reach_the_parents_loggers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="interp.task")
    async with offload.Pool("interpreter", max_workers=1) as pool:
        await pool.run(ih.log_warning, "hello")
    assert any("said hello" in r.getMessage() for r in caplog.records)


@needs_interpreters
async def test_a_cooperative_task_stops_on_timeout_and_keeps_its_worker(
    pipes: Callable[[], tuple[int, int]],
) -> None:
    started_r, started_w = pipes()
    # A generous grace: the task returns as soon as it sees its token, well before.
    async with offload.Pool("interpreter", max_workers=1, cancel_grace=60.0) as pool:
        first = await pool.run(ih.where)
        with pytest.raises(offload.TaskTimeout):
            await pool.run(ih.wait_for_cancel, started_w, timeout=0.05)
        assert os.read(started_r, 1) == b"s"
        # The task saw its token and returned: the same interpreter takes the next task.
        assert await pool.run(ih.where) == first


@needs_interpreters
async def test_a_cancelled_task_sees_its_token(pipes: Callable[[], tuple[int, int]]) -> None:
    started_r, started_w = pipes()
    token = offload.CancelToken()
    loop = asyncio.get_running_loop()
    async with offload.Pool("interpreter", max_workers=1) as pool:
        handle = pool.submit(ih.wait_for_cancel, started_w, token=token)
        await loop.run_in_executor(None, os.read, started_r, 1)  # it runs now
        token.cancel("enough")
        with pytest.raises(offload.Cancelled):
            await handle
        assert await pool.run(h.square, 5) == 25
        assert pool.stats().cancelled == 1


@needs_interpreters
async def test_a_task_that_ignores_its_token_is_abandoned_and_its_worker_replaced(
    pipes: Callable[[], tuple[int, int]],
) -> None:
    release_r, release_w = pipes()
    before = interpreters()
    async with offload.Pool("interpreter", max_workers=1, cancel_grace=0.0) as pool:
        stuck_in = (await pool.run(ih.where))[1]
        with pytest.raises(offload.TaskTimeout):
            # It blocks in os.read until the test writes: the caller is answered anyway.
            await pool.run(ih.ignore_token, release_r, timeout=0.05)
        # A new interpreter serves the next task while the abandoned one still runs.
        replacement = (await pool.run(ih.where))[1]
        assert replacement != stuck_in
        assert stuck_in in interpreters()
        os.write(release_w, b"go")
        settle(lambda: stuck_in not in interpreters(), "the abandoned interpreter is destroyed")
        assert await pool.run(ih.where) == (os.getpid(), replacement)
        stats = pool.stats()
        assert (stats.failed, stats.crashed, stats.workers) == (1, 0, 1)
    assert interpreters() == before


@needs_interpreters
async def test_abandoned_interpreters_are_bounded_by_max_workers(
    pipes: Callable[[], tuple[int, int]],
) -> None:
    first_r, first_w = pipes()
    second_r, second_w = pipes()
    before = interpreters()
    async with offload.Pool("interpreter", max_workers=1, cancel_grace=0.0) as pool:
        with pytest.raises(offload.TaskTimeout):
            await pool.run(ih.ignore_token, first_r, timeout=0.05)  # abandoned
        with pytest.raises(offload.TaskTimeout):
            await pool.run(ih.ignore_token, second_r, timeout=0.05)  # over the bound: kept
        assert pool.stats().busy == 1  # its worker still holds the task
        assert len(interpreters() - before) == 2  # the abandoned one and the busy one
        late = pool.submit(h.square, 6)
        os.write(second_w, b"go")  # the busy worker's task returns: it serves again
        assert await late == 36
        os.write(first_w, b"go")
    assert interpreters() == before


@needs_interpreters
async def test_force_close_abandons_a_task_that_ignores_its_token(
    pipes: Callable[[], tuple[int, int]],
) -> None:
    release_r, release_w = pipes()
    started_r, started_w = pipes()
    before = interpreters()
    loop = asyncio.get_running_loop()
    pool = offload.Pool("interpreter", max_workers=1)
    handle = pool.submit(ih.ignore_token, release_r, started_w)
    await loop.run_in_executor(None, os.read, started_r, 1)  # it runs now
    closing = asyncio.ensure_future(pool.close(force=True))
    with pytest.raises(offload.ClosedError):
        await handle
    os.write(release_w, b"go")  # the task returns; close then finds every thread ended
    await asyncio.wait_for(closing, 30)
    assert interpreters() == before


@needs_interpreters
async def test_close_waits_a_bounded_time_for_an_abandoned_task(
    pipes: Callable[[], tuple[int, int]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from offload._pool import _kind_interpreter as _interpreter

    monkeypatch.setattr(_interpreter, "_CLOSE_WAIT", 0.05)
    release_r, release_w = pipes()
    before = interpreters()
    async with offload.Pool("interpreter", max_workers=1, cancel_grace=0.0) as pool:
        with pytest.raises(offload.TaskTimeout):
            await pool.run(ih.ignore_token, release_r, timeout=0.05)
    # close() returned although the abandoned task still runs, and said so
    assert any("ignored its token" in r.getMessage() for r in caplog.records)
    os.write(release_w, b"go")
    settle(lambda: interpreters() == before, "the abandoned interpreter is destroyed")


@needs_interpreters
async def test_close_leaves_no_threads_and_no_interpreters() -> None:
    before = interpreters()
    async with offload.Pool("interpreter", max_workers=2, min_workers=2) as pool:
        results = await asyncio.gather(*(pool.run(ih.spin, 1000) for _ in range(8)))
        assert len(set(results)) == 1
        assert len(interpreters() - before) == 2
        stats = pool.stats()
        assert (stats.completed, stats.workers) == (8, 2)
    assert interpreters() == before
    # (the no_leaks fixture checks threads and file descriptors)


@needs_interpreters
async def test_idle_workers_retire_and_are_destroyed() -> None:
    before = interpreters()
    async with offload.Pool("interpreter", max_workers=1, idle_timeout=0.0) as pool:
        await pool.run(h.square, 2)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            None, settle, lambda: interpreters() == before, "the idle worker is destroyed"
        )
        assert await pool.run(h.square, 3) == 9  # a new one starts on demand
