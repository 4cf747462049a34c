"""Which callables a process worker may keep between tasks, and what may be cached.

A task's result must reflect its callable as it was when the task was submitted, so a
cache may only skip work that cannot change the outcome:

- A callable whose pickle is nothing but a name (a module-level function, class or
  builtin: :func:`offload._serialize.by_name`) is pickled once, sent once to each
  worker, and kept there: pickling it again could only give the same name, and the
  worker looks the name up in its own imports either way.
- A plain function pickled by value (a lambda, a closure, a ``__main__`` function) is
  pickled again unless nothing it captures can have changed: its code, defaults,
  closure cells and the globals its code names are compared by identity with what they
  were when it was pickled, and all of them are immutable values (numbers, strings,
  tuples of those), modules, or module-level names. Anything else (a list, a dict, an
  object) makes it "unknown", and it is pickled at every submit.
- Bound methods, ``functools.partial`` and callable objects carry arbitrary state:
  pickled at every submit.

Whatever travels by value, the worker unpickles a fresh copy for that task and drops it
afterwards, so nothing one task does to its copy leaks into the next.

The cache holds no strong reference to a callable that can be weakly referenced: an
entry goes when its callable is garbage collected. Builtins cannot be weakly referenced;
they live in their C modules for as long as the process anyway.

A task frame's payload starts with ``TASK_HEAD`` (function id, length of the pickled
callable that follows). Id 0 means "this pickle, this task only"; a cached name has an
id above 0, never reused, and its pickle travels only with the first task a worker gets
for it.
"""

from __future__ import annotations

import functools
import inspect
import operator
import sys
import types
import weakref
from collections.abc import Callable
from typing import Any

import cloudpickle

from offload import _serialize

from . import _kind_process_messages as w

__all__ = ["FunctionCache", "check_no_keywords", "check_sync"]

_NAMED_KINDS = (types.FunctionType, types.BuiltinFunctionType, type)
_ASYNC_FLAGS = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def check_sync(fn: Callable[..., Any]) -> None:
    """Refuse a coroutine function (or async generator function) before anything runs.

    Also looks through ``functools.partial``, bound methods and objects whose
    ``__call__`` is ``async``. Raises ``TypeError`` saying what to do instead.
    """
    target: Any = fn
    kind = type(target)
    while kind is functools.partial or kind is types.MethodType:
        target = target.func if kind is functools.partial else target.__func__
        kind = type(target)
    if kind is types.FunctionType:  # the common case, without inspect's walk
        if not target.__code__.co_flags & _ASYNC_FLAGS and (
            not target.__dict__ or not inspect.iscoroutinefunction(target)
        ):  # (only a function with attributes can carry markcoroutinefunction)
            return
    elif isinstance(target, type | types.BuiltinFunctionType):
        return  # calling a class or a builtin never gives a coroutine
    elif not _is_async(target):
        return
    name = getattr(fn, "__qualname__", None)
    if name is None:  # a partial, a callable object
        inner = getattr(target, "__qualname__", None) or type(target).__qualname__
        name = inner if target is fn else f"{type(fn).__qualname__} of {inner}"
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


class _Entry:
    __slots__ = ("head", "names", "ref", "snapshot")

    def __init__(
        self,
        ref: Callable[[], object],
        head: bytes,
        snapshot: list[object] | None = None,
        names: tuple[str, ...] = (),
    ) -> None:
        self.ref = ref
        self.head = head
        self.snapshot = snapshot  # None: a name, valid as long as the callable lives
        self.names = names


