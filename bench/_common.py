"""Helpers shared by the benchmark scripts: workloads, timing, percentiles and a ratio table."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Sequence

# -- workloads shared by the pool benchmarks (module-level, so workers import them) --


def tiny(x: int) -> int:
    """The smallest task: its cost is the pool's overhead."""
    return abs(x)


def burn(n: int) -> int:
    """A fixed amount of pure-Python CPU work."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of samples, nearest-rank."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def machine() -> str:
    """One line naming the machine: CPU count, Python and OS."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cpus} CPUs, {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def fmt_time(seconds: float) -> str:
    if seconds != seconds:  # nan
        return "n/a"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table (also valid Markdown) with a title line."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    out = [f"### {title}", "", line(cells[0])]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out.extend(line(row) for row in cells[1:])
    return "\n".join(out) + "\n"


class Timer:
    """Context manager measuring wall time in seconds (`.elapsed`)."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.elapsed = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.start
