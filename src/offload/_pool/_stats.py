"""Pool statistics: a frozen snapshot and the bounded reservoirs behind its percentiles."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["PoolStats", "Reservoir"]


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A snapshot of a pool, from :meth:`offload.Pool.stats`.

    Times are seconds. ``wait`` is the time a task spent not running (queue and transport);
    ``run`` is the time the function ran, measured in the worker. Percentiles cover the
    most recent tasks (a bounded reservoir). ``utilization`` is the share of worker time
    spent running tasks since the pool started (0..1). A frozen record: reading it never
    raises.

    Example::

        s = pool.stats()
        print(f"{s.busy}/{s.workers} busy, {s.queued} queued, p99 run {s.run_p99:.3f}s")
    """

    workers: int
    busy: int
    queued: int
    completed: int
    failed: int
    crashed: int
    cancelled: int
    wait_p50: float
    wait_p99: float
    run_p50: float
    run_p99: float
    utilization: float


class Reservoir:
    """The last ``size`` samples; percentiles computed on demand (cheap to add)."""

    __slots__ = ("samples",)

    def __init__(self, size: int = 4096) -> None:
        self.samples: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self.samples.append(value)

    def percentile(self, q: float) -> float:
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
