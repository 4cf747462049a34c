"""The hit path of a cached plain function: what runs when the answer is in the store.

A hit costs one dict subscript (cheaper than ``.get``; a miss pays for the KeyError),
one comparison of the entry's expiry with a clock reading held in a cell (see
:class:`~offload._clock.CoarseClock`) and one list append: the entry goes to the store's
read buffer, which the store replays (LRU moves, hit count) before anything observes
either (:meth:`~offload._recipes._store.Store.drain`); nothing else runs. Without a
coarse clock (an exact or a manual clock) there is no buffer: the clock is called, and a
hit moves its key and counts itself at once. Everything else
(the exact time, misses, refreshes) is the slow path of
:class:`~offload._recipes._cached.CacheCore`.

For a function with a fixed signature of 1 to ``MAX_PARAMS`` parameters the public
callable is one of the generated hit paths of :mod:`._hitpath_templates`, renamed to
the function's parameter names with its defaults and parameter kinds, so no ``*args``
tuple or ``**kwargs`` dict is built and a one-parameter function's argument is its own
key. Other functions (variadic, none or more parameters, a custom ``key=``) get the
generated hit path taking any arguments, which calls the key function first.

Whether a hit returns the entry's completed future or the value is decided by
``HITS_RETURN_READY``: on Python 3.11 the wrapper is a plain function and a hit returns
the entry's :class:`~offload._recipes._ready.Ready` future (awaiting it runs no
coroutine); on 3.12+ it is an ``async def`` returning the value, because there a
completed future's ``await`` raises and catches a StopIteration, which costs more than
the coroutine it saves (measured: a bare await ~60 ns, a completed future's await
~165 ns on 3.12 and 3.13). There a hit therefore pays for a coroutine as a bare
``await`` does, and everything it does is on top: a coroutine doing only the dict
subscript measures 1.2x a bare await, the subscript and the return of the entry's value
1.4-1.5x, adding the expiry test and the append about 1.8x (docs/benchmarks.md).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import sys
import types
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from offload._cancel import CancelToken

from ._hitpath_templates import ANY, FACTORIES, MAX_PARAMS
from ._keys import signature_of, with_signature
from ._ready import mark_coroutine_function

if TYPE_CHECKING:
    from ._cached import CacheCore
    from ._store import Entry

__all__ = ["HITS_RETURN_READY", "function_wrapper"]

R = TypeVar("R")

HITS_RETURN_READY = sys.version_info < (3, 12)
"""Hits return the entry's completed future (3.11), else the wrapper is an ``async def``."""

_KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY

_NEVER: Callable[[], float] = itertools.repeat(-math.inf).__next__
"""The clock of a store without a TTL and without a coarse clock: nothing expires."""


def function_wrapper(core: CacheCore[R]) -> Callable[..., Awaitable[R]]:
    """The public callable of a cached plain function, with its cache controls."""
    ready = HITS_RETURN_READY
    wrapper, hot_hits = _generated(core, _fixed_params(core), ready)
    core.hot_hits = hot_hits

    def invalidate(*args: Any, **kwargs: Any) -> bool:
        return core.invalidate(None, args, kwargs)

    def options(
        *, token: CancelToken | None = None, bypass: bool = False
    ) -> Callable[..., Coroutine[Any, Any, R]]:
        return core.caller(None, token, bypass)

    functools.update_wrapper(wrapper, core.fn)
    if ready:
        mark_coroutine_function(cast(types.FunctionType, wrapper))
    attrs = cast(Any, wrapper)
    attrs.invalidate = invalidate
    attrs.clear = core.clear
    attrs.info = core.info
    attrs.options = options
    return wrapper


def _fixed_params(core: CacheCore[Any]) -> tuple[inspect.Parameter, ...] | None:
    """The function's parameters when a generated hit path can take its exact signature.

    None for the hit path taking any arguments: ``key=``, ``*args``/``**kwargs``, none
    or more than ``MAX_PARAMS`` parameters.
    """
    sig = signature_of(core.fn) if core.key is None else None
    if sig is None or not 1 <= len(sig.parameters) <= MAX_PARAMS:
        return None
    return sig.parameters


