"""PoolExecutor: the concurrent.futures contract, sync use, and exit behaviour."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests import _executor_helpers as h

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")

KINDS = ["process", "thread"]
ROOT = Path(__file__).resolve().parents[1]
Kind = Literal["process", "thread"]


def _wait_until(condition: object, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


# -- futures: pending until a worker takes them; cancel removes queued work ----------


@pytest.mark.parametrize("kind", KINDS)
def test_queued_future_is_pending_and_cancel_stops_it_from_running(
    kind: Kind, tmp_path: Path
) -> None:
    gate, ran = tmp_path / "gate", tmp_path / "ran"
    with offload.PoolExecutor(1, kind=kind) as executor:
        first = executor.submit(h.wait_for_file, str(gate))
        _wait_until(first.running)
        queued = executor.submit(h.touch, str(ran))
        assert not queued.running()
        assert queued.cancel()
        assert queued.cancelled()
        gate.touch()
        assert first.result(timeout=30) == "opened"
        after = executor.submit(h.square, 7)  # the worker is free for new work
        assert after.result(timeout=30) == 49
    assert not ran.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_running_future_cannot_be_cancelled(kind: Kind, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    with offload.PoolExecutor(1, kind=kind) as executor:
        future = executor.submit(h.wait_for_file, str(gate))
        _wait_until(future.running)
        assert not future.cancel()
        gate.touch()
        assert future.result(timeout=30) == "opened"


async def test_run_in_executor_timeout_drops_the_queued_call(tmp_path: Path) -> None:
    gate, ran = tmp_path / "gate", tmp_path / "ran"
    loop = asyncio.get_running_loop()
    async with offload.Pool(max_workers=1) as pool:
        busy = loop.run_in_executor(pool.executor, h.wait_for_file, str(gate))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(loop.run_in_executor(pool.executor, h.touch, str(ran)), 0.2)
        gate.touch()
        assert await busy == "opened"
        assert await loop.run_in_executor(pool.executor, h.square, 3) == 9
    assert not ran.exists()
    assert pool.stats().cancelled == 1


# -- shutdown ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_shutdown_cancel_futures_cancels_queued_and_lets_running_finish(
    kind: Kind, tmp_path: Path
) -> None:
    gate, ran = tmp_path / "gate", tmp_path / "ran"
    executor = offload.PoolExecutor(1, kind=kind)
    running = executor.submit(h.wait_for_file, str(gate))
    _wait_until(running.running)
    queued = [executor.submit(h.touch, str(ran)) for _ in range(5)]
    executor.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in queued)  # before shutdown() returned
    assert not running.done()
    gate.touch()
    executor.shutdown(wait=True)
    assert running.result(timeout=0) == "opened"  # not killed, not ClosedError
    assert not ran.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_submit_after_shutdown_raises_runtime_error(kind: Kind) -> None:
    executor = offload.PoolExecutor(1, kind=kind)
    assert executor.submit(h.square, 2).result(timeout=30) == 4
    executor.shutdown()
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        executor.submit(h.square, 2)
    with pytest.raises(offload.ClosedError):
        executor.submit(h.square, 2)
    executor.shutdown()  # twice is fine


def test_shutdown_without_wait_still_finishes_the_work() -> None:
    executor = offload.PoolExecutor(2, kind="thread")
    futures = [executor.submit(time.sleep, 0.05) for _ in range(6)]
    executor.shutdown(wait=False)
    assert [f.result(timeout=30) for f in futures] == [None] * 6


def test_unused_executor_starts_nothing() -> None:
    executor = offload.PoolExecutor(2)
    executor.shutdown(cancel_futures=True)
    assert "shut down" in repr(executor)


def test_dropped_executor_finishes_its_work_and_ends_its_thread() -> None:
    executor = offload.PoolExecutor(1, kind="thread")
    future = executor.submit(time.sleep, 0.1)
    loop_thread = executor._core.thread
    assert loop_thread is not None
    del executor
    gc.collect()
    assert future.result(timeout=30) is None
    loop_thread.join(timeout=30)
    assert not loop_thread.is_alive()


# -- map ---------------------------------------------------------------------------


@pytest.mark.parametrize("chunksize", [1, 3, 50])
def test_map_gives_results_in_order_for_any_chunksize(chunksize: int) -> None:
    with offload.PoolExecutor(2) as executor:
        assert list(executor.map(pow, range(20), range(20), chunksize=chunksize)) == [
            pow(i, i) for i in range(20)
        ]


@pytest.mark.parametrize("chunksize", [0, -1, 1.5, True])
def test_map_refuses_a_bad_chunksize(chunksize: object) -> None:
    with (
        offload.PoolExecutor(1, kind="thread") as executor,
        pytest.raises(ValueError, match="chunksize must be an int >= 1"),
    ):
        executor.map(h.square, [1], chunksize=chunksize)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_map_timeout_cancels_the_calls_not_yet_started(kind: Kind, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    marks = [str(tmp_path / f"ran-{i}") for i in range(4)]
    with offload.PoolExecutor(1, kind=kind) as executor:
        busy = executor.submit(h.wait_for_file, str(gate))
        _wait_until(busy.running)
        results = executor.map(h.touch, marks, timeout=0.1)
        with pytest.raises(TimeoutError):
            next(results)
        gate.touch()
        assert busy.result(timeout=30) == "opened"
    assert not any(os.path.exists(mark) for mark in marks)


def test_map_closed_early_cancels_the_calls_not_yet_started(tmp_path: Path) -> None:
    gates = [str(tmp_path / f"gate-{i}") for i in range(4)]
    marks = [str(tmp_path / f"ran-{i}") for i in range(4)]
    with offload.PoolExecutor(1, kind="thread") as executor:
        results = executor.map(h.wait_then_touch, gates, marks)
        h.touch(gates[0])
        assert next(results) == marks[0]
        results.close()  # type: ignore[attr-defined]  # the call for gate 1 may have started
        for gate in gates[1:]:
            h.touch(gate)
    assert not os.path.exists(marks[2])
    assert not os.path.exists(marks[3])


# -- references ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_finished_future_keeps_only_its_result(kind: Kind) -> None:
    with offload.PoolExecutor(1, kind=kind) as executor:
        payload = h.Payload(5)
        gone = threading.Event()
        ref = weakref.ref(payload, lambda _: gone.set())
        future = executor.submit(h.read_payload, payload)
        assert future.result(timeout=30) == 5
        del payload
        # No gc.collect(): nothing may hold the argument, not even through a cycle.
        assert gone.wait(10), f"argument still referenced: {gc.get_referrers(ref())}"
        assert future.done()


def test_thread_worker_does_not_hold_the_last_result() -> None:
    with offload.PoolExecutor(1, kind="thread") as executor:
        future = executor.submit(h.Payload, 1)
        ref = weakref.ref(future.result(timeout=30))
        del future
        _wait_until(lambda: ref() is None, 10)


# -- sync use: the loop thread, errors, crashes -----------------------------------------


def test_executor_from_plain_sync_code_in_many_threads() -> None:
    with offload.PoolExecutor(2) as executor, concurrent.futures.ThreadPoolExecutor(4) as callers:
        squares = list(callers.map(lambda x: executor.submit(h.square, x).result(30), range(40)))
    assert squares == [x * x for x in range(40)]


def test_keyword_arguments_reach_the_function() -> None:
    with offload.PoolExecutor(1) as executor:
        assert executor.submit(divmod, 7, 2).result(timeout=30) == (3, 1)
        assert executor.submit(int, "ff", base=16).result(timeout=30) == 255


def test_bad_arguments_are_refused_at_once() -> None:
    for bad in (0, -1, 1.0, True):
        with pytest.raises(ValueError, match="max_workers must be greater than 0"):
            offload.PoolExecutor(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind"):
        offload.PoolExecutor(1, kind="fiber")  # type: ignore[arg-type]
    with (
        offload.PoolExecutor(1, kind="thread") as executor,
        pytest.raises(TypeError, match="needs a callable"),
    ):
        executor.submit(42)  # type: ignore[arg-type]


def test_worker_traceback_is_the_cause_of_the_error() -> None:
    with offload.PoolExecutor(1) as executor, pytest.raises(RuntimeError) as caught:
        executor.submit(h.fail_with_line).result(timeout=30)
    assert caught.value.args == (123,)
    assert "a line the parent's traceback must show" in str(caught.value.__cause__)


def test_crashed_worker_fails_only_its_task() -> None:
    with offload.PoolExecutor(1) as executor:
        with pytest.raises(offload.WorkerCrashed):
            executor.submit(h.exit_now, 3).result(timeout=30)
        assert executor.submit(h.square, 6).result(timeout=30) == 36


def test_recycled_workers_finish_all_work_before_shutdown() -> None:
    executor = offload.PoolExecutor(3, max_tasks_per_worker=1)
    futures = [executor.submit(h.square, i) for i in range(6)]
    executor.shutdown()
    assert [f.result(timeout=0) for f in futures] == [i * i for i in range(6)]


async def test_waiting_on_the_pools_own_loop_thread_raises_instead_of_hanging() -> None:
    async with offload.Pool("thread", max_workers=1) as pool:
        future = pool.executor.submit(h.slow_square, 4, 0.05)
        with pytest.raises(RuntimeError, match="block forever"):
            future.result()
        assert await asyncio.wrap_future(future) == 16
        assert future.result() == 16  # done: fine anywhere


async def test_pool_executor_first_used_from_another_thread_waits_there() -> None:
    async with offload.Pool("thread", max_workers=1) as pool:
        await pool.run(h.square, 1)  # started; its executor not made yet

        def from_thread() -> int:
            return pool.executor.submit(h.slow_square, 5, 0.01).result(timeout=30)

        assert await asyncio.to_thread(from_thread) == 25
        assert await asyncio.to_thread(from_thread) == 25


# -- invariant: a cancel that succeeded means the call never ran --------------------------


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(0, 0.003), st.booleans()), min_size=1, max_size=25))
def test_every_future_ends_once_and_cancelled_calls_never_run(
    calls: list[tuple[float, bool]],
) -> None:
    ran: list[int] = []
    lock = threading.Lock()

    def job(index: int, seconds: float) -> int:
        with lock:
            ran.append(index)
        time.sleep(seconds)
        return index

    with offload.PoolExecutor(2, kind="thread") as executor:
        futures = [executor.submit(job, i, seconds) for i, (seconds, _) in enumerate(calls)]
        cancelled = {i for i, (_, cancel) in enumerate(calls) if cancel and futures[i].cancel()}
    for i, future in enumerate(futures):
        assert future.done()
        if i in cancelled:
            assert future.cancelled()
        else:
            assert future.result(timeout=0) == i
    assert sorted(ran) == sorted(set(range(len(calls))) - cancelled)


# -- interpreter exit (offload versions of CPython's child-Python tests) ---------------------


def _python(script: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
    )


# CPython 3.12.0 and 3.12.1 refuse to start any thread once the main thread has returned,
# even while other threads still run (CPython gh-113964, fixed in 3.12.2), so work that
# needs a new worker or loop thread then cannot run: on those versions the executor
# fails it with a clear error instead (see the scheduler's _spawn), and these tests of
# the behaviour on every other version are skipped.
_NO_THREADS_AT_SHUTDOWN = pytest.mark.skipif(
    (3, 12, 0) <= sys.version_info[:3] < (3, 12, 2),
    reason="CPython 3.12.0-3.12.1 start no thread during interpreter shutdown (gh-113964)",
)


@_NO_THREADS_AT_SHUTDOWN
@pytest.mark.parametrize("kind", KINDS)
def test_pending_work_finishes_at_interpreter_exit(kind: Kind) -> None:
    done = _python(f"""
        import offload
        from tests._executor_helpers import sleep_and_print
        executor = offload.PoolExecutor(2, kind={kind!r})
        executor.submit(sleep_and_print, 0.5, "apple")
        executor.submit(sleep_and_print, 0.6, "banana")
    """)
    assert done.stderr == ""
    assert sorted(done.stdout.split()) == ["apple", "banana"]
    assert done.returncode == 0


@_NO_THREADS_AT_SHUTDOWN
def test_work_running_at_exit_finishes_before_the_workers_are_ended() -> None:
    # Other exit hooks (weakref finalizers, the reaper's) end a pool's workers; they must
    # wait until the executor has finished the work it holds, or the running task dies
    # with its worker and the queued one waits for a template killed as it starts.
    done = _python(
        """
        import time
        import offload
        from tests._executor_helpers import sleep_and_print
        executor = offload.PoolExecutor(2, kind="process")
        first = executor.submit(sleep_and_print, 0.5, "apple")
        executor.submit(sleep_and_print, 0.6, "banana")
        while not first.running():
            time.sleep(0.01)
    """,
        timeout=45,
    )
    assert done.stderr == ""
    assert sorted(done.stdout.split()) == ["apple", "banana"]
    assert done.returncode == 0


def test_shutdown_without_wait_does_not_hang_exit_and_finishes_the_work() -> None:
    done = _python("""
        import offload
        from tests._executor_helpers import sleep_and_print
        executor = offload.PoolExecutor(3)
        executor.submit(sleep_and_print, 0.5, "apple")
        executor.shutdown(wait=False)
    """)
    assert done.stderr == ""
    assert done.stdout.strip() == "apple"


@_NO_THREADS_AT_SHUTDOWN
def test_cancel_futures_without_wait_exits_cleanly() -> None:
    done = _python("""
        import offload
        from tests._executor_helpers import sleep_and_print
        executor = offload.PoolExecutor(kind="thread")
        executor.submit(sleep_and_print, 0.1, "apple")
        executor.shutdown(wait=False, cancel_futures=True)
    """)
    assert done.stderr == ""
    assert done.stdout.strip() in ("apple", "")


def test_submit_from_a_later_exit_handler_raises_runtime_error() -> None:
    done = _python("""
        import atexit

        @atexit.register
        def submit_late():
            try:
                executor.submit(id, None)
            except RuntimeError as exc:
                print("refused:", exc)

        import offload
        executor = offload.PoolExecutor(2)
        executor.submit(id, 42).result()
    """)
    assert done.stderr == ""
    assert "refused: cannot schedule new futures after interpreter shutdown" in done.stdout


@_NO_THREADS_AT_SHUTDOWN
def test_other_threads_finish_using_the_executor_before_exit() -> None:
    done = _python("""
        import threading
        import offload
        from tests._executor_helpers import square
        executor = offload.PoolExecutor(1, kind="thread")

        def late_user():
            import time
            time.sleep(0.3)  # main has returned by now
            print(executor.submit(square, 12).result())

        threading.Thread(target=late_user).start()
    """)
    assert done.stderr == ""
    assert done.stdout.strip() == "144"


@pytest.mark.parametrize("kind", KINDS)
def test_exit_with_pending_work_never_hangs(kind: Kind) -> None:
    # On every version the program ends; where threads can still start at shutdown the
    # work also finishes (test_pending_work_finishes_at_interpreter_exit).
    done = _python(
        f"""
        import offload
        from tests._executor_helpers import sleep_and_print
        executor = offload.PoolExecutor(2, kind={kind!r})
        executor.submit(sleep_and_print, 0.2, "apple")
        """,
        timeout=45,
    )
    assert done.returncode == 0, done.stderr
