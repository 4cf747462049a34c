"""``offload.cached``: coalescing plus a bounded LRU cache with TTL.

Parts, each in its own module of this package::

    cached(fn) ──> hit path (_hitpath: generated per signature, or variadic)
                     │ hit: value / completed future, nothing else runs
                     └─ otherwise ─> CacheCore.slow: exact time ─> CacheCore.miss
                                        │
                     in-flight map (_inflight) <─┘ one shared call per key and loop
                                        │
                     Store (_store) <── outcome stored if the call is still current

A miss goes through the in-flight map: concurrent callers of one key share one call,
each awaiting it through a shield. Only a call that is still current when it ends (not
invalidated, cleared, or abandoned by all its waiters) stores its outcome. Exceptions
are stored only when negative caching is asked for, in their own small map with their
own TTL, so the hit path never looks at them. Methods bind through
:mod:`._methods`.

Several threads may each run an event loop that calls one cached function: they share
the stored values, each loop runs its own calls of a missing key, and nothing raises
because another thread changed the store meanwhile; the counters of :meth:`info` may
then miss a few increments.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import types
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, cast, overload

from offload._cancel import CancelToken
from offload._clock import Clock, CoarseClock, coarse_monotonic, monotonic

from ._hitpath import function_wrapper
from ._inflight import Flight, Flights, wait_shared
from ._keys import KeyFunc, call_keys, name_of, unhashable_error
from ._methods import (
    CachedMethod,
    Owner,
    UniqueOwner,
    check_async,
    in_class_body,
    strong_or_weak_ref,
)
from ._ready import Ready, raising
from ._store import Store

__all__ = ["CacheCore", "CacheInfo", "Cached", "cached"]

P = ParamSpec("P")
P2 = ParamSpec("P2")
S = TypeVar("S")
R = TypeVar("R")
_Call = tuple[tuple[Any, ...], dict[str, Any]]  # a call's arguments and keywords
_Loop = asyncio.AbstractEventLoop
_Then = Callable[[Hashable, R | None, BaseException | None, bool], None]

logger = logging.getLogger("offload")


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """Counters of a cache, from :meth:`info`.

    ``hits``: answered from the cache (stale answers included); ``misses``: started a
    call; ``coalesced``: joined a call already in flight; ``evictions``: entries dropped
    to respect ``maxsize``; ``refreshes``: background refreshes started
    (stale-while-revalidate); ``size``: entries stored now (expired ones not yet
    reclaimed included). A plain record: reading it never raises.

    Example::

        info = get_user.info()
        hit_ratio = info.hits / max(1, info.hits + info.misses + info.coalesced)
    """

    hits: int
    misses: int
    coalesced: int
    evictions: int
    refreshes: int
    size: int


class Cached(Protocol[P, R]):
    """What :func:`offload.cached` returns: the function, plus cache controls."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R]: ...

    def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Drop the entry for these arguments (and forget a call in flight for them)."""
        ...

    def clear(self) -> None:
        """Drop every entry and forget calls in flight (their waiters still get results)."""
        ...

    def info(self) -> CacheInfo:
        """The cache's counters."""
        ...

    def options(
        self, *, token: CancelToken | None = None, bypass: bool = False
    ) -> Callable[P, Coroutine[Any, Any, R]]:
        """A caller with a cancel token and/or bypassing the cache for this call."""
        ...

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> Cached[P, R]: ...
    @overload
    def __get__(
        self: Cached[Concatenate[S, P2], R], obj: S, objtype: type | None = None
    ) -> Cached[P2, R]: ...


def _retrieve(task: asyncio.Task[Any]) -> None:
    # A background refresh logs its own failure; mark the exception as retrieved.
    if not task.cancelled():
        task.exception()


