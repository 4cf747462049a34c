"""``offload.cached``: coalescing plus a bounded LRU cache with TTL, and its storage engine.

Storage (:class:`Store`, shared with :class:`offload.Batcher`)::

    data: OrderedDict  key -> (value, expires_at, stale_until, ready, hot_until)
                       oldest first (LRU order)

- ``ready`` is an already-completed future holding ``value``, made at the entry's
  first hit (None before, so entries never hit cost no future): a cache hit returns
  it, and awaiting a completed future costs less than creating and running a
  coroutine. See :class:`Ready`. ``hot_until`` is ``expires_at`` once ``ready``
  exists, ``-inf`` before: the generated hit path tests only that one number.
- A hit is a dict lookup, one comparison with a coarse clock (see
  :class:`~offload._clock.CoarseClock`; none without a TTL), ``move_to_end`` and a
  counter; nothing else runs.
- Expiry is a timestamp compared on read; there is no timer per key. One periodic sweep
  per store reclaims expired entries: a single ``call_later`` handle on the loop that
  last stored something, holding the store only weakly, so it keeps neither the store
  nor the loop alive, and a store used from a second ``asyncio.run`` simply re-arms it
  on the new loop.
- ``maxsize`` bounds the entries; the least recently used one is evicted first.

A miss goes through the in-flight map of :mod:`offload._coalesce`: concurrent callers of
one key share one call, each awaiting it through a shield. Only a call that is still
current when it ends (not invalidated, cleared, or abandoned by all its waiters) stores
its outcome. Exceptions are stored only when negative caching is asked for, in their
own small map with their own TTL, so the hit path never looks at them.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import math
import random
import sys
import types
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, cast, overload

from ._cancel import CancelToken
from ._clock import Clock, CoarseClock, coarse_monotonic, monotonic
from ._coalesce import (
    Flights,
    Owner,
    check_async,
    in_class_body,
    strong_or_weak_ref,
    wait_shared,
)
from ._keys import (
    KeyFunc,
    compile_key,
    make_key,
    name_of,
    signature_of,
    unhashable_error,
)

__all__ = [
    "HITS_RETURN_READY",
    "CacheInfo",
    "Cached",
    "Ready",
    "Store",
    "cached",
    "mark_coroutine_function",
    "ready",
]

P = ParamSpec("P")
P2 = ParamSpec("P2")
S = TypeVar("S")
R = TypeVar("R")
V = TypeVar("V")

logger = logging.getLogger("offload")

_MISSING: Any = object()
_NO_EXPIRY = math.inf
_NOT_HOT = -math.inf


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


async def _raise(error: BaseException) -> Any:
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


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """Counters of a cache, from :meth:`info`.

    ``hits``: answered from the cache (stale answers included); ``misses``: started a
    call; ``coalesced``: joined a call already in flight; ``evictions``: entries dropped
    to respect ``maxsize``; ``refreshes``: background refreshes started
    (stale-while-revalidate); ``size``: entries stored now (expired ones not yet
    reclaimed included).

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


Entry = tuple[V, float, float, "Ready[V] | None", float]
"""A stored entry: value, expires_at, stale_until, ready (made at its first hit), hot_until."""