def _generated(
    core: CacheCore[R], params: tuple[inspect.Parameter, ...] | None, ready: bool
) -> tuple[Callable[..., Awaitable[R]], Callable[[], int]]:
    """The generated hit path for ``params`` (any arguments if None), shaped to fit."""
    store = core.store
    coarse = store.coarse
    factory = FACTORIES[
        "ready" if ready else "async",
        "exact" if coarse is None else "coarse",
        ANY if params is None else len(params),
    ]
    slow: Callable[..., Awaitable[R]]
    fail: Callable[..., Any]
    if params is None:
        slow = core.slow

        def fail(exc: TypeError, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            return core.fail(args, kwargs, exc) if ready else core.lookup_error(args, kwargs, exc)

    else:
        positional = sum(p.kind is not _KEYWORD_ONLY for p in params)
        by_name = tuple(p.name for p in params[positional:])

        # The generated code passes every parameter positionally to the slow paths.
        def split(values: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
            return values[:positional], dict(zip(by_name, values[positional:], strict=True))

        def slow(key: Hashable, *values: Any) -> Awaitable[R]:
            return core.slow(key, *split(values))

        def fail(exc: TypeError, *values: Any) -> Any:
            args, kwargs = split(values)
            return core.fail(args, kwargs, exc) if ready else core.lookup_error(args, kwargs, exc)

    data = store.data
    # A coarse clock's ticks bound the read buffer, and its reading is the cell (even
    # without a TTL: a clock that stopped ticking sends hits to the slow path, which
    # restarts it). Without one the clock is called: the store's, or one that never
    # moves without a TTL. An unbounded store moves its keys too: its order decides
    # nothing, and skipping the move would buy little on a path that calls the clock.
    now = coarse.cell if coarse is not None else types.CellType(math.inf)  # unread
    clock = store.clock if store.ttl is not None else _NEVER
    # What the hit path reaches off a coarse clock's hit (see _hitpath_generator).
    paths: list[Any] = [clock, data.move_to_end, slow, fail, 0]
    wrapper = factory(data, store.read, core.keyfn, paths)
    closure = tuple(
        now if name == "_o_now" else cell
        for name, cell in zip(
            wrapper.__code__.co_freevars, cast(Any, wrapper).__closure__ or (), strict=True
        )
    )
    if params is None:
        wrapper = types.FunctionType(
            wrapper.__code__, wrapper.__globals__, wrapper.__name__, None, closure
        )
    else:
        wrapper = with_signature(wrapper, params, closure)

    def hot_hits() -> int:
        count: int = paths[4]
        return count

    return wrapper, hot_hits


MethodHit = Callable[[object, tuple[Any, ...], dict[str, Any]], Awaitable[Any]]
"""``hit(instance, args, kwargs)``: a cached method's call, ``args`` without the instance."""


def method_hit_paths(core: CacheCore[R]) -> tuple[MethodHit, MethodHit]:
    """The hit paths of ``obj.method(*args)``: the same steps as a function's, in one frame.

    Two of them: returning a hit's completed future, and as an ``async def`` (the
    method picks one by ``HITS_RETURN_READY`` when it is bound).

    The key is ``(Owner of obj, key of args)``; a one-parameter method called with one
    positional argument uses that argument as the key of its arguments (what its key
    function would return) without calling the key function.
    """
    store = core.store
    data = store.data
    owners = core.owners
    owner_key = core.owner_key
    custom = core.key is not None
    keyfn = core.keyfn
    rest_keyfn = core.rest_keyfn
    rest = signature_of(core.fn, skip_first=True)
    single = not custom and rest is not None and rest.single
    bounded = store.maxsize is not None
    exact = store.ttl is not None and store.coarse is None
    buffered = store.coarse is not None  # hits go to the read buffer (see Store.drain)
    read = store.read
    clock = store.clock
    now = store.coarse.cell if store.coarse is not None else types.CellType(-math.inf)
    slow = core.slow

    def key_of(owner: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
        ident = owners.get(id(owner))
        if ident is None or ident.ref() is not owner:
            ident = owner_key(owner)
        if single and not kwargs and len(args) == 1:
            return (ident, args[0])
        if custom:
            return (ident, keyfn(owner, *args, **kwargs))
        return (ident, rest_keyfn(*args, **kwargs))

    def fresh(key: Hashable, ready: bool) -> Entry[R] | None:
        """The entry of ``key`` if a hit may serve it (recorded as read), else None.

        ``ready``: the hit returns the entry's future (so its hot_until counts), else
        its value (its expires_at).
        Raises TypeError for an unhashable key.
        """
        try:
            entry = data[key]
            # hot_until: -inf until the entry's future exists (the slow path makes it).
            if (entry[4] if ready else entry[1]) > (clock() if exact else now.cell_contents):
                if buffered:
                    read(entry)
                else:
                    if bounded:
                        data.move_to_end(key)  # KeyError: removed by another thread
                    core.hits += 1
                return entry
        except KeyError:
            pass
        return None

    def hit_ready(owner: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Awaitable[R]:
        key = key_of(owner, args, kwargs)
        try:
            entry = fresh(key, True)
        except TypeError as exc:
            return core.fail((owner, *args), kwargs, exc)
        if entry is None:
            return slow(key, (owner, *args), kwargs)
        return cast("Awaitable[R]", entry[3])

    async def hit_async(owner: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
        key = key_of(owner, args, kwargs)
        try:
            entry = fresh(key, False)
        except TypeError as exc:
            raise core.lookup_error((owner, *args), kwargs, exc) from exc
        if entry is None:
            return await slow(key, (owner, *args), kwargs)
        return entry[0]

    return hit_ready, hit_async
