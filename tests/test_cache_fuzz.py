"""Random cached calls with random cancellations: nobody hangs, no wrong answer, no orphan."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

import offload

CALLERS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=7),  # key
        st.sampled_from(["stay", "cancel", "token"]),  # how the caller ends
        st.integers(min_value=0, max_value=4),  # ticks before it leaves
    ),
    min_size=1,
    max_size=25,
)


async def ticks(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


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
        tokens = [offload.CancelToken() for _ in callers]
        tasks = [
            asyncio.create_task(get.options(token=tokens[i])(key) if how == "token" else get(key))
            for i, (key, how, _) in enumerate(callers)
        ]
        for tick in range(6):
            for i, (_, how, leave_at) in enumerate(callers):
                if leave_at == tick and how == "cancel":
                    tasks[i].cancel()
                elif leave_at == tick and how == "token":
                    tokens[i].cancel()
            await asyncio.sleep(0)
        _, pending = await asyncio.wait(tasks, timeout=5)
        assert not pending, "a caller was left waiting"
        for (key, how, _), task in zip(callers, tasks, strict=True):
            if task.cancelled():
                assert how == "cancel"
                continue
            error = task.exception()
            if error is not None:
                if isinstance(error, offload.Cancelled):
                    assert how == "token"
                else:
                    assert isinstance(error, KeyError)
                    assert key in failing
            else:
                assert task.result() == f"v{key}"
        await ticks(10)  # let abandoned calls finish cancelling
        assert not any(running.values()), "a call kept running after all callers left"
        for key in range(8):
            if key not in failing:
                assert await get(key) == f"v{key}"

    asyncio.run(main())
