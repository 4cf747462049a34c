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

A cached method's hit paths are generated the same way (``METHOD_FACTORIES``), one
function per instance: see :class:`MethodPrototype`.
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

from ._hitpath_templates import ANY, FACTORIES, MAX_PARAMS, METHOD_FACTORIES
from ._keys import compile_key, signature_of, with_signature
from ._ready import mark_coroutine_function

if TYPE_CHECKING:
    from ._cached import CacheCore

__all__ = ["HITS_RETURN_READY", "MethodPrototype", "function_wrapper"]

R = TypeVar("R")

HITS_RETURN_READY = sys.version_info < (3, 12)
"""Hits return the entry's completed future (3.11), else the wrapper is an ``async def``."""

_KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)

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
    slow: Callable[..., Awaitable[R]]
    fail: Callable[..., Any]
    if params is None:
        slow = core.slow

        def fail(exc: TypeError, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            return core.fail(args, kwargs, exc) if ready else core.lookup_error(args, kwargs, exc)

    else:
        split = _splitter(params)

        # The generated code passes every parameter positionally to the slow paths.
        def slow(key: Hashable, *values: Any) -> Awaitable[R]:
            return core.slow(key, *split(values))

        def fail(exc: TypeError, *values: Any) -> Any:
            args, kwargs = split(values)
            return core.fail(args, kwargs, exc) if ready else core.lookup_error(args, kwargs, exc)

    paths, made, closure = _made(
        core, FACTORIES, ANY if params is None else len(params), ready, core.keyfn, slow, fail
    )
    wrapper: Callable[..., Awaitable[R]]
    if params is None:
        wrapper = types.FunctionType(made.__code__, made.__globals__, made.__name__, None, closure)
    else:
        wrapper = with_signature(made, params, closure)

    def hot_hits() -> int:
        count: int = paths[4]
        return count

    return wrapper, hot_hits


def _splitter(
    params: tuple[inspect.Parameter, ...],
) -> Callable[[tuple[Any, ...]], tuple[tuple[Any, ...], dict[str, Any]]]:
    """Turns the values of ``params`` (all passed positionally) back into a call's
    arguments and keywords."""
    positional = sum(p.kind is not _KEYWORD_ONLY for p in params)
    by_name = tuple(p.name for p in params[positional:])

    def split(values: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return values[:positional], dict(zip(by_name, values[positional:], strict=True))

    return split


def _made(
    core: CacheCore[Any],
    factories: dict[tuple[str, str, int], Any],
    arity: int,
    ready: bool,
    keyfn: Callable[..., Hashable],
    slow: Callable[..., Any],
    fail: Callable[..., Any],
) -> tuple[list[Any], types.FunctionType, tuple[types.CellType, ...]]:
    """A generated hit path of ``factories`` for this store, its closure with the
    coarse clock's cell in place, and the list of what serves all but a coarse hit
    (``paths[4]`` counts the hits applied at once)."""
    store = core.store
    coarse = store.coarse
    mode = "ready" if ready else "async"
    factory = factories[mode, "exact" if coarse is None else "coarse", arity]
    # A coarse clock's ticks bound the read buffer, and its reading is the cell (even
    # without a TTL: a clock that stopped ticking sends hits to the slow path, which
    # restarts it). Without one the clock is called: the store's, or one that never
    # moves without a TTL. An unbounded store moves its keys too: its order decides
    # nothing, and skipping the move would buy little on a path that calls the clock.
    now = coarse.cell if coarse is not None else types.CellType(math.inf)  # unread
    clock = store.clock if store.ttl is not None else _NEVER
    # What the hit path reaches off a coarse clock's hit (see _hitpath_generator).
    paths: list[Any] = [clock, store.data.move_to_end, slow, fail, 0]
    wrapper = factory(store.data, store.read, keyfn, paths)
    closure = tuple(
        now if name == "_o_now" else cell
        for name, cell in zip(
            wrapper.__code__.co_freevars, cast(Any, wrapper).__closure__ or (), strict=True
        )
    )
    return paths, wrapper, closure


class MethodPrototype:
    """The hit path of a cached method, ready to be made for each instance: one function
    per instance, whose closure holds that instance's Owner (the ``_o_owner`` cell).

    :meth:`make` returns it as a plain function whose first parameter is the instance:
    ``obj.method`` binds it as a method, so ``obj.method(x)`` runs this one frame (no
    bound object of ours, no ``*args`` tuple) and its key is ``(owner, x)``.
    """

    __slots__ = (
        "_cells",
        "_code",
        "_defaults",
        "_globals",
        "_kwdefaults",
        "_owner_at",
        "paths",
        "ready",
        "signature",
    )

    def __init__(self, core: CacheCore[Any], ready: bool) -> None:
        self.ready = ready
        full = signature_of(core.fn) if core.key is None else None
        fixed = (
            full is not None
            and 2 <= len(full.parameters) <= MAX_PARAMS + 1
            and full.parameters[0].kind in _POSITIONAL
        )
        if fixed:
            assert full is not None
            split = _splitter(full.parameters[1:])

            # The generated code passes the instance and every parameter positionally.
            def slow(key: Hashable, instance: object, *values: Any) -> Awaitable[Any]:
                args, kwargs = split(values)
                return core.slow(key, (instance, *args), kwargs)

            def fail(exc: TypeError, instance: object, *values: Any) -> Any:
                args, kwargs = split(values)
                return (
                    core.fail((instance, *args), kwargs, exc)
                    if ready
                    else core.lookup_error((instance, *args), kwargs, exc)
                )

            keyfn: Callable[..., Hashable] = core.keyfn  # unused: the parameters are the key
        else:

            def slow(  # type: ignore[misc]
                key: Hashable, instance: object, args: tuple[Any, ...], kwargs: dict[str, Any]
            ) -> Awaitable[Any]:
                return core.slow(key, (instance, *args), kwargs)

            def fail(  # type: ignore[misc]
                exc: TypeError, instance: object, args: tuple[Any, ...], kwargs: dict[str, Any]
            ) -> Any:
                call = (instance, *args)
                return (
                    core.fail(call, kwargs, exc) if ready else core.lookup_error(call, kwargs, exc)
                )

            if core.key is not None:
                keyfn = core.keyfn  # a key= function gets the instance too
            elif full is not None and full.parameters[0].kind in _POSITIONAL:
                # No other parameter, or many: bound like the method itself (a wrong
                # call's complaint is the method's), the key is the rest.
                bind = compile_key(core.fn)
                if len(full.parameters) == 1:

                    def keyfn(instance: object, *args: Any, **kwargs: Any) -> Hashable:
                        bind(instance, *args, **kwargs)
                        return ()

                else:

                    def keyfn(instance: object, *args: Any, **kwargs: Any) -> Hashable:
                        key = cast(tuple[Any, ...], bind(instance, *args, **kwargs))
                        return key[1:]

            else:
                rest = core.rest_keyfn

                def keyfn(instance: object, *args: Any, **kwargs: Any) -> Hashable:
                    return rest(*args, **kwargs)

        arity = len(full.parameters) - 1 if fixed and full is not None else ANY
        self.paths, wrapper, closure = _made(
            core, METHOD_FACTORIES, arity, ready, keyfn, slow, fail
        )
        if fixed and full is not None:
            wrapper = cast(types.FunctionType, with_signature(wrapper, full.parameters, closure))
        else:
            wrapper = types.FunctionType(
                wrapper.__code__, wrapper.__globals__, wrapper.__name__, None, closure
            )
        if ready:
            mark_coroutine_function(wrapper)  # 3.11: the code's flag, shared by every copy
        self._code = wrapper.__code__
        self._globals = wrapper.__globals__
        self._defaults = wrapper.__defaults__
        self._kwdefaults = wrapper.__kwdefaults__
        self._cells = list(closure)
        self._owner_at = wrapper.__code__.co_freevars.index("_o_owner")
        # What inspect shows for obj.method (the parameters of the variadic hit path
        # are not the method's; the fixed ones lack its annotations).
        try:
            self.signature: inspect.Signature | None = inspect.signature(core.fn)
        except (TypeError, ValueError):
            self.signature = None

    def make(self, owner: object, name: str, qualname: str) -> types.FunctionType:
        """The hit path of the instance that ``owner`` stands for."""
        cells = self._cells.copy()
        cells[self._owner_at] = types.CellType(owner)
        fn = types.FunctionType(self._code, self._globals, name, self._defaults, tuple(cells))
        fn.__qualname__ = qualname
        if self._kwdefaults:
            fn.__kwdefaults__ = dict(self._kwdefaults)
        if self.signature is not None:
            cast(Any, fn).__signature__ = self.signature
        if self.ready and sys.version_info >= (3, 12):
            mark_coroutine_function(fn)  # a mark on each function (3.11: the shared code's)
        return fn
