"""The pool works the same under uvloop."""

from __future__ import annotations

import asyncio

import pytest
from tests import _pool_helpers as h

import offload

uvloop = pytest.importorskip("uvloop")


async def _exercise() -> None:
    async with offload.Pool(max_workers=2) as pool:
        assert await asyncio.gather(*[pool.run(h.square, i) for i in range(200)]) == [
            i * i for i in range(200)
        ]
        with pytest.raises(offload.WorkerCrashed):
            await pool.run(h.exit_with, 2)
        with pytest.raises(offload.TaskTimeout):
            await pool.run(h.sleep_then, 30, timeout=0.2)
        handle = pool.submit(h.report_each, 3)
        assert [v async for v in handle.progress()] == [0, 1, 2]
        assert await pool.run(h.square, 3) == 9


@pytest.fixture(scope="module", autouse=True)
def _uvloop_warmed_up() -> None:
    # uvloop opens process-wide fds on first use; take them before the leak check looks.
    uvloop.run(asyncio.sleep(0))


@pytest.mark.usefixtures("no_leaks")
def test_pool_under_uvloop() -> None:
    uvloop.run(_exercise())