class Store(Generic[V]):
    """A bounded LRU map whose entries expire by timestamp; no timer per key.

    The storage engine under :func:`offload.cached` and :class:`offload.Batcher`.
    Not thread-safe: use it from one event loop at a time.
    """

    __slots__ = (
        "__weakref__",
        "_sweep_gen",
        "_sweep_loop",
        "before_sweep",
        "clock",
        "coarse",
        "data",
        "evictions",
        "jitter",
        "maxsize",
        "stale",
        "sweep_every",
        "ttl",
    )

    def __init__(
        self,
        *,
        maxsize: int | None,
        ttl: float | None = None,
        stale: float | None = None,
        jitter: float | None = None,
        clock: Clock = monotonic,
        sweep: float | None = None,
        coarse: CoarseClock | None = None,
    ) -> None:
        # ``clock`` is exact: expiry times are computed from it. ``coarse`` (reading the
        # same time) only serves the hit path's cheap comparison.
        self.data: OrderedDict[Hashable, Entry[V]] = OrderedDict()
        self.coarse = coarse
        self.maxsize = maxsize
        self.ttl = ttl
        self.stale = stale or 0.0
        self.jitter = jitter
        self.clock = clock
        self.evictions = 0
        if sweep is None and ttl is not None:
            # Entries are dead at most ttl + stale + jitter after they were stored, so
            # sweeping that often bounds the memory held by expired entries.
            sweep = max(1.0, ttl + self.stale + (jitter or 0.0))
        self.sweep_every = sweep
        self.before_sweep: Callable[[], None] | None = None
        self._sweep_gen = 0
        self._sweep_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None

    def __len__(self) -> int:
        return len(self.data)

    def get(self, key: Hashable) -> V:
        """The live value for ``key`` (refreshing its LRU position), else ``_MISSING``."""
        entry = self.data.get(key)
        if entry is None:
            return cast(V, _MISSING)
        now = self.clock()
        if entry[1] > now:
            self.data.move_to_end(key)
            return entry[0]
        if entry[2] <= now:
            del self.data[key]
        return cast(V, _MISSING)

    def put(self, key: Hashable, value: V) -> None:
        """Store ``value``; its TTL counts from now. Evicts the least recently used."""
        if self.maxsize == 0:
            return
        if self.ttl is None:
            expires = stale_until = _NO_EXPIRY
        else:
            expires = self.clock() + self.ttl
            if self.jitter:
                expires += random.uniform(0.0, self.jitter)
            stale_until = expires + self.stale
        data = self.data
        data[key] = (value, expires, stale_until, None, _NOT_HOT)
        data.move_to_end(key)
        if self.maxsize is not None:
            while len(data) > self.maxsize:
                data.popitem(last=False)
                self.evictions += 1
        self._arm_sweep()

    def discard(self, key: Hashable) -> bool:
        """Remove ``key``; True if it was there."""
        return self.data.pop(key, _MISSING) is not _MISSING

    def clear(self) -> None:
        self.data.clear()

    def ready_of(self, key: Hashable, entry: Entry[V]) -> Ready[V]:
        """The completed future of ``entry`` (stored under ``key``), made on first use."""
        done = entry[3]
        if done is None:
            done = ready(entry[0])
            # Replacing the value of a present key keeps its place in the LRU order.
            self.data[key] = (entry[0], entry[1], entry[2], done, entry[1])
        return done

    def exact_now(self) -> float:
        """The exact time; through the coarse clock, if any, so it keeps ticking."""
        coarse = self.coarse
        return self.clock() if coarse is None else coarse.read()

    def sweep(self) -> int:
        """Remove every entry past its stale window; return how many were removed."""
        if self.before_sweep is not None:
            self.before_sweep()
        now = self.clock()
        dead = [key for key, entry in self.data.items() if entry[2] <= now]
        for key in dead:
            del self.data[key]
        return len(dead)

    def _arm_sweep(self) -> None:
        if self.sweep_every is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._sweep_loop is not None and self._sweep_loop() is loop:
            return  # armed on this loop already
        # Neither the handle nor the loop is kept: a loop that closes drops its timer,
        # and the generation makes a superseded timer do nothing if it still fires.
        self._sweep_gen += 1
        loop.call_later(self.sweep_every, _sweep_tick, weakref.ref(self), self._sweep_gen)
        self._sweep_loop = weakref.ref(loop)


def _sweep_tick(ref: weakref.ref[Store[Any]], generation: int) -> None:
    store = ref()
    if store is None or store._sweep_gen != generation:
        return
    store._sweep_loop = None
    try:
        store.sweep()
    finally:
        if store.data:
            store._arm_sweep()


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


