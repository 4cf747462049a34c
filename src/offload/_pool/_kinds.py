"""The one place a worker kind is chosen: ``kind`` name -> backend class.

A new kind is one module with a :class:`~offload._pool._backend.Backend` subclass
(built as ``Backend(events, loop, options)``) plus one line in :data:`KINDS`. Modules are
imported when a pool of that kind starts, so a kind's dependencies load only if used.
"""

from __future__ import annotations

import asyncio
import importlib

from ._backend import Backend, BackendOptions
from ._events import WorkerEvents

__all__ = ["KINDS", "backend_class", "check_kind", "create_backend"]

#: kind -> "module:class" (module relative to this package)
KINDS: dict[str, str] = {
    "process": "._kind_process:ProcessBackend",
    "thread": "._kind_thread:ThreadBackend",
    "interpreter": "._kind_interpreter:InterpreterBackend",
    "dask": "._kind_dask:DaskBackend",
}


def check_kind(kind: object) -> str:
    """``kind`` if it names a worker kind; else ``ValueError`` listing the kinds."""
    if not isinstance(kind, str) or kind not in KINDS:
        *first, last = (repr(name) for name in KINDS)
        raise ValueError(f"Pool kind must be {', '.join(first)} or {last}, got {kind!r}")
    return kind


def backend_class(kind: str) -> type[Backend]:
    """The backend class of ``kind`` (its module is imported now)."""
    module_name, _, class_name = KINDS[check_kind(kind)].partition(":")
    module = importlib.import_module(module_name, __package__)
    found: type[Backend] = getattr(module, class_name)
    return found


def create_backend(
    kind: str, events: WorkerEvents, loop: asyncio.AbstractEventLoop, options: BackendOptions
) -> Backend:
    """A new backend of ``kind`` reporting to ``events``."""
    return backend_class(kind)(events, loop, options)
