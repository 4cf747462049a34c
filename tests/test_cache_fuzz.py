"""Random cached calls with random cancellations: nobody hangs, no wrong answer, no orphan."""

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
    call_ticks=st.integers(min_value=0, max_value=4),
)
def test_cached_answers_every_caller_that_stays(
    callers: list[tuple[int, str, int]], failing: frozenset[int], call_ticks: int
) -> None:
    calls: dict[int, int] = {}
    running: dict[int, int] = {}

    async def backend(key: int) -> str:
        calls[key] = calls.get(key, 0) + 1
        running[key] = running.get(key, 0) + 1
        assert running[key] == 1, "two calls of one key ran at once"
        try:
            await ticks(call_ticks)
        finally:
            running[key] -= 1
        if key in failing:
            raise KeyError(key)
        return f"v{key}"

    get = offload.cached(ttl=60)(backend)

    async def main() -> None:
        await drive_callers(
            callers,
            lambda key, token: get.options(token=token)(key) if token else get(key),
            failing,
        )
        await ticks(10)  # let abandoned calls finish cancelling
        assert not any(running.values()), "a call kept running after all callers left"
        for key in range(8):
            if key not in failing:
                assert await get(key) == f"v{key}"

    asyncio.run(main())
