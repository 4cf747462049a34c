"""Random callers that stay, are cancelled, or leave through a token: shared by the fuzz tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

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


async def drive_callers(
    callers: list[tuple[int, str, int]],
    start: Callable[[int, offload.CancelToken | None], Coroutine[Any, Any, str]],
    failing: frozenset[int],
) -> None:
    """Start every caller, make each leave as drawn, then check that nobody was left
    waiting and each got its own right outcome (``f"v{key}"`` or a KeyError)."""
    tokens = [offload.CancelToken() for _ in callers]
    tasks = [
        asyncio.create_task(start(key, tokens[i] if how == "token" else None))
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
