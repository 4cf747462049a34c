"""Random loads with random cancellations: nobody hangs, nobody gets a wrong answer."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st
from tests._callers import CALLERS, drive_callers, ticks

import offload


@settings(max_examples=60, deadline=None)
@given(
    callers=CALLERS,
    failing=st.frozensets(st.integers(min_value=0, max_value=7), max_size=3),
    load_ticks=st.integers(min_value=0, max_value=4),
    max_batch=st.sampled_from([None, 1, 3]),
    cache=st.sampled_from([True, False, 2]),
)
def test_batcher_answers_every_caller_that_stays(
    callers: list[tuple[int, str, int]],
    failing: frozenset[int],
    load_ticks: int,
    max_batch: int | None,
    cache: bool | int,
) -> None:
    async def load_many(keys: list[int]) -> list[str | Exception]:
        assert len(keys) == len(set(keys))
        await ticks(load_ticks)
        return [KeyError(k) if k in failing else f"v{k}" for k in keys]

    batcher = offload.Batcher(load_many, max_batch=max_batch, cache=cache)

    async def main() -> None:
        await drive_callers(callers, lambda key, token: batcher.load(key, token=token), failing)
        assert not batcher._pending
        # Whatever is cached is right, and no error is cached.
        for key in range(8):
            if key not in failing:
                assert await batcher.load(key) == f"v{key}"

    asyncio.run(main())
