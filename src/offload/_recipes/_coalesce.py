"""``offload.coalesce`` and ``offload.Coalescer``: concurrent equal calls share one call.

The sharing itself (one task per key, each caller awaiting it through a shield, the last
caller to leave cancelling it) is the in-flight map of :mod:`._inflight`; this module
turns functions, methods and explicit keys into keys for it. Nothing is kept after a
call ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, cast, overload

from offload._cancel import CancelToken

from ._inflight import Flights
from ._keys import KeyFunc, call_keys, check_hashable, name_of, unhashable_error
from ._methods import Owner, check_async, in_class_body

__all__ = ["BoundCoalesced", "Coalesced", "Coalescer", "coalesce"]

P = ParamSpec("P")
P2 = ParamSpec("P2")
S = TypeVar("S")
R = TypeVar("R")
T = TypeVar("T")


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
        self._keyfn, self._rest_keyfn, self._names = call_keys(fn, key, method)
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
