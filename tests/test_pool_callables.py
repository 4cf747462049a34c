"""What a task runs is its callable as it was at submit time; bad callables are refused.

Process tasks pickle bound methods, partials, callable objects and closures at every
submit (only module-level names are cached), so mutations between calls are seen and a
worker never reuses a stale or task-mutated copy; the pool keeps no user object alive.
Async functions and keyword arguments meant for the function are refused at once.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests import _pool_data_helpers as d
from tests import _pool_helpers as h

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")


async def test_a_bound_method_sees_its_object_as_it_is_at_submit() -> None:
    async with offload.Pool(max_workers=1) as pool:
        m = d.Scaler(2)
        assert await pool.run(m.apply, 5) == 10
        m.k = 10
        assert await pool.run(m.apply, 5) == 50
        m.extra.append(1)
        assert await pool.run(m.apply, 5) == 51


async def test_callable_objects_partials_and_closures_see_their_state_at_submit() -> None:
    async with offload.Pool(max_workers=1) as pool:
        fn = d.Affine(2, 1)
        assert await pool.run(fn, 3) == 7
        fn.b = 100
        assert await pool.run(fn, 3) == 106
        state = {"a": 1, "b": 0}
        part = functools.partial(d.affine, state)
        assert await pool.run(part, 3) == 3
        state["a"] = 5
        assert await pool.run(part, 3) == 15
        closure, set_k = d.make_closure(2)
        assert await pool.run(closure, 3) == 6
        set_k(7)
        assert await pool.run(closure, 3) == 21


async def test_a_task_gets_a_fresh_copy_of_its_callable_every_time() -> None:
    # A callable that changes itself: each task sees the submitter's object (count 0),
    # never the copy an earlier task changed in the same worker.
    async with offload.Pool(max_workers=1) as pool:
        counter = d.Counter()
        assert [await pool.run(counter) for _ in range(3)] == [1, 1, 1]
        handles = [pool.submit(counter) for _ in range(3)]
        assert [await handle for handle in handles] == [1, 1, 1]


async def test_many_distinct_callables_never_run_one_another() -> None:
    # More distinct callables than any cache holds: each task runs its own.
    async with offload.Pool(max_workers=1) as pool:
        for i in range(600):
            assert await pool.run(functools.partial(d.add, i), 1) == i + 1
        assert await pool.run(h.square, 3) == 9


async def test_the_pool_keeps_no_callable_or_its_object_alive() -> None:
    async with offload.Pool(max_workers=1) as pool:
        m = d.Scaler(3)
        fn = d.Affine(1, 2)
        closure, _set = d.make_closure(4)
        assert await pool.run(m.apply, 1) == 3
        assert await pool.run(fn, 1) == 3
        assert await pool.run(closure, 1) == 4
        refs = [weakref.ref(m), weakref.ref(fn), weakref.ref(closure)]
        del m, fn, closure, _set
        gc.collect()
        assert [ref() for ref in refs] == [None, None, None]
        assert await pool.run(h.square, 2) == 4


async def test_a_function_sent_by_value_is_a_fresh_copy_in_every_task() -> None:
    async with offload.Pool(max_workers=1) as pool:
        count = d.make_counting_closure()
        assert [await pool.run(count) for _ in range(3)] == [1, 1, 1]
        assert count() == 1  # the caller's own closure is untouched by the tasks


def test_a_by_value_function_is_pickled_again_unless_nothing_it_reads_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from offload._pool._functions import FunctionCache

    cache = FunctionCache()
    reads_factor, reads_offsets = d.make_global_readers()
    first = cache.head(reads_factor)
    assert cache.head(reads_factor) is first  # an int global, unchanged: cached
    monkeypatch.setattr(d, "FACTOR", 7)
    assert cache.head(reads_factor) != first  # rebound: pickled again
    # A list can change in place: never cached, pickled every time.
    assert cache.head(reads_offsets) is not cache.head(reads_offsets)
    closure, set_k = d.make_closure(2)
    before = cache.head(closure)
    assert cache.head(closure) is before
    set_k(9)
    assert cache.head(closure) != before
    closure.tag = "x"  # type: ignore[attr-defined]
    assert cache.head(closure) is not cache.head(closure)


async def test_a_worker_keeps_nothing_of_a_task_after_it_ends() -> None:
    async with offload.Pool(max_workers=1) as pool:
        await pool.run(d.make_tracked)  # its result
        assert await pool.run(d.tracked_alive) == 0
        await pool.run(d.tracked_alive, d.Tracked())  # its argument
        assert await pool.run(d.tracked_alive) == 0


async def test_module_functions_are_sent_once_per_worker() -> None:
    async with offload.Pool(max_workers=1) as pool:
        for i in range(5):
            assert await pool.run(h.square, i) == i * i
        backend: Any = pool._scheduler.backend
        assert len(backend.functions) == 1  # cached by name
        assert await pool.run(d.Scaler(2).apply, 1) == 2
        assert len(backend.functions) == 1  # a bound method is never cached


# -- property: random mutations between calls, compared with a local call ---------------

_TARGETS = ("method", "object", "partial", "closure", "global", "global-list")
_steps = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(_TARGETS), st.integers(-50, 50)),
        st.tuples(st.just("call"), st.sampled_from(_TARGETS), st.integers(-50, 50)),
    ),
    min_size=1,
    max_size=12,
)


async def _scenario(pool: offload.Pool, steps: list[tuple[str, str, int]]) -> None:
    scaler = d.Scaler(1)
    affine = d.Affine(1, 0)
    state = {"a": 1, "b": 0}
    closure, set_k = d.make_closure(1)
    reads_factor, reads_offsets = d.make_global_readers()
    callables = {
        "method": scaler.apply,
        "object": affine,
        "partial": functools.partial(d.affine, state),
        "closure": closure,
        "global": reads_factor,
        "global-list": reads_offsets,
    }

    def mutate(target: str, value: int) -> None:
        if target == "method":
            scaler.k = value
            scaler.extra.append(value % 3)
        elif target == "object":
            affine.b = value
        elif target == "partial":
            state["a"] = value
        elif target == "global":
            d.FACTOR = value
        elif target == "global-list":
            d.OFFSETS.append(value)
        else:
            set_k(value)

    pending: list[tuple[offload.TaskHandle[int], int]] = []
    for op, target, value in steps:
        if op == "set":
            mutate(target, value)
            continue
        fn = callables[target]
        expected = fn(value)
        pending.append((pool.submit(fn, value), expected))
    for handle, expected in pending:
        assert await handle == expected


def test_results_always_match_a_local_call_after_random_mutations() -> None:
    # One pool (and loop) for every example: the workers and the parent's cache carry
    # over from example to example, as they would in a long-running application.
    loop = asyncio.new_event_loop()
    pool = offload.Pool(max_workers=2)
    factor, offsets = d.FACTOR, list(d.OFFSETS)

    @settings(max_examples=60, deadline=None)
    @given(_steps)
    def check(steps: list[tuple[str, str, int]]) -> None:
        loop.run_until_complete(_scenario(pool, steps))

    try:
        check()
    finally:
        d.FACTOR, d.OFFSETS[:] = factor, offsets
        loop.run_until_complete(pool.close())
        loop.close()


# -- __main__ ---------------------------------------------------------------------------

_MAIN_SCRIPT = textwrap.dedent(
    """
    import asyncio, dataclasses, functools, sys
    import offload

    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    def scale(k, p):
        return Point(p.x * k, p.y * k)

    class Adder:
        def __init__(self, n):
            self.n = n
        def __call__(self, x):
            return x + self.n

    def leave(code):
        sys.exit(code)

    K = 2

    def times_k(x):
        return x * K

    async def main():
        async with offload.Pool(max_workers=1) as pool:
            out = await pool.run(functools.partial(scale, 3), Point(1, 2))
            print("partial", out == Point(3, 6), flush=True)
            print("instance", await pool.run(Adder(5), 1), flush=True)
            print("method", await pool.run(Point(4, 0).__repr__), flush=True)
            global K
            before = await pool.run(times_k, 3)
            K = 5
            print("global", before, await pool.run(times_k, 3), flush=True)
            try:
                await pool.run(leave, 7)
            except offload.TaskExited as exc:
                print("exited", exc.code, exc.exc_type.__name__, flush=True)
        async with offload.Pool("thread", max_workers=1) as pool:
            try:
                await pool.run(leave, 8)
            except offload.TaskExited as exc:
                print("thread-exited", exc.code, flush=True)

    asyncio.run(main())
    print("loop-survived", flush=True)
    """
)


def test_main_partials_instances_and_dataclasses_work_from_a_script(tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(_MAIN_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=50, check=False
    )
    assert done.stdout.splitlines() == [
        "partial True",
        "instance 6",
        "method Point(x=4, y=0)",
        "global 6 15",
        "exited 7 SystemExit",
        "thread-exited 8",
        "loop-survived",
    ], done.stderr
    assert done.returncode == 0


# -- refused at once --------------------------------------------------------------------

_ASYNC_CALLABLES = [
    pytest.param(d.async_double, id="coroutine-function"),
    pytest.param(d.async_numbers, id="async-generator-function"),
    pytest.param(d.AsyncCallable(), id="async-call-object"),
    pytest.param(d.AsyncMethods().double, id="async-bound-method"),
    pytest.param(functools.partial(d.async_double, 1), id="partial-of-async"),
    pytest.param(functools.partial(d.AsyncCallable()), id="partial-of-async-object"),
]


@pytest.mark.parametrize("kind", ["process", "thread"])
@pytest.mark.parametrize("fn", _ASYNC_CALLABLES)
async def test_async_functions_are_refused_before_anything_runs(kind: str, fn: Any) -> None:
    async with offload.Pool(kind, max_workers=1) as pool:  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="async function"):
            await pool.run(fn, 1)
        with pytest.raises(TypeError, match="async function"):
            pool.submit(fn, 1)
        with pytest.raises(TypeError, match="async function"):
            pool.map(fn, [1, 2])  # at the call, not at the first item
        assert pool.stats().workers == 0
        assert pool.stats().queued == 0


async def test_keyword_arguments_for_the_function_point_to_partial() -> None:
    async with offload.Pool(max_workers=1) as pool:
        with pytest.raises(TypeError, match=r"functools\.partial\(int, base=16\)"):
            await pool.run(int, "ff", base=16)
        with pytest.raises(TypeError, match="timeout= and token="):
            pool.submit(int, "ff", base=16)
        assert await pool.run(functools.partial(int, base=16), "ff") == 255