class _CacheCore(Generic[R]):
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
        # Without key=, a method's key leaves the instance out of the arguments: it is
        # represented by an Owner (identity, weak) instead.
        sig = signature_of(fn)
        # Parameter names, so an unhashable-argument error can name the parameter.
        self.names: tuple[str, ...] = sig.names if sig is not None else ()
        self.keyfn: KeyFunc = key if key is not None else compile_key(fn)
        self.rest_keyfn: KeyFunc = (
            compile_key(fn, skip_first=True) if key is None and method else self.keyfn
        )
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
        owner = self.owners.get(ident)
        if owner is None or owner.ref() is not obj:
            dead = self.dead_owners
            # The callback may run at any allocation (garbage collection), even in the
            # middle of iterating the store, so it only records the death; entries are
            # removed at the next miss or sweep.
            owner = Owner(ident, strong_or_weak_ref(obj, lambda r: dead.append(r)))
            self.owners[ident] = owner
        # One Owner per live instance: key comparisons then succeed on identity,
        # without calling Owner.__eq__.
        return owner

    def purge_dead_owners(self) -> None:
        if not self.dead_owners:
            return
        self.dead_owners.clear()
        for ident, owner in list(self.owners.items()):
            if owner.ref() is None:
                del self.owners[ident]
        for table in (self.store.data, self.failures):
            gone = [k for k in table if _dead_owner(k)]
            for k in gone:
                del table[k]

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
                self.store.data.move_to_end(key)
                self.hits += 1
                return entry[0]
        if token is None:
            return await self.slow(key, args, kwargs)  # checks the exact time
        return await self.miss(key, args, kwargs, token)

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
                store.data.move_to_end(key)
                self.hits += 1
                return cast("Ready[R]", entry[3])
        return self.slow(key, args, kwargs)

    def slow(self, key: Hashable, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Awaitable[R]:
        """The hit path's answer when the cheap comparison failed: check the exact time.

        The coarse clock may not be ticking (its reading is then ``inf``) or the entry
        may have expired; either way the exact clock decides.
        """
        store = self.store
        entry = store.data.get(key)
        if entry is not None and entry[1] > store.exact_now():
            store.data.move_to_end(key)
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
        return cast("Coroutine[Any, Any, R]", _raise(error))

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
                data.move_to_end(key)
                self.hits += 1
                return entry[0]
            if now < entry[2]:
                data.move_to_end(key)
                self.hits += 1
                self.refresh(key, args, kwargs, loop)
                return entry[0]
            del data[key]
        if self.failures:
            failure = self.failures.get(key)
            if failure is not None:
                if now < failure[2]:
                    self.hits += 1
                    raise failure[0].with_traceback(failure[1])
                del self.failures[key]
        flight = self.flights.current(key, loop)
        if flight is None:
            if token is not None:
                token.raise_if_cancelled()
            self.misses += 1
            fn = self.fn
            flight = self.flights.start(
                key,
                loop,
                lambda: fn(*args, **kwargs),
                functools.partial(self.done, key),
                name=f"offload.cached {self.where}",
            )
        else:
            self.coalesced += 1
        # Inlined Flights.wait: one coroutine less per caller matters with 10,000 callers
        # (fewer allocations, fewer garbage collections).
        flight.waiters += 1
        try:
            if token is None:
                return await asyncio.shield(flight.task)
            return await wait_shared(flight.task, token)
        finally:
            self.flights.leave(key, flight)

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
            failures.move_to_end(key)
            maxsize = self.store.maxsize
            if maxsize is not None:
                while len(failures) > maxsize:
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
        fn = self.fn
        flight = self.flights.start(
            key,
            loop,
            lambda: fn(*args, **kwargs),
            functools.partial(self.refreshed, key),
            name=f"offload.cached refresh {self.where}",
        )
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
        return CacheInfo(
            hits=self.hits + self.hot_hits(),
            misses=self.misses,
            coalesced=self.coalesced,
            evictions=self.store.evictions,
            refreshes=self.refreshes,
            size=len(self.store.data),
        )


def _dead_owner(key: object) -> bool:
    return type(key) is tuple and len(key) == 2 and type(key[0]) is Owner and key[0].ref() is None


# Whether a hit returns the entry's completed future (Python 3.11) or the wrapper is an
# ``async def`` returning the value (3.12+). Awaiting a completed asyncio future skips
# creating a coroutine, but only 3.11's SEND instruction takes the result straight
# from the future's iterator; 3.12 and later raise and catch a StopIteration for it,
# which costs more than the coroutine it saves (measured: a bare await ~85 ns, a
# completed future's await ~165 ns on 3.12 and 3.13, ~60 ns on 3.11).
HITS_RETURN_READY = sys.version_info < (3, 12)

_HIT_PATH_ASYNC = """
def _o_make(
    _o_data, _o_move, _o_clock, _o_slow, _o_start, _o_fail, _o_ready, _o_miss, _o_error{defaults}
):
    _o_hits = 0
    _o_now = None  # the coarse clock's cell is put in its place (see _adopt_cell)

    async def _o_wrapper({params}):
        nonlocal _o_hits{keyline}
        try:
            _o_entry = _o_data[{k}]
        except KeyError:
            return await _o_miss({k}, {args}, {kwargs}, None)
        except TypeError as _o_exc:
            raise _o_error({args}, {kwargs}, _o_exc) from _o_exc
        if {fresh}:{move}
            _o_hits += 1
            return _o_entry[0]
        return await _o_slow({k}, {args}, {kwargs})

    def _o_count():
        return _o_hits

    return _o_wrapper, _o_count
"""

_HIT_PATH = """
def _o_make(
    _o_data, _o_move, _o_clock, _o_slow, _o_start, _o_fail, _o_ready, _o_miss, _o_error{defaults}
):
    _o_hits = 0
    _o_now = None  # the coarse clock's cell is put in its place (see _adopt_cell)

    def _o_wrapper({params}):
        nonlocal _o_hits{keyline}
        try:
            _o_entry = _o_data[{k}]
        except KeyError:
            return _o_start({k}, {args}, {kwargs})
        except TypeError as _o_exc:
            return _o_fail({args}, {kwargs}, _o_exc)
        if {fresh}:{move}
            _o_hits += 1
            return {result}
        return _o_slow({k}, {args}, {kwargs})

    def _o_count():
        return _o_hits

    return _o_wrapper, _o_count
"""


def _hit_test(store: Store[Any], k: str, ready: bool) -> tuple[str, str]:
    """The generated hit path's freshness test and result, as source (see ``_HIT_PATH``).

    When hits return the entry's completed future, the test reads ``hot_until``, which
    is ``-inf`` until that future exists, so the first hit takes the slow path, which
    makes it.
    """
    if not ready:
        result = "_o_entry[0]"
        if store.ttl is None:
            return "True", result
        if store.coarse is not None:
            return "_o_entry[1] > _o_now", result
        return "_o_entry[1] > _o_clock()", result
    if store.ttl is None:  # entries never expire
        return "True", f"_o_entry[3] or _o_ready({k}, _o_entry)"
    if store.coarse is not None:
        return "_o_entry[4] > _o_now", "_o_entry[3]"
    return "_o_entry[4] > _o_clock()", "_o_entry[3]"


def _adopt_cell(fn: types.FunctionType, name: str, cell: types.CellType) -> types.FunctionType:
    """``fn`` with its free variable ``name`` bound to ``cell`` (a clock's reading)."""
    closure = tuple(
        cell if var == name else old
        for var, old in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True)
    )
    adopted = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, closure)
    adopted.__kwdefaults__ = fn.__kwdefaults__
    return adopted


