"""The clock the recipes read expiry times from, and a manual clock for tests.

Expiry is decided by comparing ``clock()`` with timestamps stored next to each entry,
never by per-key timers, so a test can move time with :class:`ManualClock` instead of
sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Clock", "ManualClock", "monotonic"]

Clock = Callable[[], float]

monotonic: Clock = time.monotonic


class ManualClock:
    """A clock that only moves when told to: ``clock.advance(5)``.

    Example::

        clock = ManualClock()
        get = offload.cached(ttl=10, clock=clock)(fetch)
        clock.advance(11)   # every entry is now expired
    """

    __slots__ = ("now",)

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (must not be negative)."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward; got {seconds!r}")
        self.now += seconds
