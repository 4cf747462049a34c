"""Pickling for everything that crosses a process boundary.

Stdlib pickle (protocol 5) first because it is the fastest; cloudpickle only as the
fallback for what stdlib pickle refuses or would pickle by a reference the worker cannot
resolve (lambdas, closures, functions and classes defined in ``__main__``).

``buffer_callback`` / ``buffers`` are the protocol-5 out-of-band seam: a caller that
ships large buffers separately (shared memory) passes them here; by default every buffer
travels in band.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable
from typing import Any

import cloudpickle

from ._errors import SerializationError

__all__ = ["dumps", "dumps_function", "loads"]

PROTOCOL = 5

BufferCallback = Callable[[pickle.PickleBuffer], Any]


def dumps(
    obj: object, *, buffer_callback: BufferCallback | None = None, what: str = "value"
) -> bytes:
    """Pickle ``obj``; fall back to cloudpickle; raise SerializationError naming the type."""
    try:
        return pickle.dumps(obj, PROTOCOL, buffer_callback=buffer_callback)
    except Exception as first:
        try:
            return cloudpickle.dumps(obj, PROTOCOL, buffer_callback=buffer_callback)  # type: ignore[no-any-return]
        except Exception:
            raise SerializationError(
                f"the {what} could not be pickled: {_describe(obj)} ({first}); "
                "pass picklable values (module-level functions and classes, plain data)"
            ) from first


def dumps_function(fn: Callable[..., object]) -> bytes:
    """Pickle a callable: by reference when the worker can import it, else by value."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", "")
    if module not in (None, "__main__") and "<" not in qualname:
        try:
            return pickle.dumps(fn, PROTOCOL)
        except Exception:
            pass
    try:
        return cloudpickle.dumps(fn, PROTOCOL)  # type: ignore[no-any-return]
    except Exception as exc:
        raise SerializationError(
            f"the function {qualname or fn!r} could not be pickled ({exc}); "
            "use a module-level function or a picklable callable"
        ) from exc


def loads(data: bytes | memoryview, *, buffers: Iterable[Any] | None = None) -> Any:
    """Unpickle ``data`` (stdlib pickle reads cloudpickle output too)."""
    try:
        return pickle.loads(data, buffers=buffers)
    except Exception as exc:
        raise SerializationError(
            f"a value could not be unpickled ({type(exc).__name__}: {exc}); "
            "is the module that defines it importable in the worker?"
        ) from exc


def _describe(obj: object) -> str:
    """Name the offending type: the first unpicklable element for tuples and lists."""
    if isinstance(obj, tuple | list):
        for item in obj:
            try:
                pickle.dumps(item, PROTOCOL)
            except Exception:
                try:
                    cloudpickle.dumps(item, PROTOCOL)
                except Exception:
                    return _describe(item)
    return f"object of type {type(obj).__module__}.{type(obj).__qualname__}"