def _function_wrapper(core: _CacheCore[R]) -> Callable[..., Awaitable[R]]:
    """The public callable of a cached plain function: the hit path, inlined.

    On Python 3.11 a plain function, not an ``async def``: a hit returns the entry's
    completed :class:`Ready` future (awaiting it runs no coroutine), a miss returns a
    coroutine. On 3.12+ an ``async def`` (see ``HITS_RETURN_READY``).
    A hit costs one dict subscript (cheaper than ``.get``; a miss pays for the
    KeyError), one comparison with the coarse clock's reading (none without a TTL),
    ``move_to_end`` and a counter in a closure cell (cheaper than an attribute).
    For a fixed signature the wrapper is generated with exactly that signature, so no
    ``*args`` tuple or ``**kwargs`` dict is built and a one-parameter function's
    argument is its own key.
    """
    store = core.store
    data = store.data
    sig = signature_of(core.fn) if core.key is None else None
    wrapper: Callable[..., Awaitable[R]]
    ready = HITS_RETURN_READY
    if sig is not None:
        # A one-parameter function's argument is its key: no copy.
        single = sig.key.isidentifier()
        k = sig.key if single else "_o_key"
        fresh, result = _hit_test(store, k, ready)
        source = (_HIT_PATH if ready else _HIT_PATH_ASYNC).format(
            defaults="".join(f", {name}" for name in sig.defaults),
            params=sig.params,
            keyline="" if single else f"\n        _o_key = {sig.key}",
            k=k,
            args=sig.args,
            kwargs=sig.kwargs,
            fresh=fresh,
            result=result,
            # Without maxsize nothing is evicted, so the LRU order is never used.
            move="" if store.maxsize is None else f"\n            _o_move({k})",
        )
        namespace: dict[str, Any] = {}
        exec(source, namespace)
        wrapper, hot_hits = namespace["_o_make"](
            data,
            data.move_to_end,
            store.clock,
            core.slow,
            core.start,
            core.fail,
            store.ready_of,
            core.miss,
            core.lookup_error,
            *sig.defaults.values(),
        )
        if "_o_now" in wrapper.__code__.co_freevars and store.coarse is not None:
            wrapper = _adopt_cell(cast(types.FunctionType, wrapper), "_o_now", store.coarse.cell)
    else:
        wrapper, hot_hits = _variadic_wrapper(core) if ready else _variadic_async_wrapper(core)
    core.hot_hits = hot_hits

    def invalidate(*args: Any, **kwargs: Any) -> bool:
        return core.invalidate(None, args, kwargs)

    def options(
        *, token: CancelToken | None = None, bypass: bool = False
    ) -> Callable[..., Coroutine[Any, Any, R]]:
        def call(*args: Any, **kwargs: Any) -> Coroutine[Any, Any, R]:
            return core.call(None, args, kwargs, token, bypass)

        return call

    functools.update_wrapper(wrapper, core.fn)
    if ready:
        mark_coroutine_function(cast(types.FunctionType, wrapper))
    attrs = cast(Any, wrapper)
    attrs.invalidate = invalidate
    attrs.clear = core.clear
    attrs.info = core.info
    attrs.options = options
    return wrapper


