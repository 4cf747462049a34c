"""offload.report() inside a task streams values to handle.progress(), in order."""

from __future__ import annotations

import pytest
from tests import _pool_helpers as h

import offload

pytestmark = pytest.mark.usefixtures("no_leaks")


@pytest.mark.parametrize("kind", ["process", "thread"])
async def test_progress_yields_every_reported_value_in_order(kind: str) -> None:
    async with offload.Pool(kind, max_workers=1) as pool:  # type: ignore[arg-type]
        handle = pool.submit(h.report_each, 200)
        values = [v async for v in handle.progress()]
        assert values == list(range(200))
        assert await handle == 200


async def test_progress_read_after_the_end_still_has_everything() -> None:
    async with offload.Pool(max_workers=1) as pool:
        handle = pool.submit(h.report_each, 5)
        assert await handle == 5
        assert [v async for v in handle.progress()] == [0, 1, 2, 3, 4]


async def test_progress_ends_when_the_task_fails() -> None:
    async with offload.Pool(max_workers=1) as pool:
        handle = pool.submit(h.raise_boom, "x")
        assert [v async for v in handle.progress()] == []
        with pytest.raises(h.Boom):
            await handle


def test_report_outside_a_pool_task_does_nothing() -> None:
    offload.report("nobody listens")
    assert h.report_each(3) == 3


async def test_report_in_a_run_task_is_harmless() -> None:
    async with offload.Pool(max_workers=1) as pool:
        assert await pool.run(h.report_each, 50) == 50
