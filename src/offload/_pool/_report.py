"""``offload.report(value)``: stream a progress value from a pool task to its caller."""

from __future__ import annotations

import contextvars
from collections.abc import Callable

__all__ = ["report"]

_reporter: contextvars.ContextVar[Callable[[object], None] | None] = contextvars.ContextVar(
    "offload_reporter", default=None
)


def report(value: object) -> None:
    """Send ``value`` to whoever reads ``handle.progress()`` for the task running now.

    Values arrive in order. Outside a pool task, and for tasks started with ``run()``
    (nobody can read their progress), this does nothing, so the same function can also
    be called directly. In a process worker the value must be picklable: otherwise
    ``report`` raises :class:`offload.SerializationError` in the task.

    Example::

        def search(numbers, target):
            for combo in combos(numbers):
                if sum(combo) == target:
                    offload.report(combo)

        handle = pool.submit(search, numbers, 10)
        async for combo in handle.progress():
            print("found", combo)
    """
    sink = _reporter.get()
    if sink is not None:
        sink(value)


def set_reporter(
    sink: Callable[[object], None] | None,
) -> contextvars.Token[Callable[[object], None] | None]:
    return _reporter.set(sink)
