"""Sharing one in-flight call between concurrent callers: ``coalesce`` and ``Coalescer``.

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
import functools
import inspect
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, cast, overload

from ._cancel import CancelToken
from ._errors import Cancelled
from ._keys import (
    KeyFunc,
    check_hashable,
    compile_key,
    name_of,
    signature_of,
    unhashable_error,
)

__all__ = [
    "BoundCoalesced",
    "Coalesced",
    "Coalescer",
    "Flight",
    "Flights",
    "Owner",
    "check_async",
    "coalesce",
    "in_class_body",
    "strong_or_weak_ref",
    "wait_shared",
]

P = ParamSpec("P")
P2 = ParamSpec("P2")
S = TypeVar("S")
R = TypeVar("R")
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

    def on_cancel(_: CancelToken) -> None:
        if _on_loop_thread(loop):
            fire()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(fire)

    remove = token.on_cancel(on_cancel)
    try:
        return await asyncio.shield(shared)
    except asyncio.CancelledError:
        if state["fired"] and task.uncancel() == 0:
            raise Cancelled(token.reason) from None
        raise
    finally:
        state["waiting"] = False
        remove()


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


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
    """The key -> in-flight call map under ``coalesce``, ``Coalescer`` and ``cached``."""

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
            if self._map.get(key) is flight:
                del self._map[key]
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


class Coalescer(Generic[T]):
    """Share in-flight calls by explicit key: concurrent ``run`` calls for a key share one call.

    Nothing is kept after a call ends: an exception reaches every waiter and the next
    call starts afresh. A cancelled caller (or a cancelled ``token=``) only leaves; the
    call is cancelled when its last waiter has left.

    Raises whatever the call raises; :class:`offload.Cancelled` when ``token`` is cancelled;
    ``TypeError`` for an unhashable key.

    Example::

        users = offload.Coalescer()
        user = await users.run(("user", 42), fetch_user, 42)
    """

    __slots__ = ("_flights",)

    def __init__(self) -> None:
        self._flights: Flights[T] = Flights()

    def __len__(self) -> int:
        """How many calls are in flight."""
        return len(self._flights)

    async def run(
        self,
        key: Hashable,
        fn: Callable[..., Awaitable[T]],
        *args: Any,
        token: CancelToken | None = None,
    ) -> T:
        """Run ``fn(*args)`` for ``key``, or join the call already in flight for it.

        Example::

            page = await coalescer.run(url, fetch, url)
        """
        loop = asyncio.get_running_loop()
        try:
            flight = self._flights.current(key, loop)
        except TypeError as exc:
            check_hashable("Coalescer.run()", key)
            raise exc  # pragma: no cover - check_hashable raised
        if flight is None:
            if token is not None:
                token.raise_if_cancelled()
            flight = self._flights.start(key, loop, lambda: fn(*args))
        return await self._flights.wait(key, flight, token)

    def in_flight(self, key: Hashable) -> bool:
        """True while a call for ``key`` is running (on any loop)."""
        return key in self._flights

    def forget(self, key: Hashable) -> None:
        """Make the next ``run`` for ``key`` start a new call; current waiters keep theirs."""
        self._flights.forget(key)


class Owner:
    """Stands for a method's instance inside a key: equal only to the same live instance.

    It holds a weak reference (``ref``), so a key never keeps its instance alive; objects
    that cannot be weakly referenced are held strongly while their key exists.
    """

    __slots__ = ("_hash", "ref")

    def __init__(self, ident: int, ref: Callable[[], object]) -> None:
        self._hash = ident
        self.ref = ref

    @classmethod
    def of(cls, obj: object) -> Owner:
        return cls(id(obj), strong_or_weak_ref(obj))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Owner):
            return NotImplemented
        if self._hash != other._hash:
            return False
        mine = self.ref()
        return mine is not None and mine is other.ref()

    def __repr__(self) -> str:
        return f"<instance {self.ref()!r}>"


def strong_or_weak_ref(
    obj: object, callback: Callable[[weakref.ref[Any]], object] | None = None
) -> Callable[[], object]:
    """A weak reference to ``obj`` when it supports one, else a strong one."""
    try:
        return weakref.ref(obj, callback)
    except TypeError:
        return lambda: obj


def in_class_body(fn: Callable[..., Any]) -> bool:
    """True when ``fn`` is defined directly in a class body (its qualname says ``Cls.fn``)."""
    parent, _, _ = str(getattr(fn, "__qualname__", "")).rpartition(".")
    return bool(parent) and not parent.endswith("<locals>")


class Coalesced(Protocol[P, R]):
    """What :func:`offload.coalesce` returns: the function, plus ``options`` and ``in_flight``.

    For a plain function it is a real ``async def`` function (frameworks that check
    ``inspect.iscoroutinefunction`` see one); for a method, a descriptor that binds
    to the instance.
    """

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R]: ...

    def options(self, *, token: CancelToken | None = None) -> Callable[P, Coroutine[Any, Any, R]]:
        """A caller that leaves with :class:`offload.Cancelled` when ``token`` is cancelled."""
        ...

    def in_flight(self) -> int:
        """How many distinct calls are running now."""
        ...

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> Coalesced[P, R]: ...
    @overload
    def __get__(
        self: Coalesced[Concatenate[S, P2], R], obj: S, objtype: type | None = None
    ) -> BoundCoalesced[P2, R]: ...


class _Coalesced(Generic[P, R]):
    """The shared-call machinery of one coalesced function; the descriptor of a method."""

    __slots__ = (
        "__dict__",
        "__weakref__",
        "_flights",
        "_fn",
        "_key",
        "_keyfn",
        "_method",
        "_names",
        "_rest_keyfn",
        "_where",
    )

    def __init__(self, fn: Callable[P, Awaitable[R]], key: KeyFunc | None, method: bool) -> None:
        self._fn = fn
        self._key = key
        self._method = method
        # Without key=, a method's instance is left out of the argument key and
        # represented by an Owner (identity, weak) instead.
        sig = signature_of(fn)
        self._names: tuple[str, ...] = sig.names if sig is not None else ()
        self._keyfn: KeyFunc = key if key is not None else compile_key(fn)
        self._rest_keyfn: KeyFunc = (
            compile_key(fn, skip_first=True) if key is None and method else self._keyfn
        )
        self._where = f"{name_of(fn)}()"
        self._flights: Flights[R] = Flights()
        with contextlib.suppress(AttributeError, TypeError):
            functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<coalesced {name_of(self._fn)}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R]:
        return self._call(None, args, kwargs)

    def __get__(self, obj: object | None, objtype: type | None = None) -> Any:
        if obj is None or not self._method:
            return self
        return BoundCoalesced(self, obj)

    def options(self, *, token: CancelToken | None = None) -> Callable[P, Coroutine[Any, Any, R]]:
        """A caller of this function that leaves with ``Cancelled`` when ``token`` is cancelled.

        Example::

            user = await get_user.options(token=request_token)(42)
        """

        def call(*args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R]:
            return self._call(None, args, kwargs, token)

        return call

    def in_flight(self) -> int:
        """How many distinct calls are running now."""
        return len(self._flights)

    async def _call(
        self,
        owner: object | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        token: CancelToken | None = None,
    ) -> R:
        if owner is None:
            key = self._keyfn(*args, **kwargs)
        elif self._key is None:
            key = (Owner.of(owner), self._rest_keyfn(*args[1:], **kwargs))
        else:
            key = (Owner.of(owner), self._keyfn(*args, **kwargs))
        loop = asyncio.get_running_loop()
        try:
            flight = self._flights.current(key, loop)
        except TypeError as exc:
            raise unhashable_error(self._where, args, kwargs, exc, self._names) from exc
        if flight is None:
            if token is not None:
                token.raise_if_cancelled()
            fn = self._fn
            flight = self._flights.start(
                key, loop, lambda: fn(*args, **kwargs), name=f"offload.coalesce {self._where}"
            )
        return await self._flights.wait(key, flight, token)


class BoundCoalesced(Generic[P, R]):
    """``obj.method`` of a coalesced method: calls are shared per instance and arguments."""

    __slots__ = ("_coalesced", "_owner")

    def __init__(self, coalesced: _Coalesced[..., R], owner: object) -> None:
        self._coalesced = coalesced
        self._owner = owner

    def __repr__(self) -> str:
        return f"<coalesced method {name_of(self._coalesced._fn)} of {self._owner!r}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R]:
        return self._coalesced._call(self._owner, (self._owner, *args), kwargs)

    def options(self, *, token: CancelToken | None = None) -> Callable[P, Coroutine[Any, Any, R]]:
        """A caller of this method that leaves with ``Cancelled`` when ``token`` is cancelled."""
        coalesced, owner = self._coalesced, self._owner

        def call(*args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R]:
            return coalesced._call(owner, (owner, *args), kwargs, token)

        return call


def _as_function(c: _Coalesced[P, R]) -> Coalesced[P, R]:
    """A plain ``async def`` doing what ``c`` does, with the shared-call path inlined."""
    flights, keyfn, fn, where, names = c._flights, c._keyfn, c._fn, c._where, c._names
    task_name = f"offload.coalesce {where}"

    async def wrapper(*args: Any, **kwargs: Any) -> R:
        key = keyfn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        try:
            flight = flights.current(key, loop)
        except TypeError as exc:
            raise unhashable_error(where, args, kwargs, exc, names) from exc
        if flight is None:
            flight = flights.start(key, loop, lambda: fn(*args, **kwargs), name=task_name)
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        finally:
            flights.leave(key, flight)

    with contextlib.suppress(AttributeError, TypeError):
        functools.update_wrapper(wrapper, fn)
    attrs: Any = wrapper
    attrs.options = c.options
    attrs.in_flight = c.in_flight
    return cast(Coalesced[P, R], wrapper)


def check_async(fn: object, decorator: str) -> None:
    """Raise a TypeError naming ``fn`` unless it is an async function."""
    inner = fn.__func__ if isinstance(fn, staticmethod | classmethod) else fn
    if not (
        inspect.iscoroutinefunction(inner)
        or inspect.iscoroutinefunction(getattr(type(inner), "__call__", None))  # noqa: B004
    ):
        if inspect.isasyncgenfunction(inner):
            kind = "an async generator function: its calls cannot be awaited once and shared"
        elif inspect.isfunction(inner) or inspect.ismethod(inner):
            kind = "a regular (blocking) function; run blocking code in a pool instead"
        else:
            kind = f"a {type(inner).__name__}, not an async function"
        raise TypeError(f"{decorator} needs an async def function, but {name_of(inner)} is {kind}")


@overload
def coalesce(fn: Callable[P, Awaitable[R]], /) -> Coalesced[P, R]: ...
@overload
def coalesce(
    *, key: KeyFunc | None = None
) -> Callable[[Callable[P, Awaitable[R]]], Coalesced[P, R]]: ...
def coalesce(fn: Any = None, /, *, key: KeyFunc | None = None) -> Any:
    """Decorate an async function so concurrent calls with equal arguments share one call.

    The key is built from the arguments (``key=`` to customise; it receives the same
    arguments). On methods the instance is part of the key by identity, held weakly.
    A caller that is cancelled just leaves; the shared call is cancelled only when its
    last waiter has left. Exceptions reach every waiter and are not remembered; nothing
    is kept after a call ends.

    Raises ``TypeError`` for a non-async function or an unhashable argument.

    Example::

        @offload.coalesce
        async def fetch(url: str) -> bytes: ...

        a, b = await asyncio.gather(fetch(url), fetch(url))   # one request
    """

    def decorate(fn: Any) -> Any:
        check_async(fn, "@offload.coalesce")
        if isinstance(fn, staticmethod):
            return staticmethod(_as_function(_Coalesced(fn.__func__, key, method=False)))
        if isinstance(fn, classmethod):
            return classmethod(_Coalesced(fn.__func__, key, method=True))
        if in_class_body(fn):
            return _Coalesced(fn, key, method=True)
        return _as_function(_Coalesced(fn, key, method=False))

    if fn is not None:
        return decorate(fn)
    return decorate
