"""Scheduling, cancellation and recycling decisions, checked on an in-memory fake backend."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import offload
from offload._pool._backend import Backend
from offload._pool._events import WorkerEvents
from offload._pool._kind_fake import FakeBackend, FakeWorker
from offload._pool._scheduler import _CATCH_UP_AFTER, Scheduler, WorkerState

DRAINING = WorkerState.DRAINING


class FakePool(offload.Pool):
    _restart_max = 0.0  # workers killed while starting come back at once, in test time

    def __init__(self, *, auto_start: bool = True, **options: Any) -> None:
        super().__init__("process", **options)
        self.auto_start = auto_start
        self.fake: FakeBackend | None = None

    def _create_backend(self, events: WorkerEvents, loop: asyncio.AbstractEventLoop) -> Backend:
        assert isinstance(events, Scheduler)
        self.fake = FakeBackend(events, loop, auto_start=self.auto_start)
        return self.fake

    @property
    def workers(self) -> list[FakeWorker]:
        assert self.fake is not None
        return self.fake.created


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def job(x: object = None) -> object:
    return x


async def test_work_spreads_over_new_workers_before_queueing_behind_busy_ones() -> None:
    pool = FakePool(max_workers=2)
    handles = [pool.submit(job, i) for i in range(3)]
    await settle()
    assert len(pool.workers) == 2
    assert [len(w.received) for w in pool.workers] == [1, 1]
    assert pool.stats().queued == 1
    pool.workers[0].finish("a")
    await settle()
    assert await handles[0] == "a"
    assert [len(w.received) for w in pool.workers] == [2, 1]
    await pool.close(force=True)


async def _short_tasks_taught() -> FakePool:
    """A full pool of two workers that has learnt its tasks are short."""
    pool = FakePool(max_workers=2)
    for _ in range(2):
        pool.submit(job)
    await settle()
    for _ in range(20):
        for worker in pool.workers:
            if worker.inflight:
                worker.finish(run_time=1e-6)
        pool.submit(job)
        pool.submit(job)
        await settle()
    return pool


async def test_short_tasks_are_pipelined_only_when_the_pool_is_full() -> None:
    pool = await _short_tasks_taught()
    for _ in range(40):
        pool.submit(job)
    await settle()
    depths = [len(w.inflight) for w in pool.workers]
    assert max(depths) > 1
    assert all(d <= FakeBackend.max_depth for d in depths)
    await pool.close(force=True)


async def _pipelined_pool() -> FakePool:
    """A pool taught that its tasks are short (pipelined), with nothing in flight."""
    pool = await _short_tasks_taught()
    for worker in pool.workers:
        while worker.inflight:
            worker.finish(run_time=1e-6)
    await settle()
    return pool


# A run of submits long enough to take in answers and hand out work (see Scheduler._catch_up).
_BURST = _CATCH_UP_AFTER + 40


async def test_a_long_run_of_submits_reads_answers_and_feeds_workers_without_a_loop_turn() -> None:
    pool = await _pipelined_pool()
    assert pool.fake is not None
    workers = pool.workers
    sent_before = [len(w.received) for w in workers]
    handles = [pool.submit(job, i) for i in range(_BURST)]  # no loop turn from here on
    # The run of submits handed each worker a full pipeline without waiting for the loop.
    first = [len(w.received) - n for w, n in zip(workers, sent_before, strict=True)]
    assert first == [FakeBackend.max_depth] * 2
    for worker in workers:  # the workers answer everything they hold; nobody reads it yet
        for i in range(len(worker.inflight)):
            worker.answer(f"{worker.id}-{i}", run_time=1e-6)
    polls, completed = pool.fake.polls, pool.stats().completed
    handles += [pool.submit(job, i) for i in range(40)]
    # The submits read those answers and handed out more work.
    assert pool.fake.polls > polls
    assert all(not w.unread for w in workers)
    assert pool.stats().completed - completed == 2 * FakeBackend.max_depth
    sent = [len(w.received) - n for w, n in zip(workers, sent_before, strict=True)]
    assert sum(sent) > 2 * FakeBackend.max_depth
    # First in, first out: the tasks handed out are the oldest, none is lost or doubled.
    handed = [t.id for w, n in zip(workers, sent_before, strict=True) for t in w.received[n:]]
    queued = [t.id for t in pool._scheduler.queue]
    assert sorted(handed + queued) == [h.id for h in handles]
    assert max(handed) < min(queued)
    # Their callers get the results once the loop runs again.
    await settle()
    answered = [h for h in handles if h.done()]
    expected = [f"{w.id}-{i}" for w in workers for i in range(FakeBackend.max_depth)]
    assert sorted([await h for h in answered]) == sorted(expected)
    await pool.close(force=True)


async def test_a_short_run_of_submits_leaves_the_answers_to_the_dispatch() -> None:
    # The callers one loop turn's answers wake each submit their next task: reading the
    # workers in between would only split their answers into smaller batches.
    pool = await _pipelined_pool()
    assert pool.fake is not None
    workers = pool.workers
    handles = [pool.submit(job, i) for i in range(40)]
    answers = 0
    for worker in workers:
        for i in range(len(worker.inflight)):
            worker.answer(f"{worker.id}-{i}", run_time=1e-6)
            answers += 1
    polls, completed = pool.fake.polls, pool.stats().completed
    handles += [pool.submit(job, i) for i in range(_CATCH_UP_AFTER - 40 - 1)]
    assert pool.fake.polls == polls
    assert pool.stats().completed == completed
    await settle()  # the loop reads them
    assert pool.stats().completed - completed == answers > 0
    await pool.close(force=True)


async def test_answers_taken_in_during_a_run_of_submits_survive_a_forced_close() -> None:
    pool = await _pipelined_pool()
    handles = [pool.submit(job, i) for i in range(_BURST)]
    for worker in pool.workers:
        for _ in range(len(worker.inflight)):
            worker.answer("answered", run_time=1e-6)
    handles += [pool.submit(job, i) for i in range(40)]  # takes the answers in
    await pool.close(force=True)
    outcomes = []
    for handle in handles:
        try:
            outcomes.append(await handle)
        except offload.ClosedError:
            outcomes.append("closed")
    answered = 2 * FakeBackend.max_depth
    assert outcomes == ["answered"] * answered + ["closed"] * (len(handles) - answered)


async def test_callers_of_run_answered_during_a_run_of_submits_get_results_after_it() -> None:
    pool = await _pipelined_pool()
    workers = pool.workers
    seen: dict[str, object] = {}

    async def caller(i: int) -> object:
        return await pool.run(job, i)

    async def workers_answer() -> None:  # in the middle of the run: nobody reads it yet
        for worker in workers:
            for task in list(worker.inflight)[len(worker.unread) :]:
                worker.answer(task.id, run_time=1e-6)

    async def after_the_run() -> None:  # the last step of the same loop turn
        seen["unsettled"] = len(pool._scheduler._unsettled)
        seen["completed"] = pool.stats().completed

    completed = pool.stats().completed
    # Every step below runs in one loop turn, in this order: one run of submits.
    callers = [asyncio.ensure_future(caller(i)) for i in range(_BURST)]
    steps = [asyncio.ensure_future(workers_answer())]
    callers += [
        asyncio.ensure_future(caller(i)) for i in range(_CATCH_UP_AFTER, _CATCH_UP_AFTER + 40)
    ]
    steps.append(asyncio.ensure_future(after_the_run()))
    await asyncio.gather(*steps)
    # The answers were taken in during the run, their callers not woken inside it.
    assert seen["completed"] == completed + 2 * FakeBackend.max_depth
    assert seen["unsettled"] == 2 * FakeBackend.max_depth
    await settle()
    answered = [c for c in callers if c.done()]
    assert len(answered) == 2 * FakeBackend.max_depth
    assert pool._scheduler._unsettled == deque()
    await pool.close(force=True)


async def test_submits_with_loop_turns_between_them_do_not_poll_the_workers() -> None:
    pool = await _pipelined_pool()
    assert pool.fake is not None
    polls = pool.fake.polls
    for i in range(200):
        pool.submit(job, i)
        await asyncio.sleep(0)  # the loop's dispatch runs between submits
    assert pool.fake.polls == polls
    await pool.close(force=True)


async def test_an_answer_nobody_awaits_yet_schedules_no_callback_on_the_loop() -> None:
    pool = FakePool(max_workers=1)
    handle = pool.submit(job)
    await settle()
    loop = asyncio.get_running_loop()
    scheduled: list[object] = []
    call_soon = loop.call_soon

    def counting_call_soon(callback: Any, *args: Any, **kwargs: Any) -> asyncio.Handle:
        scheduled.append(callback)
        return call_soon(callback, *args, **kwargs)

    loop.call_soon = counting_call_soon  # type: ignore[method-assign]
    try:
        pool.workers[0].finish("done")
    finally:
        del loop.call_soon
    assert scheduled == []  # a deep run of answers leaves no handle per task behind
    assert await handle == "done"
    assert handle._task.watcher is None
    await pool.close(force=True)


async def test_long_tasks_are_never_pipelined() -> None:
    pool = FakePool(max_workers=1)
    for _ in range(5):
        pool.submit(job)
    await settle()
    worker = pool.workers[0]
    for _ in range(3):
        assert len(worker.inflight) == 1
        worker.finish(run_time=0.5)
        await settle()
    await pool.close(force=True)


async def test_timeout_is_armed_when_the_task_starts_running() -> None:
    pool = FakePool(max_workers=1)
    first = pool.submit(job)
    second = pool.submit(job, timeout=0.05)
    await settle()
    await asyncio.sleep(0.15)
    assert not second.done()  # still queued behind the first: its clock has not started
    worker = pool.workers[0]
    worker.finish("first")
    assert await first == "first"
    await settle()
    worker.begin()
    with pytest.raises(offload.TaskTimeout):
        await asyncio.wait_for(asyncio.shield(second._task.future), 5)
    await settle()
    assert worker.kills == [second._task.seq]
    await pool.close(force=True)


async def test_cancel_does_not_kill_a_worker_that_moved_on() -> None:
    pool = FakePool(max_workers=1)
    handle = pool.submit(job)
    await settle()
    worker = pool.workers[0]
    # The worker finished the task but its answer is still in flight: running_seq is 0.
    handle.cancel()
    await settle()
    assert worker.kills == []
    assert worker.cancel_requests == [handle._task.seq]
    worker.finish("late answer")  # discarded, the worker stays
    await settle()
    assert worker in pool.fake.workers.values()  # type: ignore[union-attr]
    await pool.close(force=True)


async def test_a_crash_fails_the_running_task_and_requeues_the_rest_in_order() -> None:
    pool = FakePool(max_workers=1)
    pool._scheduler.short_tasks = True  # let the worker hold several tasks
    handles = [pool.submit(job, i) for i in range(4)]
    await settle()
    first = pool.workers[0]
    assert len(first.inflight) == 4
    first.begin()
    first.die(signal=11)
    await settle()
    with pytest.raises(offload.WorkerCrashed) as info:
        await handles[0]
    assert info.value.signal == 11
    assert info.value.function == "job"
    replacement = pool.workers[1]
    assert [t.id for t in replacement.received] == [h.id for h in handles[1:]]
    for i in (1, 2, 3):
        replacement.finish(i)
    assert [await h for h in handles[1:]] == [1, 2, 3]
    await pool.close()


async def test_workers_dying_at_start_up_fail_the_queue_with_worker_start_failed() -> None:
    pool = FakePool(max_workers=1, auto_start=False)
    handle = pool.submit(job)
    for _ in range(3):
        await settle()
        pool.workers[-1].die(exitcode=3)
    await settle()
    with pytest.raises(offload.WorkerStartFailed, match="exited with code 3"):
        await handle
    assert len(pool.workers) == 3  # it stopped respawning
    again = pool.submit(job, "retry")  # new work tries again
    await settle()
    pool.workers[-1].start()
    await settle()
    pool.workers[-1].finish("retry")
    assert await again == "retry"
    await pool.close()


async def test_max_tasks_per_worker_retires_between_tasks() -> None:
    pool = FakePool(max_workers=1, max_tasks_per_worker=2)
    handles = [pool.submit(job, i) for i in range(3)]
    await settle()
    first = pool.workers[0]
    first.finish(0)
    await settle()
    assert first.state == DRAINING
    assert not first.retired
    first.finish(1)
    await settle()
    assert first.retired
    await settle()
    second = pool.workers[1]
    second.finish(2)
    assert [await h for h in handles] == [0, 1, 2]
    await pool.close()


async def test_idle_workers_above_the_minimum_retire_with_one_timer() -> None:
    pool = FakePool(max_workers=3, min_workers=1, idle_timeout=0.05)
    for _ in range(3):
        pool.submit(job)
    await settle()
    for worker in pool.workers:
        worker.finish()
    await settle()
    assert pool.stats().workers == 3
    await asyncio.sleep(0.2)
    await settle()
    assert pool.stats().workers == 1
    await pool.close()


async def test_close_force_fails_everything_and_kills() -> None:
    pool = FakePool(max_workers=1)
    running = pool.submit(job)
    queued = pool.submit(job)
    await settle()
    pool.workers[0].begin()
    await pool.close(force=True)
    for handle in (running, queued):
        with pytest.raises(offload.ClosedError):
            await handle


# -- invariants under random interleavings ---------------------------------------------

ops = st.lists(
    st.tuples(
        st.sampled_from(["submit", "start", "begin", "finish", "fail", "crash", "cancel", "tick"]),
        st.integers(min_value=0, max_value=7),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops, st.integers(min_value=1, max_value=3), st.booleans())
def test_every_task_ends_exactly_once_with_its_own_outcome(
    steps: list[tuple[str, int]], size: int, pipeline: bool
) -> None:
    asyncio.run(_drive(steps, size, pipeline))


async def _drive(steps: list[tuple[str, int]], size: int, pipeline: bool) -> None:
    pool = FakePool(max_workers=size, auto_start=False)
    pool._scheduler.short_tasks = pipeline
    handles: list[Any] = []

    def live() -> list[FakeWorker]:
        return [] if pool.fake is None else list(pool.fake.workers.values())

    for op, n in steps:
        workers = live()
        worker = workers[n % len(workers)] if workers else None
        if op == "submit":
            handles.append(pool.submit(job, len(handles)))
        elif worker is None:
            pass
        elif op == "start" and worker.state == 0:
            worker.start()
        elif op == "begin" and worker.inflight:
            worker.begin()
        elif op == "finish" and worker.inflight:
            worker.finish(_value_of(worker))
        elif op == "fail" and worker.inflight:
            worker.finish(ValueError(_value_of(worker)), ok=False)
        elif op == "crash":
            worker.die(signal=9)
        elif op == "cancel" and handles:
            handles[n % len(handles)].cancel()
        await settle()
        pool._scheduler.dispatch()
        await settle()
    # Drain: start every worker and let it answer everything it holds (a real worker
    # answers a cancelled task too: skipped, or its late result); then all must be done.
    for _ in range(500):
        if all(h.done() for h in handles) and pool._scheduler.outstanding == 0:
            break
        for worker in live():
            if worker.state == 0:
                worker.start()
            elif worker.inflight:
                worker.finish(_value_of(worker))
        await settle()
    assert all(h.done() for h in handles)
    for i, handle in enumerate(handles):
        future = handle._task.future
        if future.cancelled():
            continue
        error = future.exception()
        if error is None:
            assert future.result() == i  # never someone else's answer
        elif isinstance(error, ValueError):
            assert error.args == (i,)
        else:
            assert isinstance(error, offload.WorkerCrashed | offload.WorkerStartFailed)
    await pool.close()
    assert pool._scheduler.outstanding == 0


def _value_of(worker: FakeWorker) -> int:
    # the task id is 1-based and handles are numbered from 0 in submission order
    return worker.inflight[0].id - 1