class CacheCore(Generic[R]):
    """Everything but the hit path: misses, refreshes, negative entries, owners, stats."""

    def __init__(
        self,
        fn: Callable[..., Awaitable[R]],
        *,
        store: Store[R],
        key: KeyFunc | None,
        method: bool,
        negative_ttl: float | None,
        negative_types: tuple[type[BaseException], ...],
    ) -> None:
        self.fn = fn
        self.where = f"{name_of(fn)}()"
        self.qualname = str(getattr(fn, "__qualname__", None) or self.where)
        self.key = key
        self.method = method
        self.keyfn, self.rest_keyfn, self.names = call_keys(fn, key, method)
        self.store = store
        self.flights: Flights[R] = Flights()
        self.negative_ttl = negative_ttl
        self.negative_types = negative_types
        self.failures: OrderedDict[Hashable, tuple[BaseException, TracebackType | None, float]] = (
            OrderedDict()
        )
        self.hot_hits: Callable[[], int] = lambda: 0
        self.hits = 0
        self.misses = 0
        self.coalesced = 0
        self.refreshes = 0
        self.owners: dict[int, Owner] = {}
        # A method's hit path per instance (see _methods.CachedMethod), by id().
        self.bound: dict[int, Callable[..., Any]] = {}
        self.dead_owners: list[object] = []
        store.before_sweep = self.purge_dead_owners

    # -- keys -------------------------------------------------------------------------

    def make_key(self, owner: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
        """The key of a call; ``owner`` is the instance of a method call (or None)."""
        if owner is None:
            return self.keyfn(*args, **kwargs)
        if self.key is None:
            return (self.owner_key(owner), self.rest_keyfn(*args[1:], **kwargs))
        return (self.owner_key(owner), self.keyfn(*args, **kwargs))

    def owner_key(self, obj: object) -> Owner:
        ident = id(obj)
        owners = self.owners
        owner = owners.get(ident)
        if owner is None or owner.ref() is not obj:
            dead, bound = self.dead_owners, self.bound

            def died(ref: object) -> None:
                # May run at any allocation (garbage collection), even in the middle of
                # iterating the store: it records the death (entries are removed at the
                # next miss or sweep) and forgets the instance by id at once, before
                # the id can belong to another object.
                dead.append(ref)
                owners.pop(ident, None)
                bound.pop(ident, None)

            new = UniqueOwner(ident, strong_or_weak_ref(obj, died), self)
            owner = owners.setdefault(ident, new)  # one winner if threads race
            if owner is not new and owner.ref() is not obj:
                owners[ident] = owner = new
        # One Owner per live instance: keys holding it compare by identity.
        return owner

    def purge_dead_owners(self) -> None:
        if not self.dead_owners:
            return
        self.dead_owners.clear()
        for ident, owner in list(self.owners.items()):
            if owner.ref() is None:
                self.owners.pop(ident, None)
        for table in (self.store.data, self.failures):
            # A snapshot (taken in one step): another thread's loop may store meanwhile.
            gone = [k for k in list(table) if _dead_owner(k)]
            for k in gone:
                table.pop(k, None)

    def lookup_error(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], exc: TypeError
    ) -> TypeError:
        if self.key is not None:
            return TypeError(
                f"{self.where}: key= returned an unhashable key ({exc}); make it return a "
                f"hashable value such as a tuple"
            )
        return unhashable_error(self.where, args, kwargs, exc, self.names)

    # -- calls ------------------------------------------------------------------------

    async def call(
        self,
        owner: object,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        token: CancelToken | None = None,
        bypass: bool = False,
    ) -> R:
        """A full call: hit path, then :meth:`miss` (used by methods and ``options``)."""
        if bypass:
            return await self.direct(args, kwargs, token)
        key = self.make_key(owner, args, kwargs)
        try:
            entry = self.store.data.get(key)
        except TypeError as exc:
            raise self.lookup_error(args, kwargs, exc) from exc
        if entry is not None:
            coarse = self.store.coarse
            if entry[1] > (self.store.clock() if coarse is None else coarse.cell.cell_contents):
                self.store.touch(key)
                self.hits += 1
                return entry[0]
        if token is None:
            return await self.slow(key, args, kwargs)  # checks the exact time
        return await self.miss(key, args, kwargs, token)

    def caller(
        self, owner: object, token: CancelToken | None, bypass: bool
    ) -> Callable[..., Coroutine[Any, Any, R]]:
        """What ``options(token=..., bypass=...)`` returns, for ``owner``'s method or a function."""

        def call(*args: Any, **kwargs: Any) -> Coroutine[Any, Any, R]:
            if owner is not None:
                args = (owner, *args)
            return self.call(owner, args, kwargs, token, bypass)

        return call

    def lookup(self, owner: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Awaitable[R]:
        """A call without options, for methods: the generated hit path's logic, in general.

        A hit returns the entry's completed future, anything else a coroutine.
        """
        key = self.make_key(owner, args, kwargs)
        store = self.store
        try:
            entry = store.data.get(key)
        except TypeError as exc:
            return self.fail(args, kwargs, exc)
        if entry is not None:
            coarse = store.coarse
            # hot_until is -inf until the entry's future exists (the slow path makes it).
            if entry[4] > (store.clock() if coarse is None else coarse.cell.cell_contents):
                store.touch(key)
                self.hits += 1
                return cast("Ready[R]", entry[3])
        return self.slow(key, args, kwargs)

    def slow(self, key: Hashable, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Awaitable[R]:
        """The hit path's answer when the cheap comparison failed: check the exact time.

        The coarse clock may not be ticking (its reading is then ``inf``) or the entry
        may have expired; either way the exact clock decides.
        """
        store = self.store
        if store.reads:
            store.drain()  # the clock may have sent this call here for that
        entry = store.data.get(key)
        if entry is not None and entry[1] > store.exact_now():
            store.touch(key)
            self.hits += 1
            return store.ready_of(key, entry)
        return self.start(key, args, kwargs)

    def start(
        self, key: Hashable, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Coroutine[Any, Any, R]:
        """The coroutine of a miss, named after the function for "never awaited" warnings."""
        coro = self.miss(key, args, kwargs, None)
        cast("types.CoroutineType[Any, Any, R]", coro).__qualname__ = self.qualname
        return coro

    def fail(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], exc: TypeError
    ) -> Coroutine[Any, Any, R]:
        """A coroutine raising the unhashable-argument error (raised when awaited)."""
        error = self.lookup_error(args, kwargs, exc)
        error.__cause__ = exc
        return cast("Coroutine[Any, Any, R]", raising(error))

    async def direct(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], token: CancelToken | None
    ) -> R:
        """Call the function without reading or writing the cache."""
        if token is None:
            return await self.fn(*args, **kwargs)
        token.raise_if_cancelled()
        task = asyncio.ensure_future(self.fn(*args, **kwargs))
        try:
            return await wait_shared(task, token)
        finally:
            if not task.done() and not task.get_loop().is_closed():
                task.cancel()

    async def miss(
        self,
        key: Hashable,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        token: CancelToken | None,
    ) -> R:
        loop = asyncio.get_running_loop()
        if self.dead_owners:
            self.purge_dead_owners()
        store = self.store
        data = store.data
        now = store.clock()
        entry = data.get(key)
        if entry is not None:
            if now < entry[1]:
                store.touch(key)
                self.hits += 1
                return entry[0]
            if now < entry[2]:
                store.touch(key)
                self.hits += 1
                self.refresh(key, args, kwargs, loop)
                return entry[0]
            store.remove(key, entry)
        if self.failures:
            failure = self.failures.get(key)
            if failure is not None:
                if now < failure[2]:
                    self.hits += 1
                    raise failure[0].with_traceback(failure[1])
                self.failures.pop(key, None)
        flight = self.flights.current(key, loop)
        if flight is None:
            if token is not None:
                token.raise_if_cancelled()
            self.misses += 1
            flight = self.launch(key, (args, kwargs), loop, self.done, "")
        else:
            self.coalesced += 1
        return await self.flights.wait(key, flight, token)

    def launch(
        self, key: Hashable, call: _Call, loop: _Loop, then: _Then[R], tag: str
    ) -> Flight[R]:
        """Start the one call of ``key`` with ``call`` (its arguments and keywords);
        ``then(key, result, error, current)`` follows."""
        fn = self.fn
        args, kwargs = call
        return self.flights.start(
            key,
            loop,
            lambda: fn(*args, **kwargs),
            functools.partial(then, key),
            name=f"offload.cached {tag}{self.where}",
        )

    def done(
        self, key: Hashable, result: R | None, error: BaseException | None, current: bool
    ) -> None:
        if not current:
            return
        if error is None:
            self.failures.pop(key, None)
            self.store.put(key, cast(R, result))
        elif self.negative_ttl is not None and isinstance(error, self.negative_types):
            failures = self.failures
            failures[key] = (error, error.__traceback__, self.store.clock() + self.negative_ttl)
            maxsize = self.store.maxsize
            # KeyError: another thread's loop removed entries meanwhile.
            with contextlib.suppress(KeyError):
                failures.move_to_end(key)
                while maxsize is not None and len(failures) > maxsize:
                    failures.popitem(last=False)

    def refresh(
        self,
        key: Hashable,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """Start the one background refresh of a stale entry, unless one is running."""
        if self.flights.current(key, loop) is not None:
            return
        self.refreshes += 1
        flight = self.launch(key, (args, kwargs), loop, self.refreshed, "refresh ")
        flight.background = True
        flight.task.add_done_callback(_retrieve)

    def refreshed(
        self, key: Hashable, result: R | None, error: BaseException | None, current: bool
    ) -> None:
        if error is not None:
            logger.warning(
                "offload.cached: refreshing a stale entry of %s failed; the old value is "
                "served until its stale window ends",
                self.where,
                exc_info=error,
            )
            return
        self.done(key, result, None, current)

    # -- controls ---------------------------------------------------------------------

    def invalidate(self, owner: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        key = self.make_key(owner, args, kwargs)
        try:
            found = self.store.discard(key)
        except TypeError as exc:
            raise self.lookup_error(args, kwargs, exc) from exc
        found = self.failures.pop(key, None) is not None or found
        self.flights.forget(key)
        return found

    def clear(self) -> None:
        self.store.clear()
        self.failures.clear()
        self.flights.forget_all()

    def info(self) -> CacheInfo:
        self.store.drain()  # recorded hits count, in order
        return CacheInfo(
            hits=self.hits + self.hot_hits() + self.store.read_hits,
            misses=self.misses,
            coalesced=self.coalesced,
            evictions=self.store.evictions,
            refreshes=self.refreshes,
            size=len(self.store.data),
        )


def _dead_owner(key: object) -> bool:
    return (
        type(key) is tuple and len(key) == 2 and isinstance(key[0], Owner) and key[0].ref() is None
    )


def cached(
    *,
    ttl: float | None = None,
    maxsize: int | None = 1024,
    stale: float | None = None,
    jitter: float | None = None,
    key: KeyFunc | None = None,
    negative_ttl: float | None = None,
    negative_types: tuple[type[BaseException], ...] = (Exception,),
    sweep: float | None = None,
    clock: Clock = monotonic,
    resolution: float = 0.01,
) -> Callable[[Callable[P, Awaitable[R]]], Cached[P, R]]:
    """Cache an async function's results; concurrent calls for one key share one call.

    - ``ttl``: seconds an entry lives, counted from when its call *completed*
      (``None``: until evicted or invalidated). ``jitter``: up to this many seconds are
      added at random to each entry's TTL, so entries stored together do not all expire
      together.
    - ``maxsize``: entries kept (least recently used evicted first); 1024 by default,
      ``None`` for unbounded (must be asked for), 0 to only coalesce.
    - ``stale``: for this many seconds after expiry the old value is returned at once
      while exactly one background call refreshes it; a failed refresh is logged
      (logger ``offload``) and the old value kept.
    - ``negative_ttl``: also cache exceptions that are instances of ``negative_types``
      for this many seconds (off by default: exceptions are never cached).
    - ``key``: builds the key from the call's arguments (default: the arguments).
    - ``sweep``: seconds between sweeps that reclaim expired entries (default: about
      ``ttl + stale``). ``clock``: the time source (tests pass a manual clock); a clock
      you pass is read on every hit.
    - ``resolution``: with a TTL and the default clock, a hit compares the entry's
      expiry with a reading of the clock that a background thread refreshes this
      often while the cache is used, instead of reading the clock: an entry may be
      served up to ``resolution`` seconds (plus any time that thread waits for the
      interpreter lock) after it expired. ``0`` reads the clock on every hit.

    The result has ``.invalidate(*args)``, ``.clear()``, ``.info()`` and
    ``.options(token=..., bypass=...)``, which returns a caller that leaves with
    :class:`offload.Cancelled` when ``token`` is cancelled and/or calls the function
    without reading or writing the cache.

    Raises ``TypeError`` for a non-async function (at decoration), for an unhashable
    argument (at the call, naming the argument), and ``ValueError`` for bad settings.

    Example::

        @offload.cached(ttl=60, stale=10)
        async def get_user(user_id: int) -> User: ...

        user = await get_user(42)          # later calls within 60 s: served from memory
    """
    for name, value in (
        ("ttl", ttl),
        ("stale", stale),
        ("jitter", jitter),
        ("negative_ttl", negative_ttl),
        ("sweep", sweep),
    ):
        if value is not None and not value > 0:
            raise ValueError(f"offload.cached({name}=...) must be > 0 or None, got {value!r}")
    if maxsize is not None and (not isinstance(maxsize, int) or maxsize < 0):
        raise ValueError(
            f"offload.cached(maxsize=...) must be an int >= 0 or None, got {maxsize!r}"
        )
    if stale is not None and ttl is None:
        raise ValueError("offload.cached(stale=...) needs a ttl: stale counts from expiry")
    if not (isinstance(resolution, int | float) and resolution >= 0):
        raise ValueError(
            f"offload.cached(resolution=...) must be a number of seconds >= 0, got {resolution!r}"
        )
    coarse: CoarseClock | None = None
    if isinstance(clock, CoarseClock):
        coarse, clock = clock, clock.base
    elif clock is monotonic and resolution > 0:
        coarse = coarse_monotonic(float(resolution))

    def decorate(fn: Callable[P, Awaitable[R]]) -> Cached[P, R]:
        check_async(fn, "@offload.cached")
        inner: Any = fn
        wrap: Callable[[Any], Any] | None = None
        if isinstance(fn, staticmethod | classmethod):
            inner, wrap = fn.__func__, type(fn)
        method = wrap is classmethod or (wrap is None and in_class_body(inner))
        store: Store[R] = Store(
            maxsize=maxsize,
            ttl=ttl,
            stale=stale,
            jitter=jitter,
            clock=clock,
            sweep=sweep,
            # Without a TTL the coarse clock only bounds the hits' read buffer.
            coarse=coarse,
        )
        if method and store.sweep_every is None:
            store.sweep_every = 60.0  # reclaims entries of collected instances
        core: CacheCore[R] = CacheCore(
            inner,
            store=store,
            key=key,
            method=method,
            negative_ttl=negative_ttl,
            negative_types=negative_types,
        )
        result: Any = CachedMethod(core) if method else function_wrapper(core)
        if wrap is not None:
            result = wrap(result)
        return cast(Cached[P, R], result)

    return decorate
