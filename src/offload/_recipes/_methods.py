"""How recipes bind to methods: instances inside keys, and the descriptors of cached methods.

A recipe used in a class body keys its entries by instance and arguments. The instance
is represented by an :class:`Owner` (its identity, held weakly), so a key never keeps
its instance alive.

``obj.method`` of a cached method is a bound method (``types.MethodType``) of a function
made for that instance (:class:`~offload._recipes._hitpath.MethodPrototype`) and kept
while the instance lives: ``obj.method(x)`` runs the generated hit path in one frame,
with the instance's :class:`UniqueOwner` in its closure, and the cache controls
(``invalidate``, ``options``, ``info``, ``clear``) are that function's attributes, which
the bound method shows. Looking the function up costs one dict subscript by ``id(obj)``:
the instance's weak reference removes it when the instance goes, before its id can be
reused.
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
    "CachedMethod",
    "Owner",
    "UniqueOwner",
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


class UniqueOwner(Owner):
    """The one Owner of a live instance in a cache (see ``CacheCore.owner_key``): equal
    only to itself and hashed by identity, so hashing and comparing a key that holds it
    run no Python code. Its methods are ``obj.method``'s controls for that instance."""

    __slots__ = ("core",)

    __hash__ = object.__hash__
    __eq__ = object.__eq__

    def __init__(self, ident: int, ref: Callable[[], object], core: CacheCore[Any]) -> None:
        super().__init__(ident, ref)
        self.core = core

    def invalidate(self, *args: Any, **kwargs: Any) -> bool:
        """``obj.method.invalidate(*args)``: drop this instance's entry for ``args``."""
        instance = self.ref()
        if instance is None:  # its entries go at the next miss or sweep anyway
            return False
        return self.core.invalidate(instance, (instance, *args), kwargs)

    def options(
        self, *, token: CancelToken | None = None, bypass: bool = False
    ) -> Callable[..., Coroutine[Any, Any, Any]]:
        """``obj.method.options(token=..., bypass=...)``: a caller for this instance."""
        return self.core.caller(self.ref(), token, bypass)


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

    __slots__ = ("__dict__", "_bound", "_prototypes", "_shared")

    def __init__(self, core: CacheCore[R]) -> None:
        self._core = core
        self._owner = None
        self._bound = core.bound
        self._shared = (core.info, core.clear)  # the same for every instance
        ready, run = _hitpath.MethodPrototype(core, True), _hitpath.MethodPrototype(core, False)
        self._prototypes = (run, ready)  # indexed by HITS_RETURN_READY

        def hot_hits() -> int:
            count: int = ready.paths[4] + run.paths[4]
            return count

        core.hot_hits = hot_hits
        functools.update_wrapper(self, core.fn)

    def __repr__(self) -> str:
        return f"<cached method {name_of(self._core.fn)}>"

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        try:
            return _MethodType(self._bound[id(obj)], obj)
        except KeyError:
            return _MethodType(self._bind(obj), obj)

    def _bind(self, obj: object) -> Callable[..., Any]:
        """Make ``obj``'s hit path with its cache controls, and keep it while ``obj`` lives."""
        core = self._core
        owner = cast(UniqueOwner, core.owner_key(obj))
        fn = core.fn
        made = self._prototypes[_hitpath.HITS_RETURN_READY].make(
            owner, fn.__name__, getattr(fn, "__qualname__", fn.__name__)
        )
        controls = cast(Any, made)
        controls.invalidate = owner.invalidate
        controls.options = owner.options
        controls.info, controls.clear = self._shared
        controls.__doc__ = fn.__doc__
        controls.__module__ = fn.__module__
        # Another thread may have bound it first: one function per instance.
        return self._bound.setdefault(id(obj), made)

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


_MethodType = types.MethodType


# Starlette and FastAPI also look at ``__call__`` of callable objects.
mark_coroutine_function(cast(types.FunctionType, CachedMethod.__call__))