def _variadic_wrapper(
    core: _CacheCore[R],
) -> tuple[Callable[..., Awaitable[R]], Callable[[], int]]:
    """The hit path for ``*args`` / ``**kwargs`` functions and custom ``key=``."""
    store = core.store
    data = store.data
    get = data.get
    move_to_end = data.move_to_end
    coarse = store.coarse
    clock = store.clock if coarse is None else (lambda: coarse.now)
    slow = core.slow
    keyfn = core.keyfn
    custom = core.key is not None
    ttl = store.ttl is not None
    bounded = store.maxsize is not None
    hits = 0

    def wrapper(*args: Any, **kwargs: Any) -> Awaitable[R]:
        nonlocal hits
        key = keyfn(*args, **kwargs) if custom else make_key(args, kwargs)
        try:
            entry = get(key)
        except TypeError as exc:
            return core.fail(args, kwargs, exc)
        if entry is None:
            return core.start(key, args, kwargs)
        if ttl and not entry[1] > clock():
            return slow(key, args, kwargs)
        if bounded:
            move_to_end(key)
        hits += 1
        return entry[3] or store.ready_of(key, entry)

    def hot_hits() -> int:
        return hits

    return wrapper, hot_hits


def _variadic_async_wrapper(
    core: _CacheCore[R],
) -> tuple[Callable[..., Awaitable[R]], Callable[[], int]]:
    """:func:`_variadic_wrapper` as an ``async def`` (see ``HITS_RETURN_READY``)."""
    store = core.store
    data = store.data
    get = data.get
    move_to_end = data.move_to_end
    coarse = store.coarse
    clock = store.clock if coarse is None else (lambda: coarse.now)
    keyfn = core.keyfn
    custom = core.key is not None
    ttl = store.ttl is not None
    bounded = store.maxsize is not None
    hits = 0

    async def wrapper(*args: Any, **kwargs: Any) -> R:
        nonlocal hits
        key = keyfn(*args, **kwargs) if custom else make_key(args, kwargs)
        try:
            entry = get(key)
        except TypeError as exc:
            raise core.lookup_error(args, kwargs, exc) from exc
        if entry is None:
            return await core.miss(key, args, kwargs, None)
        if ttl and not entry[1] > clock():
            return await core.slow(key, args, kwargs)
        if bounded:
            move_to_end(key)
        hits += 1
        return entry[0]

    def hot_hits() -> int:
        return hits

    return wrapper, hot_hits


