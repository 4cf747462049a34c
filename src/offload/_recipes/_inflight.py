"""In-flight calls shared by concurrent callers: the engine under every recipe.

Data flow of one shared call (a *flight*)::

    caller A ──┐                       ┌─> result / exception to every waiter
    caller B ──┼─ shield(flight.task) ─┤
    caller C ──┘      (waiters=3)      └─> mapping key -> flight removed before waiters wake

Each caller awaits the flight's task through :func:`asyncio.shield`, so cancelling a
caller only makes *that* caller leave. The flight counts its waiters; when the last one
leaves, the task is cancelled (no orphan work) and the key is forgotten at once, so a
later caller starts afresh instead of joining a doomed call. The key is also forgotten
(inside the task, before it completes) when the call ends, so an exception is never
remembered. A flight belongs to the event loop it was started on; a caller on another
loop starts its own.

A :class:`~offload.CancelToken` passed by a caller acts exactly like cancelling that
caller's task, except that the caller sees :class:`offload.Cancelled`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from offload._cancel import CancelToken
from offload._errors import Cancelled
from offload._loop import call_in_loop

__all__ = ["Flight", "Flights", "wait_shared"]

T = TypeVar("T")


async def wait_shared(shared: asyncio.Future[T], token: CancelToken | None) -> T:
    """Await ``shared`` through a shield; a cancelled ``token`` makes only this caller leave.

    The token cancels the calling task (from whichever thread cancels the token) and the
    resulting ``CancelledError`` is turned into :class:`offload.Cancelled`; a cancellation
    that did not come from the token propagates unchanged.
    """
    if token is None:
        return await asyncio.shield(shared)
    token.raise_if_cancelled()
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - always inside a task under asyncio.run
        raise RuntimeError("a token needs to be awaited from inside an asyncio task")
    loop = asyncio.get_running_loop()
    state = {"waiting": True, "fired": False}

    def fire() -> None:
        if state["waiting"] and not state["fired"]:
            state["fired"] = True
            task.cancel()

    remove = token.on_cancel(lambda _: call_in_loop(loop, fire))
    try:
        return await asyncio.shield(shared)
    except asyncio.CancelledError:
        if state["fired"] and task.uncancel() == 0:
            raise Cancelled(token.reason) from None
        raise
    finally:
        state["waiting"] = False
        remove()


class Flight(Generic[T]):
    """One shared in-flight call: its task, its loop and how many callers wait for it."""

    __slots__ = ("background", "loop", "task", "waiters")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.task: asyncio.Task[T]
        self.waiters = 0
        # A background flight (a stale-while-revalidate refresh) runs to completion
        # even when no caller waits for it.
        self.background = False


class Flights(Generic[T]):
    """The key -> in-flight call map under ``coalesce``, ``Coalescer`` and ``cached``.

    Several threads, each running its own event loop, may share one map: each loop's
    callers start and join only that loop's flights, and every removal tolerates a key
    that another thread removed first.
    """

    __slots__ = ("_map",)

    def __init__(self) -> None:
        self._map: dict[Hashable, Flight[T]] = {}

    def __len__(self) -> int:
        return len(self._map)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._map

    def current(self, key: Hashable, loop: asyncio.AbstractEventLoop) -> Flight[T] | None:
        """The flight for ``key`` that a caller on ``loop`` may join, if any."""
        flight = self._map.get(key)
        if flight is None:
            return None
        if flight.loop is not loop or flight.task.done():
            # From another (perhaps closed) loop, or finished: never joined.
            self._forget(key, flight)
            return None
        return flight

    def start(
        self,
        key: Hashable,
        loop: asyncio.AbstractEventLoop,
        factory: Callable[[], Awaitable[T]],
        on_done: Callable[[T | None, BaseException | None, bool], None] | None = None,
        name: str | None = None,
    ) -> Flight[T]:
        """Start a shared call of ``factory()`` for ``key`` and register it.

        ``on_done(result, error, current)`` runs inside the task before it completes;
        ``current`` is False when the key was forgotten meanwhile (invalidated, cleared,
        or the last waiter left), so the outcome must not be stored.
        """
        flight: Flight[T] = Flight(loop)

        async def run() -> T:
            try:
                result = await factory()
            except (asyncio.CancelledError, GeneratorExit):
                self._forget(key, flight)
                raise
            except BaseException as exc:
                current = self._forget(key, flight)
                if on_done is not None:
                    on_done(None, exc, current)
                raise
            current = self._forget(key, flight)
            if on_done is not None:
                on_done(result, None, current)
            return result

        flight.task = loop.create_task(run(), name=name)
        self._map[key] = flight
        return flight

    def _forget(self, key: Hashable, flight: Flight[T]) -> bool:
        if self._map.get(key) is flight:
            with contextlib.suppress(KeyError):  # another thread's loop removed it first
                del self._map[key]
                return True
        return False

    def forget(self, key: Hashable) -> None:
        """Let the next caller of ``key`` start afresh; current waiters keep their call."""
        self._map.pop(key, None)

    def forget_all(self) -> None:
        self._map.clear()

    async def wait(self, key: Hashable, flight: Flight[T], token: CancelToken | None) -> T:
        """Wait for ``flight`` as one of its waiters; the last waiter to leave cancels it."""
        flight.waiters += 1
        try:
            if token is None:
                return await asyncio.shield(flight.task)
            return await wait_shared(flight.task, token)
        finally:
            self.leave(key, flight)

    def leave(self, key: Hashable, flight: Flight[T]) -> None:
        """One waiter of ``flight`` is done; cancel the call if it was the last one."""
        flight.waiters -= 1
        if flight.waiters == 0 and not flight.background and not flight.task.done():
            self._forget(key, flight)
            # A caller abandoned on a closed loop is closed by the garbage collector;
            # its loop cannot run a cancellation any more.
            if not flight.loop.is_closed():
                flight.task.cancel()
