"""How recipes bind to methods: instances inside keys, and the descriptors of cached methods.

A recipe used in a class body keys its entries by instance and arguments. The instance
is represented by an :class:`Owner` (its identity, held weakly), so a key never keeps
its instance alive; ``obj.method`` is a small bound object sharing the method's cache.
"""

from __future__ import annotations

import functools
import inspect
import types
import weakref
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from offload._cancel import CancelToken

from . import _hitpath
from ._keys import name_of
from ._ready import mark_coroutine_function

if TYPE_CHECKING:
    from ._cached import CacheCore, CacheInfo

__all__ = [
    "BoundCachedMethod",
    "CachedMethod",
    "Owner",
    "check_async",
    "in_class_body",
    "strong_or_weak_ref",
]

R = TypeVar("R")


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


def check_async(fn: object, decorator: str, what: str = "an async def function") -> None:
    """Raise a TypeError naming ``fn`` unless it is an async function (or async callable)."""
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
        raise TypeError(f"{decorator} needs {what}, but {name_of(inner)} is {kind}")


class _MethodCacheView(Generic[R]):
    """What ``Cls.method`` and ``obj.method`` share: the method's one cache, seen from
    an owner (None: through the class)."""

    __slots__ = ("_core", "_owner")

    _core: CacheCore[R]
    _owner: object

    def clear(self) -> None:
        self._core.clear()

    def info(self) -> CacheInfo:
        return self._core.info()

    def options(
        self, *, token: CancelToken | None = None, bypass: bool = False
    ) -> Callable[..., Coroutine[Any, Any, R]]:
        return self._core.caller(self._owner, token, bypass)


class CachedMethod(_MethodCacheView[R]):
    """A cached method: a descriptor keying entries by instance (weakly) and arguments."""

    __slots__ = ("__dict__", "_hit_async", "_hit_ready")

    def __init__(self, core: CacheCore[R]) -> None:
        self._core = core
        self._owner = None
        self._hit_ready, self._hit_async = _hitpath.method_hit_paths(core)
        functools.update_wrapper(self, core.fn)

    def __repr__(self) -> str:
        return f"<cached method {name_of(self._core.fn)}>"

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        hit = self._hit_ready if _hitpath.HITS_RETURN_READY else self._hit_async
        return BoundCachedMethod(self._core, hit, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, R]:
        # Called through the class (``Cls.method(obj, x)``) or as a staticmethod.
        if not _hitpath.HITS_RETURN_READY:
            return self._core.call(None, args, kwargs)
        return cast("Coroutine[Any, Any, R]", self._core.lookup(None, args, kwargs))

    def invalidate(self, *args: Any, **kwargs: Any) -> bool:
        """``Cls.method.invalidate(obj, *args)`` drops ``obj.method(*args)``'s entry."""
        if not args:
            raise TypeError("Cls.method.invalidate() needs the instance as first argument")
        return self._core.invalidate(args[0], args, kwargs)


class BoundCachedMethod(_MethodCacheView[R]):
    """``obj.method``: calls share the method's cache, keyed by ``obj`` and arguments."""

    __slots__ = ("_hit",)

    def __init__(self, core: CacheCore[R], hit: _hitpath.MethodHit, owner: object) -> None:
        self._core = core
        self._hit = hit
        self._owner = owner

    def __repr__(self) -> str:
        return f"<cached method {name_of(self._core.fn)} of {self._owner!r}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, R]:
        return cast("Coroutine[Any, Any, R]", self._hit(self._owner, args, kwargs))

    def invalidate(self, *args: Any, **kwargs: Any) -> bool:
        return self._core.invalidate(self._owner, (self._owner, *args), kwargs)


# Starlette and FastAPI also look at ``__call__`` of callable objects.
mark_coroutine_function(cast(types.FunctionType, CachedMethod.__call__))
mark_coroutine_function(cast(types.FunctionType, BoundCachedMethod.__call__))
