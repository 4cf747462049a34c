"""Pickling for everything that crosses a process boundary.

Stdlib pickle (protocol 5) first because it is the fastest; cloudpickle only as the
fallback for what stdlib pickle refuses or would pickle by a reference the worker cannot
resolve (lambdas, closures, functions and classes defined in ``__main__``).

A worker's ``__main__`` is not the application's, so a stdlib pickle that names
``__main__`` anywhere (a partial of a ``__main__`` function, an instance of a
``__main__`` dataclass, deep inside an argument) is redone with cloudpickle, which
sends those definitions by value. The check is a byte search of the finished pickle:
cheap, and at worst (a string that happens to read ``__main__``) a slower but equal
pickle.

Only pickling failures become :class:`offload.SerializationError`. offload's own errors
raised while pickling (a closed ``SharedArray`` raises ``ClosedError``) pass unchanged.

``buffer_callback`` / ``buffers`` are the protocol-5 out-of-band seam: a caller that
ships large buffers separately (shared memory) passes them here; by default every buffer
travels in band.
"""

from __future__ import annotations

import io
import marshal
import pickle
import pickletools
import types
from collections.abc import Callable, Iterable
from typing import Any

import cloudpickle

from ._errors import OffloadError, SerializationError

__all__ = [
    "by_name",
    "by_value",
    "dumps",
    "dumps_by_value",
    "dumps_function",
    "loads",
    "names_main",
    "stdlib_or_none",
]

PROTOCOL = 5
_MAIN = b"__main__"
# The opcodes of a pickle that is only a name: module and qualified name, looked up.
_NAME_OPS = frozenset(
    {"PROTO", "FRAME", "SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "MEMOIZE", "STOP"}
)
_GLOBAL_OPS = frozenset({"STACK_GLOBAL", "GLOBAL"})

BufferCallback = Callable[[pickle.PickleBuffer], Any]


class _Pickler(cloudpickle.Pickler):  # type: ignore[misc]
    """cloudpickle, except that code objects keep their file name.

    cloudpickle renames the file of every code object it pickles by value to
    ``<dynamic-code>``, so a worker's traceback through a ``__main__`` function, a lambda
    or a closure shows no file and no source lines. Code travels with ``marshal``
    instead: it keeps every field, and a worker always runs the same Python version.
    """

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is types.CodeType:
            return marshal.loads, (marshal.dumps(obj),)
        return super().reducer_override(obj)


def by_value(obj: object, buffer_callback: BufferCallback | None = None) -> bytes:
    """Pickle ``obj`` with cloudpickle (functions and classes of ``__main__``, lambdas and
    closures by value), code objects keeping their file names; raises what it raises."""
    out = io.BytesIO()
    _Pickler(out, PROTOCOL, buffer_callback=buffer_callback).dump(obj)
    return out.getvalue()


def stdlib_or_none(obj: object, buffer_callback: BufferCallback | None = None) -> bytes | None:
    """Pickle ``obj`` with the standard pickle; None if it refuses or if the pickle names
    ``__main__`` (then :func:`by_value` is the way). offload's own errors propagate."""
    try:
        data = pickle.dumps(obj, PROTOCOL, buffer_callback=buffer_callback)
    except OffloadError:
        raise
    except Exception:
        return None
    return None if names_main(data) else data


def names_main(data: bytes) -> bool:
    """True if a pickle may refer to ``__main__`` (which a worker resolves differently)."""
    # Not ``_MAIN in data``: on CPython 3.11-3.13 that first tries ``_MAIN`` as an integer
    # and makes (and clears) a TypeError every time, several times the cost of the search.
    return data.find(_MAIN) != -1


def dumps(
    obj: object, *, buffer_callback: BufferCallback | None = None, what: str = "value"
) -> bytes:
    """Pickle ``obj``; fall back to cloudpickle; raise SerializationError naming the type.

    offload's own errors raised while pickling (``ClosedError``) propagate unchanged.
    """
    data = stdlib_or_none(obj, buffer_callback)
    if data is not None:
        return data
    return dumps_by_value(obj, buffer_callback=buffer_callback, what=what)


def dumps_by_value(
    obj: object, *, buffer_callback: BufferCallback | None = None, what: str = "value"
) -> bytes:
    """:func:`by_value`, with a SerializationError naming the type when it fails (its
    cause: why the standard pickle refused, else why cloudpickle did)."""
    try:
        return by_value(obj, buffer_callback)
    except OffloadError:
        raise
    except Exception as exc:
        cause = _stdlib_refusal(obj) or exc
        raise SerializationError(
            f"the {what} could not be pickled: {_describe(obj)} ({cause}); "
            "pass picklable values (module-level functions and classes, plain data)"
        ) from cause


def dumps_function(fn: Callable[..., object]) -> bytes:
    """Pickle a callable: by reference when the worker can import it, else by value."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", "")
    if module not in (None, "__main__") and "<" not in qualname:
        data = stdlib_or_none(fn)
        if data is not None:
            return data
    try:
        return by_value(fn)
    except OffloadError:
        raise
    except Exception as exc:
        raise SerializationError(
            f"the function {qualname or fn!r} could not be pickled ({exc}); "
            "use a module-level function or a picklable callable"
        ) from exc


def by_name(fn: Callable[..., object]) -> bytes | None:
    """The pickle of ``fn`` if it is only a name the worker looks up, else None.

    Such a pickle carries no state: a module-level function, class or builtin. Pickling
    it again later gives the same bytes, so it may be cached; anything else (bound
    methods, partials, callable objects, lambdas, closures, ``__main__`` functions)
    carries state that can change between calls and must be pickled every time.
    """
    try:
        data = pickle.dumps(fn, PROTOCOL)
    except Exception:
        return None
    if names_main(data):
        return None
    try:
        ops = [op.name for op, _arg, _pos in pickletools.genops(data)]
    except Exception:  # pragma: no cover - pickle.dumps output always parses
        return None
    names = [op for op in ops if op in _GLOBAL_OPS]
    if len(names) != 1 or not all(op in _NAME_OPS or op in _GLOBAL_OPS for op in ops):
        return None
    return data


def loads(data: bytes | memoryview, *, buffers: Iterable[Any] | None = None) -> Any:
    """Unpickle ``data`` (stdlib pickle reads cloudpickle output too).

    offload's own errors (a shared-memory segment that is gone) propagate unchanged.
    """
    try:
        return pickle.loads(data, buffers=buffers)
    except OffloadError:
        raise
    except Exception as exc:
        raise SerializationError(
            f"a value could not be unpickled ({type(exc).__name__}: {exc}); "
            "is the module that defines it importable in the worker?"
        ) from exc


def _stdlib_refusal(obj: object) -> Exception | None:
    """Why the standard pickle refuses ``obj`` (None if it does not)."""
    try:
        pickle.dumps(obj, PROTOCOL)
    except Exception as exc:
        return exc
    return None


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
