"""When a healthy worker should still be replaced: too much memory, or enough requests.

The supervisor asks every second or so; a worker over a limit is replaced gracefully
(its successor is ready before it stops taking connections), so no request fails.
The request limit of each worker gets its own random jitter, so workers started
together do not all recycle at once.
"""

from __future__ import annotations

import random

__all__ = ["MEMORY_CHECK_EVERY", "reason", "request_limit", "rss"]

MEMORY_CHECK_EVERY = 1.0


def request_limit(max_requests: int | None, jitter: int) -> int | None:
    """This worker's request limit: ``max_requests`` plus up to ``jitter`` more."""
    if max_requests is None:
        return None
    return max_requests + random.randint(0, jitter)


def rss(pid: int) -> int:
    """Resident memory of ``pid`` in bytes (0 when it is gone)."""
    import psutil  # here, not at import: it cannot load in a sub-interpreter

    try:
        return int(psutil.Process(pid).memory_info().rss)
    except (psutil.Error, OSError):
        return 0


def reason(rss_bytes: int, requests: int, max_memory: int | None, limit: int | None) -> str | None:
    """Why this worker should be recycled, or None."""
    if max_memory is not None and rss_bytes > max_memory:
        return f"memory {_mib(rss_bytes)} over --max-memory {_mib(max_memory)}"
    if limit is not None and requests >= limit:
        return f"served {requests} requests (limit {limit})"
    return None


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"
