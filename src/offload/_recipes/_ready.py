"""Awaitables without a coroutine: what a cache hit returns; passing for an async function.

A hit of :func:`offload.cached` on Python 3.11 returns a :class:`Ready`: a completed
future that asyncio accepts wherever it accepts a coroutine, and that costs nothing to
await. :func:`mark_coroutine_function` makes the plain function returning it pass the
checks frameworks make for ``async def``.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import types
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["Ready", "mark_coroutine_function", "raising", "ready"]

R = TypeVar("R")


class _AnyLoop:
    """The loop a :class:`Ready` future reports: whichever loop is running.

    A future needs a loop to schedule its done-callbacks on; a cached value is not tied
    to one (a second ``asyncio.run`` reads the same entries), so callbacks go to the
    loop running when they are added. Holding no loop also keeps closed loops
    collectable.
    """

    __slots__ = ()

    def get_debug(self) -> bool:
        return False

    def call_soon(
        self, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.Handle:
        return asyncio.get_running_loop().call_soon(callback, *args, context=context)


_ANY_LOOP: Any = _AnyLoop()


class Ready(asyncio.Future[R]):
    """A completed future that asyncio treats as a coroutine: what a cache hit returns.

    ``await ready`` returns the value without running anything (asyncio's C future
    hands a completed result straight back), which is why a hit costs about as much as
    a bare ``await`` of a coroutine. Everything that accepts a coroutine accepts it too:
    ``asyncio.create_task``, ``gather``, ``wait_for``, ``asyncio.run``,
    ``loop.run_until_complete``, task groups (``asyncio.isfuture`` says False and
    ``asyncio.iscoroutine`` True, so these wrap it in a task, on any loop). It can be
    awaited any number of times, from any event loop; nothing warns if it is never
    awaited. ``send``/``throw``/``close`` make it drivable by a task like a coroutine
    that returns at once.
    """

    __slots__ = ()

    # Not a future to asyncio's helpers (they would tie it to one loop): a coroutine.
    _asyncio_future_blocking: Any = None

    def send(self, value: object) -> Any:
        raise StopIteration(self.result())

    def throw(self, typ: Any, val: Any = None, tb: TracebackType | None = None) -> Any:
        if val is None:
            val = typ() if isinstance(typ, type) else typ
        raise val.with_traceback(tb) if tb is not None else val

    def close(self) -> None:
        return None


def ready(value: R) -> Ready[R]:
    """A completed :class:`Ready` holding ``value``."""
    done: Ready[R] = Ready(loop=_ANY_LOOP)
    done.set_result(value)
    return done


async def raising(error: BaseException) -> Any:
    """A coroutine that raises ``error`` when awaited."""
    raise error


def mark_coroutine_function(fn: types.FunctionType) -> None:
    """Make ``fn`` (a plain function returning awaitables) pass as an async function.

    ``inspect.iscoroutinefunction`` and ``asyncio.iscoroutinefunction`` then say True,
    so frameworks that check either (Starlette, FastAPI, pytest plugins, dispatchers
    that ``await`` only what they see as async) await its results.
    Python 3.12+: :func:`inspect.markcoroutinefunction`. Python 3.11 has no marker that
    ``inspect`` honours (asyncio's ``_is_coroutine`` satisfies only asyncio's check), so
    the code object is marked ``CO_COROUTINE`` instead: on 3.11 the interpreter makes a
    coroutine from a call only when the bytecode starts with ``RETURN_GENERATOR``
    (which ``fn``'s does not), so ``fn`` still runs and returns like a plain function;
    the flag only answers the question ``inspect`` asks.
    """
    if sys.version_info >= (3, 12):
        inspect.markcoroutinefunction(fn)
    else:  # pragma: no cover - exercised on 3.11 only
        fn.__code__ = fn.__code__.replace(co_flags=fn.__code__.co_flags | inspect.CO_COROUTINE)
