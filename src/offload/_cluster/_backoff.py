"""Restart delays: exponential with jitter, forgiven after a stable uptime.

The first crash of a worker that had been up for a while restarts it at once (a
killed worker serves again within milliseconds); each further crash in a row doubles
the delay, up to a cap, and a random part of it spreads the restarts of many workers
that fail for one shared reason (a database that went away) so they do not arrive
together.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """Counts the failures in a row of one worker slot and says how long to wait.

    Example::

        b = Backoff()
        b.failed(uptime=0.2)   # -> 0.0 (first failure: at once)
        b.failed(uptime=0.1)   # -> between 0.05 and 0.1
    """

    base: float = 0.1
    cap: float = 15.0
    stable: float = 10.0
    failures: int = 0

    def failed(self, uptime: float) -> float:
        """Record a failure after ``uptime`` seconds of service; return the delay."""
        if uptime >= self.stable:
            self.failures = 0
        self.failures += 1
        if self.failures == 1:
            return 0.0
        delay = min(self.cap, self.base * 2 ** (self.failures - 2))
        return float(delay * random.uniform(0.5, 1.0))

    def succeeded(self, uptime: float) -> None:
        """Forget the failures once a worker has served for ``stable`` seconds."""
        if uptime >= self.stable:
            self.failures = 0