class _CachedMethod(Generic[R]):
    """A cached method: a descriptor keying entries by instance (weakly) and arguments."""

    __slots__ = ("__dict__", "_core")

    def __init__(self, core: _CacheCore[R]) -> None:
        self._core = core
        functools.update_wrapper(self, core.fn)

    def __repr__(self) -> str:
        return f"<cached method {name_of(self._core.fn)}>"

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return _BoundCached(self._core, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, R]:
        # Called through the class (``Cls.method(obj, x)``) or as a staticmethod.
        if not HITS_RETURN_READY:
            return self._core.call(None, args, kwargs)
        return cast("Coroutine[Any, Any, R]", self._core.lookup(None, args, kwargs))

    def invalidate(self, *args: Any, **kwargs: Any) -> bool:
        """``Cls.method.invalidate(obj, *args)`` drops ``obj.method(*args)``'s entry."""
        if not args:
            raise TypeError("Cls.method.invalidate() needs the instance as first argument")
        return self._core.invalidate(args[0], args, kwargs)

    def clear(self) -> None:
        self._core.clear()

    def info(self) -> CacheInfo:
        return self._core.info()

    def options(
        self, *, token: CancelToken | None = None, bypass: bool = False
    ) -> Callable[..., Coroutine[Any, Any, R]]:
        core = self._core

        def call(*args: Any, **kwargs: Any) -> Coroutine[Any, Any, R]:
            return core.call(None, args, kwargs, token, bypass)

        return call


class _BoundCached(Generic[R]):
    """``obj.method``: calls share the method's cache, keyed by ``obj`` and arguments."""

    __slots__ = ("_core", "_owner")

    def __init__(self, core: _CacheCore[R], owner: object) -> None:
        self._core = core
        self._owner = owner

    def __repr__(self) -> str:
        return f"<cached method {name_of(self._core.fn)} of {self._owner!r}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, R]:
        core, owner = self._core, self._owner
        if not HITS_RETURN_READY:
            return core.call(owner, (owner, *args), kwargs)
        return cast("Coroutine[Any, Any, R]", core.lookup(owner, (owner, *args), kwargs))

    def invalidate(self, *args: Any, **kwargs: Any) -> bool:
        return self._core.invalidate(self._owner, (self._owner, *args), kwargs)

    def clear(self) -> None:
        self._core.clear()

    def info(self) -> CacheInfo:
        return self._core.info()

    def options(
        self, *, token: CancelToken | None = None, bypass: bool = False
    ) -> Callable[..., Coroutine[Any, Any, R]]:
        core, owner = self._core, self._owner

        def call(*args: Any, **kwargs: Any) -> Coroutine[Any, Any, R]:
            return core.call(owner, (owner, *args), kwargs, token, bypass)

        return call


# Starlette and FastAPI also look at ``__call__`` of callable objects.
mark_coroutine_function(cast(types.FunctionType, _CachedMethod.__call__))
mark_coroutine_function(cast(types.FunctionType, _BoundCached.__call__))


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
            coarse=coarse if ttl is not None else None,
        )
        if method and store.sweep_every is None:
            store.sweep_every = 60.0  # reclaims entries of collected instances
        core: _CacheCore[R] = _CacheCore(
            inner,
            store=store,
            key=key,
            method=method,
            negative_ttl=negative_ttl,
            negative_types=negative_types,
        )
        result: Any = _CachedMethod(core) if method else _function_wrapper(core)
        if wrap is not None:
            result = wrap(result)
        return cast(Cached[P, R], result)

    return decorate
