"""The same behaviour tests against every pool kind, so the kinds cannot drift apart.

"process" and "thread" need nothing; "interpreter" needs CPython 3.13+ (skipped before);
"dask" runs on one LocalCluster of worker processes shared by the module (skipped without
the dask extra).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests import _dask_helpers as d
from tests import _pool_helpers as h

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")

KINDS = ["process", "thread", "interpreter", "dask"]

MakePool = Callable[..., offload.Pool]


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str | None]:
    """The shared cluster (module scope: started before any leak snapshot)."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        yield None
        return
    d.start_process_singletons()
    yield from d.local_cluster(2)


@pytest.fixture(params=KINDS)
def make_pool(request: pytest.FixtureRequest, dask_address: str | None) -> MakePool:
    """``make_pool(**options)``: a pool of the test's kind (dask: on the shared cluster)."""
    kind = request.param
    if kind == "interpreter" and sys.version_info < (3, 13):
        pytest.skip("sub-interpreter workers need CPython 3.13+")
    if kind == "dask" and dask_address is None:
        pytest.skip("needs the dask extra: pip install 'offload[dask]'")
    address = dask_address

    def make(**options: Any) -> offload.Pool:
        if kind == "dask":
            options["address"] = address
        return offload.Pool(kind, **options)

    return make


async def test_results(make_pool: MakePool) -> None:
    async with make_pool(max_workers=2) as pool:
        assert await pool.run(h.square, 12) == 144
        assert await pool.run(lambda x: [x] * 2, "a") == ["a", "a"]


async def test_exceptions_keep_type_message_and_a_traceback(make_pool: MakePool) -> None:
    async with make_pool(max_workers=2) as pool:
        with pytest.raises(h.Boom, match="nope") as info:
            await pool.run(h.raise_boom, "nope")
        if pool.kind == "thread":  # raised in this process: its own traceback
            assert info.value.__traceback__ is not None
        else:
            assert "raise_boom" in str(info.value.__cause__)


async def test_map_ordered_and_unordered(make_pool: MakePool) -> None:
    async with make_pool(max_workers=2) as pool:
        assert [r async for r in pool.map(h.square, range(30), window=4)] == [
            i * i for i in range(30)
        ]
        got = [r async for r in pool.map(h.square, range(30), ordered=False)]
        assert sorted(got) == [i * i for i in range(30)]


async def test_progress(make_pool: MakePool) -> None:
    async with make_pool(max_workers=2) as pool:
        handle = pool.submit(d.report_values, 10)
        assert [v async for v in handle.progress()] == [{"step": i} for i in range(10)]
        assert await handle == "done"


async def test_timeout_fails_the_task_and_the_pool_goes_on(make_pool: MakePool) -> None:
    async with make_pool(max_workers=1) as pool:
        with pytest.raises(offload.TaskTimeout):
            await pool.run(h.wait_for_cancel, 30, timeout=0.3)
        assert await asyncio.wait_for(pool.run(h.square, 3), 30) == 9
        assert pool.stats().failed == 1


async def test_cancel_through_the_token_reaches_the_task(make_pool: MakePool) -> None:
    async with make_pool(max_workers=1, cancel_grace=30) as pool:
        first = await pool.run(h.pid)
        token = offload.CancelToken()
        handle = pool.submit(h.wait_for_cancel, 30, token=token)
        await asyncio.sleep(0.1)
        token.cancel("stop")
        with pytest.raises(offload.Cancelled, match="stop"):
            await handle
        # the task returned by itself within the grace: the same worker runs the next one
        assert await pool.run(h.pid) == first
        assert pool.stats().cancelled == 1


async def test_stats_count_every_outcome(make_pool: MakePool) -> None:
    async with make_pool(max_workers=2) as pool:
        await asyncio.gather(*(pool.run(h.square, i) for i in range(6)))
        with pytest.raises(h.Boom):
            await pool.run(h.raise_boom, "x")
        stats = pool.stats()
        assert (stats.completed, stats.failed, stats.crashed, stats.cancelled) == (6, 1, 0, 0)
        assert stats.queued == 0
        assert stats.busy == 0
