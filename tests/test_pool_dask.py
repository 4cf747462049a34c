"""Pool(kind="dask") on a real Dask LocalCluster of worker processes.

The tests share one cluster, started once for the module in a process of its own; tests
that end a Dask worker (cancel, timeout, SIGKILL) wait for its nanny's replacement
before the next one needs it. The tests of closing use the pool's own cluster, so the
leak check proves that closing the pool leaves no process behind.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests import _dask_helpers as d
from tests import _pool_helpers as h

import offload

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.usefixtures("no_leaks")


@pytest.fixture(scope="module", autouse=True)
def _process_singletons() -> None:
    d.start_process_singletons()


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    yield from d.local_cluster(2)


async def _until(check: object, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


# -- on the shared cluster -----------------------------------------------------------


async def test_results_come_back_from_dask_worker_processes(address: str) -> None:
    async with offload.Pool("dask", address=address, max_workers=2) as pool:
        assert await pool.run(h.square, 7) == 49
        pids = {await pool.run(h.pid) for _ in range(4)}
        assert os.getpid() not in pids


async def test_lambdas_closures_and_partials_work(address: str) -> None:
    offset = 5
    async with offload.Pool("dask", address=address, max_workers=2) as pool:
        assert await pool.run(lambda x: x + offset, 1) == 6
        assert await pool.run(functools.partial(pow, 2), 10) == 1024


async def test_exceptions_keep_their_type_and_the_worker_traceback(address: str) -> None:
    async with offload.Pool("dask", address=address, max_workers=2) as pool:
        with pytest.raises(h.Boom, match="bad input") as info:
            await pool.run(h.raise_boom, "bad input")
        assert "raise_boom" in str(info.value.__cause__)
        assert "traceback in the worker" in str(info.value.__cause__)
        assert await pool.run(h.square, 3) == 9  # the worker lives on


async def test_an_unpicklable_result_fails_only_that_task(address: str) -> None:
    async with offload.Pool("dask", address=address, max_workers=1) as pool:
        with pytest.raises(offload.SerializationError):
            await pool.run(h.lock_result)
        assert await pool.run(h.square, 4) == 16


async def test_map_keeps_order_or_yields_as_finished(address: str) -> None:
    async with offload.Pool("dask", address=address, max_workers=2) as pool:
        assert [r async for r in pool.map(h.square, range(40))] == [i * i for i in range(40)]
        got = [r async for r in pool.map(h.square, range(40), ordered=False)]
        assert sorted(got) == [i * i for i in range(40)]


async def test_map_never_reads_more_than_the_window_ahead(address: str) -> None:
    pulled = 0

    def endless() -> Iterator[int]:
        nonlocal pulled
        while True:
            pulled += 1
            yield pulled

    async with offload.Pool("dask", address=address, max_workers=2) as pool:
        results = pool.map(h.square, endless(), window=3)
        got = [await anext(results) for _ in range(10)]
        assert got == [i * i for i in range(1, 11)]
        assert pulled <= 10 + 3
        # let the window's last tasks finish so that stopping kills no worker
        await _until(lambda: pool.stats().busy == 0)
        await results.aclose()  # type: ignore[attr-defined]


@settings(max_examples=8, deadline=None)
@given(
    items=st.lists(st.integers(-1000, 1000), max_size=25),
    window=st.integers(1, 6),
    ordered=st.booleans(),
)
def test_map_gives_every_result_once_in_order_when_asked(
    address: str, items: list[int], window: int, ordered: bool
) -> None:
    async def run() -> list[int]:
        async with offload.Pool("dask", address=address, max_workers=2) as pool:
            return [r async for r in pool.map(h.square, items, window=window, ordered=ordered)]

    got = asyncio.run(run())
    expected = [i * i for i in items]
    assert got == expected if ordered else sorted(got) == sorted(expected)


async def test_progress_streams_reported_values_in_order(address: str) -> None:
    async with offload.Pool("dask", address=address, max_workers=2) as pool:
        handle = pool.submit(d.report_values, 50)
        seen = [value async for value in handle.progress()]
        assert seen == [{"step": i} for i in range(50)]
        assert await handle == "done"


async def test_token_cancel_reaches_the_running_task(address: str) -> None:
    async with offload.Pool("dask", address=address, max_workers=1, cancel_grace=30) as pool:
        worker_pid = await pool.run(h.pid)
        token = offload.CancelToken()
        handle = pool.submit(h.wait_for_cancel, 30, token=token)
        await asyncio.sleep(0.2)
        token.cancel("enough")
        with pytest.raises(offload.Cancelled, match="enough"):
            await handle
        # the task saw the cancel and returned by itself: its worker is free, not restarted
        await _until(lambda: pool.stats().busy == 0)
        assert await pool.run(h.pid) == worker_pid


async def test_big_arguments_are_scattered_once_and_reused(address: str) -> None:
    data = os.urandom(2 << 20)
    async with offload.Pool("dask", address=address, max_workers=2) as pool:
        lengths = [r async for r in pool.map(d.length, [data] * 6)]
        assert lengths == [len(data)] * 6
        backend = pool._scheduler.backend
        assert len(backend.scattered) == 1  # type: ignore[union-attr]
        async with distributed.Client(address, asynchronous=True) as client:
            who_has = await client.scheduler.who_has()
        scattered = [k for k in who_has if str(k).startswith("bytes-")]
        assert len(scattered) == 1


async def test_shared_memory_arguments_are_refused_clearly(address: str) -> None:
    pytest.importorskip("numpy")
    async with offload.Pool("dask", address=address, max_workers=1) as pool:
        with (
            offload.SharedArray((4,), "float64") as shared,
            pytest.raises(TypeError, match="cannot cross machines"),
        ):
            await pool.run(sum, shared)
        assert pool.stats().queued == 0


async def test_a_client_can_be_passed_as_the_address(address: str) -> None:
    async with (
        distributed.Client(address, asynchronous=True) as client,
        offload.Pool("dask", address=client, max_workers=1) as pool,
    ):
        assert await pool.run(h.square, 9) == 81


async def test_without_max_workers_a_cluster_pool_uses_every_worker_thread(
    address: str,
) -> None:
    await d.workers_ready(address, 2)
    async with offload.Pool("dask", address=address) as pool:
        assert await pool.run(h.square, 2) == 4
        assert pool.max_workers == 2  # the cluster's two single-threaded workers
        await asyncio.gather(*(pool.run(h.sleep_then, 0.05) for _ in range(4)))
        assert pool.stats().workers == 2


async def test_stats_count_outcomes(address: str) -> None:
    async with offload.Pool("dask", address=address, max_workers=2) as pool:
        for i in range(5):
            await pool.run(h.square, i)
        with pytest.raises(h.Boom):
            await pool.run(h.raise_boom, "x")
        stats = pool.stats()
        assert (stats.completed, stats.failed, stats.crashed) == (5, 1, 0)
        assert (stats.workers, stats.busy, stats.queued) == (1, 0, 0)  # sequential: one slot


# -- options and the missing extra ---------------------------------------------------


def test_without_distributed_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"offload\[dask\]"):
        offload.Pool("dask")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "dask", "address": 8786}, "address must be"),
        ({"kind": "dask", "initializer": print}, "WorkerPlugin"),
        ({"kind": "process", "address": "tcp://127.0.0.1:8786"}, "only for Pool"),
    ],
)
def test_bad_options_are_refused_clearly(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        offload.Pool(**kwargs)  # type: ignore[arg-type]


async def test_an_unreachable_scheduler_fails_with_worker_start_failed() -> None:
    import socket

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        async with offload.Pool("dask", address=f"tcp://127.0.0.1:{port}", max_workers=1) as pool:
            with pytest.raises(offload.WorkerStartFailed):
                await pool.run(h.square, 2)


# -- ending Dask workers --------------------------------------------------------------


async def test_cancel_stops_the_running_task_and_spares_the_others(
    address: str, tmp_path: Path
) -> None:
    out, flag = tmp_path / "out", tmp_path / "flag"
    out.touch()
    await d.workers_ready(address, 2)
    async with offload.Pool("dask", address=address, max_workers=2) as pool:
        handle = pool.submit(d.write_until_stopped, str(out))
        other = pool.submit(d.wait_for_file, str(flag), "other done")
        pid = await anext(aiter(handle.progress()))
        await _until(lambda: out.stat().st_size > 0)
        handle.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handle
        await _until(lambda: d.gone(pid))  # the worker running it was ended
        written = out.read_text()
        flag.touch()
        assert await other == "other done"  # the task on the other worker went on
        assert out.read_text() == written
        assert "finished" not in written
        assert await pool.run(h.square, 3) == 9  # a fresh worker took its place


async def test_token_cancel_ends_a_task_that_ignores_it_after_the_grace(
    address: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.touch()
    async with offload.Pool("dask", address=address, max_workers=1, cancel_grace=0.3) as pool:
        token = offload.CancelToken()
        handle = pool.submit(d.write_until_stopped, str(out), token=token)
        pid = await anext(aiter(handle.progress()))
        token.cancel("stop")
        with pytest.raises(offload.Cancelled):
            await handle
        await _until(lambda: d.gone(pid))
        assert "finished" not in out.read_text()
        assert pool.stats().cancelled == 1


async def test_timeout_answers_at_once_and_ends_the_work(address: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.touch()
    async with offload.Pool("dask", address=address, max_workers=1) as pool:
        worker_pid = await pool.run(h.pid)
        started = time.monotonic()
        with pytest.raises(offload.TaskTimeout):
            await pool.run(d.write_until_stopped, str(out), timeout=1.0)
        assert time.monotonic() - started < 5
        await _until(lambda: d.gone(worker_pid))  # the worker running it was ended
        assert "finished" not in out.read_text()
        assert await pool.run(h.square, 6) == 36


async def test_a_worker_killed_mid_task_fails_that_task_with_worker_crashed(
    address: str,
) -> None:
    async with offload.Pool("dask", address=address, max_workers=2) as pool:
        handle = pool.submit(d.report_pid_then_sleep, 30)
        pid = await anext(aiter(handle.progress()))
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(offload.WorkerCrashed) as info:
            await asyncio.wait_for(handle, 20)
        assert info.value.pid == pid
        assert info.value.function == "report_pid_then_sleep"
        assert pool.stats().crashed == 1
        assert await pool.run(h.square, 7) == 49  # the pool goes on


# -- closing, on the pool's own cluster -----------------------------------------------


async def test_close_waits_for_work_in_flight_then_leaves_no_process() -> None:
    async with offload.Pool("dask", max_workers=2) as pool:
        handles = [pool.submit(h.sleep_then, 0.2, i) for i in range(4)]
    assert [await handle for handle in handles] == [0, 1, 2, 3]


async def test_close_force_fails_work_in_flight_and_leaves_no_process() -> None:
    pool = offload.Pool("dask", max_workers=1)
    handle = pool.submit(d.report_pid_then_sleep, 30)
    queued = pool.submit(h.square, 2)
    await anext(aiter(handle.progress()))
    started = time.monotonic()
    await pool.close(force=True)
    assert time.monotonic() - started < 15
    for waiting in (handle, queued):
        with pytest.raises(offload.ClosedError):
            await waiting


def test_functions_defined_in_main_run_on_the_cluster(address: str, tmp_path: Path) -> None:
    script = tmp_path / "main_script.py"
    script.write_text(
        "import asyncio, sys\n"
        "import offload\n"
        "class Point:\n"
        "    x = 3\n"
        "def triple(x):\n"
        "    return 3 * x + Point.x\n"
        "async def main():\n"
        "    async with offload.Pool('dask', address=sys.argv[1], max_workers=1) as pool:\n"
        "        print(await pool.run(triple, 5), await pool.run(lambda: 'lambda ok'))\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, str(script), address],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["18", "lambda", "ok"]
