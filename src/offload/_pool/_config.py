"""A pool's options, checked once: shared by ``Pool`` and ``PoolExecutor``."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ._backend import BackendOptions
from ._kinds import KINDS, backend_class, check_kind

__all__ = ["PoolConfig"]


@dataclass(frozen=True)
class PoolConfig:
    """The options of one pool (see ``offload.Pool`` for their meaning)."""

    kind: str
    name: str
    max_workers: int
    min_workers: int
    idle_timeout: float | None
    max_queue: int | None
    max_tasks_per_worker: int | None
    max_memory_per_worker: int | None
    task_timeout: float | None
    cancel_grace: float
    initializer: Callable[..., object] | None
    initargs: tuple[Any, ...]
    context: tuple[ContextVar[Any], ...]
    address: Any = None
    #: max_workers was not given (a backend that knows its size may report it)
    size_from_backend: bool = False

    @classmethod
    def checked(cls, **given: Any) -> PoolConfig:
        """The options ``given`` (by the names of ``offload.Pool``'s parameters; the
        others take their defaults), or ``ValueError`` naming the first wrong one."""
        unknown = sorted(given.keys() - _DEFAULTS.keys())
        if unknown:
            raise TypeError(f"unknown pool option(s): {', '.join(unknown)}")
        options = {**_DEFAULTS, **given}
        kind = options["kind"]
        max_workers, min_workers = options["max_workers"], options["min_workers"]
        max_queue, cancel_grace = options["max_queue"], options["cancel_grace"]
        max_tasks_per_worker = options["max_tasks_per_worker"]
        max_memory_per_worker = options["max_memory_per_worker"]
        idle_timeout, task_timeout = options["idle_timeout"], options["task_timeout"]
        check_kind(kind)
        size = _default_size() if max_workers is None else max_workers
        _check_int("max_workers", size, 1)
        _check_int("min_workers", min_workers, 0)
        if min_workers > size:
            raise ValueError(f"min_workers ({min_workers}) is larger than max_workers ({size})")
        for label, value in (
            ("max_queue", max_queue),
            ("max_tasks_per_worker", max_tasks_per_worker),
            ("max_memory_per_worker", max_memory_per_worker),
        ):
            if value is not None:
                _check_int(label, value, 1)
        for label, seconds in (
            ("idle_timeout", idle_timeout),
            ("task_timeout", task_timeout),
            ("cancel_grace", cancel_grace),
        ):
            if seconds is not None and not seconds >= 0:
                raise ValueError(f"{label} must be >= 0 seconds, got {seconds!r}")
        config = cls(
            kind=kind,
            name=options["name"] or f"offload-{kind}-pool",
            max_workers=size,
            min_workers=min_workers,
            idle_timeout=idle_timeout,
            max_queue=max_queue,
            max_tasks_per_worker=max_tasks_per_worker,
            max_memory_per_worker=max_memory_per_worker,
            task_timeout=task_timeout,
            cancel_grace=cancel_grace,
            initializer=options["initializer"],
            initargs=tuple(options["initargs"]),
            context=tuple(options["context"]),
            address=options["address"],
            size_from_backend=max_workers is None,
        )
        backend = backend_class(kind)
        if config.address is not None and not backend.takes_address:
            takers = " or ".join(repr(k) for k in KINDS if backend_class(k).takes_address)
            raise ValueError(f"address= is only for Pool(kind={takers}), not kind={kind!r}")
        backend.check_options(config.backend_options())
        backend.on_pool_made(config.backend_options())
        return config

    def backend_options(self) -> BackendOptions:
        """What the backend of this pool needs to know."""
        return BackendOptions(
            name=self.name,
            initializer=self.initializer,
            initargs=self.initargs,
            context=self.context,
            max_memory=self.max_memory_per_worker,
            max_workers=self.max_workers,
            cancel_grace=self.cancel_grace,
            address=self.address,
            size_from_backend=self.size_from_backend,
        )


# Every option and its default (the signature of offload.Pool says the same).
_DEFAULTS: dict[str, Any] = {
    "kind": "process",
    "max_workers": None,  # one per usable CPU
    "min_workers": 0,
    "idle_timeout": 60.0,
    "max_queue": None,
    "max_tasks_per_worker": None,
    "max_memory_per_worker": None,
    "task_timeout": None,
    "cancel_grace": 1.0,
    "initializer": None,
    "initargs": (),
    "context": (),
    "name": None,
    "address": None,
}


def _default_size() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _check_int(label: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{label} must be an int >= {minimum}, got {value!r}")
