"""The settings of a cluster, checked once before anything starts."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

__all__ = ["Options"]


# The shortest --timeout: a worker's loop sends several heartbeats per timeout.
MIN_TIMEOUT = 0.1


@dataclass(frozen=True)
class Options:
    """Everything ``offload.serve`` and ``offload cluster`` accept (see ``serve``)."""

    app: str
    workers: int
    host: str = "127.0.0.1"
    port: int = 8000
    uds: str | None = None
    factory: bool = False
    timeout: float = 30.0
    graceful_timeout: float = 30.0
    ready_timeout: float = 60.0
    max_memory: int | None = None
    max_requests: int | None = None
    max_requests_jitter: int = 0
    control: str | None = None
    log_level: str = "warning"
    access_log: bool = False
    start_tries: int = 3
    # "inherit" (one socket bound here, inherited by every worker) or "reuseport" (each
    # worker listens on its own SO_REUSEPORT socket). Not an option of the command: the
    # second exists so bench/bench_socket_model.py can measure why the first is used.
    socket_model: str = "inherit"

    def __post_init__(self) -> None:
        module, sep, attr = self.app.partition(":")
        if not sep or not module or not attr:
            raise ValueError(f"app {self.app!r} is not MODULE:APP (for example main:app)")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        for name in ("timeout", "graceful_timeout", "ready_timeout"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.timeout < MIN_TIMEOUT:
            # Workers beat several times per timeout: a shorter one would be a busy loop.
            raise ValueError(f"timeout must be at least {MIN_TIMEOUT} s, got {self.timeout!r}")
        if self.max_memory is not None and self.max_memory < 1:
            raise ValueError(
                f"max_memory must be a positive number of bytes, got {self.max_memory}"
            )
        if self.max_requests is not None and self.max_requests < 1:
            raise ValueError(f"max_requests must be at least 1, got {self.max_requests}")
        if self.max_requests_jitter < 0:
            raise ValueError(f"max_requests_jitter must be >= 0, got {self.max_requests_jitter}")
        if self.socket_model not in ("inherit", "reuseport"):
            raise ValueError(
                f"socket_model must be inherit or reuseport, got {self.socket_model!r}"
            )
        if self.socket_model == "reuseport" and self.uds is not None:
            raise ValueError("socket_model reuseport needs a TCP address, not uds")
        if self.start_tries < 1:
            raise ValueError(f"start_tries must be at least 1, got {self.start_tries}")

    @property
    def beat(self) -> float:
        """Seconds between a worker's heartbeats: several per ``timeout``."""
        return min(0.5, self.timeout / 4)


def default_workers() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) or 1