class FunctionCache:
    """The pickled form of each callable a pool runs, cached only where that is safe."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}  # by id() of the callable
        self._pickles: dict[int, bytes] = {}  # function id -> pickled name
        self._next_id = 1

    def __len__(self) -> int:
        return len(self._entries)

    def head(self, fn: Callable[..., Any]) -> bytes:
        """The start of a task payload for ``fn``, pickled now unless that is known to
        give what was pickled before.

        Raises :class:`offload.SerializationError` when ``fn`` cannot be pickled.
        """
        entry = self._entries.get(id(fn))
        if entry is not None and entry.ref() is fn:
            if entry.snapshot is None:
                return entry.head
            if type(fn) is types.FunctionType:
                now = _snapshot(fn, entry.names)
                if now is not None and _same(now, entry.snapshot):
                    return entry.head
        if isinstance(fn, _NAMED_KINDS):
            data = _serialize.by_name(fn)
            if data is not None:
                return self._add_name(fn, data)
        if type(fn) is types.FunctionType:
            names = _global_names(fn.__code__)
            snapshot = _snapshot(fn, names)
            data = _serialize.dumps_function(fn)
            head = w.TASK_HEAD.pack(0, len(data)) + data
            if snapshot is not None and _stable(snapshot):
                self._remember(fn, _Entry(_ref(fn, self, id(fn)), head, snapshot, names))
            else:
                self._entries.pop(id(fn), None)
            return head
        data = _serialize.dumps_function(fn)
        return w.TASK_HEAD.pack(0, len(data)) + data

    def pickle_of(self, fn_id: int) -> bytes:
        """The pickled name of a cached callable (sent with a worker's first use of it)."""
        return self._pickles[fn_id]

    def _add_name(self, fn: Callable[..., Any], data: bytes) -> bytes:
        fn_id = self._next_id
        self._next_id += 1
        head = w.TASK_HEAD.pack(fn_id, 0)
        self._pickles[fn_id] = data
        self._remember(fn, _Entry(_ref(fn, self, id(fn), fn_id), head))
        return head

    def _remember(self, fn: Callable[..., Any], entry: _Entry) -> None:
        self._entries[id(fn)] = entry

    def _forget(self, key: int, ref: object, fn_id: int) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.ref is ref:
            del self._entries[key]
        if fn_id:
            self._pickles.pop(fn_id, None)


def _ref(fn: object, cache: FunctionCache, key: int, fn_id: int = 0) -> Callable[[], object]:
    try:
        return weakref.ref(fn, lambda ref: cache._forget(key, ref, fn_id))
    except TypeError:
        return _Strong(fn)


# -- snapshots of plain functions pickled by value ------------------------------------

_MISSING = object()  # a name the code uses that is not a global (a builtin, an attribute)
_ATOMS = frozenset({int, float, complex, str, bytes, bool, type(None)})


def _global_names(code: types.CodeType) -> tuple[str, ...]:
    """Every name ``code`` and the code nested in it may look up as a global."""
    names: dict[str, None] = dict.fromkeys(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.update(dict.fromkeys(_global_names(const)))
    return tuple(names)


def _snapshot(fn: types.FunctionType, names: tuple[str, ...]) -> list[object] | None:
    """Everything the by-value pickle of ``fn`` depends on, or None if not knowable."""
    if fn.__dict__:
        return None  # attributes set on the function: arbitrary state
    parts: list[object] = [
        fn.__code__,
        fn.__defaults__,
        fn.__module__,
        fn.__qualname__,
        fn.__name__,
    ]
    kwdefaults = fn.__kwdefaults__
    if kwdefaults:
        parts += kwdefaults.keys()
        parts += kwdefaults.values()
    for cell in fn.__closure__ or ():
        try:
            parts.append(cell.cell_contents)
        except ValueError:  # an empty cell
            return None
    namespace = fn.__globals__
    missing = _MISSING
    for name in names:
        parts.append(namespace.get(name, missing))
    return parts


def _same(now: list[object], then: list[object]) -> bool:
    if len(now) != len(then):
        return False
    return all(map(operator.is_, now, then))


def _stable(snapshot: list[object]) -> bool:
    """True if every part is immutable or a name, so equal identity means equal pickle."""
    code = snapshot[0]
    if not isinstance(code, types.CodeType) or code.co_code is None:  # pragma: no cover
        return False
    by_value = cloudpickle.list_registry_pickle_by_value()
    for value in snapshot[1:]:
        if value is _MISSING or _immutable(value):
            continue
        if isinstance(value, types.ModuleType):
            name = value.__name__
            if name == "__main__" or name in by_value or sys.modules.get(name) is not value:
                return False
            continue
        if isinstance(value, _NAMED_KINDS):
            module = getattr(value, "__module__", None)
            if module in by_value or _serialize.by_name(value) is None:
                return False
            continue
        return False
    return True


def _immutable(value: object, depth: int = 3) -> bool:
    kind = type(value)
    if kind in _ATOMS:
        return True
    if (kind is tuple or kind is frozenset) and depth > 0:
        return all(_immutable(item, depth - 1) for item in value)  # type: ignore[attr-defined]
    return False
