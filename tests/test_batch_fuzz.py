"""Random loads with random cancellations: nobody hangs, nobody gets a wrong answer."""

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
        tokens = [offload.CancelToken() for _ in callers]
        tasks = [
            asyncio.create_task(batcher.load(key, token=tokens[i] if how == "token" else None))
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
        assert not batcher._pending
        # Whatever is cached is right, and no error is cached.
        for key in range(8):
            if key not in failing:
                assert await batcher.load(key) == f"v{key}"

    asyncio.run(main())
