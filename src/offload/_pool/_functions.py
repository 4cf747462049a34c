"""Which callables a process worker may keep between tasks.

A task's result must reflect its callable as it was when the task was submitted. So
only a callable whose pickle is nothing but a name (a module-level function, class or
builtin: :func:`offload._serialize.by_name`) is pickled once and cached, here and in each
worker: pickling it again could only give the same name, and the worker looks the name
up in its own imports either way. Everything else (bound methods, ``functools.partial``,
callable objects, lambdas, closures, functions defined in ``__main__``) carries state
that may change between calls, so it is pickled at every submit and the worker
unpickles a fresh copy for every task (nothing a task does to that copy can leak into
the next task either).

The cache holds no strong reference to a callable that can be weakly referenced: an
entry goes when its callable is garbage collected. Builtins cannot be weakly referenced;
they live in their C modules for as long as the process anyway.

A task frame's payload starts with ``TASK_HEAD`` (function id, length of the pickled
callable that follows). Id 0 means "this pickle, this task only"; a cached callable has
an id above 0, never reused, and its pickle travels only with the first task a worker
gets for it.
"""

from __future__ import annotations

import functools
import inspect
import types
import weakref
from collections.abc import Callable
from typing import Any

from offload import _serialize

from . import _wire as w

__all__ = ["FunctionCache", "check_no_keywords", "check_sync"]

_NAMED_KINDS = (types.FunctionType, types.BuiltinFunctionType, type)
_ASYNC_FLAGS = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def check_sync(fn: Callable[..., Any]) -> None:
    """Refuse a coroutine function (or async generator function) before anything runs.

    Also looks through ``functools.partial``, bound methods and objects whose
    ``__call__`` is ``async``. Raises ``TypeError`` saying what to do instead.
    """
    if type(fn) is types.FunctionType:  # the common case, without inspect's walk
        if fn.__code__.co_flags & _ASYNC_FLAGS:
            pass
        elif not fn.__dict__ or not inspect.iscoroutinefunction(fn):
            return  # (only a function with attributes can carry markcoroutinefunction)
    elif isinstance(fn, type | types.BuiltinFunctionType):
        return  # calling a class or a builtin never gives a coroutine
    elif not _is_async(fn):
        return
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    raise TypeError(
        f"{name} is an async function: a pool worker runs plain functions and cannot await "
        "the coroutine it returns; await it on the event loop instead, or pass a sync "
        "function (wrap the coroutine in asyncio.run inside a sync function if the worker "
        "must run it)"
    )


def check_no_keywords(method: str, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """Refuse keyword arguments meant for ``fn``: they go through ``functools.partial``."""
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    given = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    if len(given) > 200:
        given = given[:200] + "..."
    raise TypeError(
        f"Pool.{method}() got keyword arguments it does not take ({', '.join(kwargs)}): "
        f"its only keywords are timeout= and token=, and it passes positional arguments "
        f"to the function; pass keyword arguments of {name} with functools.partial: "
        f"pool.{method}(functools.partial({name}, {given}), ...)"
    )


def _is_async(fn: object) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return True
    if isinstance(fn, types.FunctionType | types.MethodType):
        return False
    call = getattr(type(fn), "__call__", None)  # noqa: B004 - the class method calling fn runs
    return call is not None and (
        inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)
    )


class _Strong:
    """Stands in for a weak reference to an object that cannot have one."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __call__(self) -> object:
        return self.obj


class FunctionCache:
    """The pickled form of each callable a pool runs, cached only where that is safe."""

    def __init__(self) -> None:
        # id(fn) -> (reference to fn, function id, payload head)
        self._entries: dict[int, tuple[Callable[[], object], int, bytes]] = {}
        self._pickles: dict[int, bytes] = {}  # function id -> pickled name
        self._next_id = 1

    def __len__(self) -> int:
        return len(self._entries)

    def head(self, fn: Callable[..., Any]) -> bytes:
        """The start of a task payload for ``fn``, pickled now unless it is a cached name.

        Raises :class:`offload.SerializationError` when ``fn`` cannot be pickled.
        """
        entry = self._entries.get(id(fn))
        if entry is not None and entry[0]() is fn:
            return entry[2]
        if isinstance(fn, _NAMED_KINDS):
            data = _serialize.by_name(fn)
            if data is not None:
                return self._add(fn, data)
        data = _serialize.dumps_function(fn)
        return w.TASK_HEAD.pack(0, len(data)) + data

    def pickle_of(self, fn_id: int) -> bytes:
        """The pickled name of a cached callable (sent with a worker's first use of it)."""
        return self._pickles[fn_id]

    def _add(self, fn: Callable[..., Any], data: bytes) -> bytes:
        fn_id = self._next_id
        self._next_id += 1
        key = id(fn)
        ref: Callable[[], object]
        try:
            ref = weakref.ref(fn, lambda _ref: self._forget(key, fn_id))
        except TypeError:
            ref = _Strong(fn)
        head = w.TASK_HEAD.pack(fn_id, 0)
        self._entries[key] = (ref, fn_id, head)
        self._pickles[fn_id] = data
        return head

    def _forget(self, key: int, fn_id: int) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry[1] == fn_id:
            del self._entries[key]
        self._pickles.pop(fn_id, None)
