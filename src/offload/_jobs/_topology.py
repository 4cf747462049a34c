"""The broker objects of one job queue, their names and how they are declared.

For ``JobQueue(url, name="mail")``::

    producer ──submit──▶ offload.mail              quorum queue, delivery limit, dead-letters
       │                   │    ▲                   to offload.mail.dead
       │ delay=            │    │ TTL expires (dead-lettered back, at least once)
       └────────────▶ offload.mail.delay.<ms>      one queue per (rounded) delay: FIFO, so
                           │                       no message waits behind a longer one
                           ▼
                        worker ──retry──▶ offload.mail.delay.<backoff ms>
                           │ ──last failure / bad message──▶ offload.mail.dead
                           │ ──events──▶ offload.mail.events   stream: results and progress
                           │                                  of every job, kept result_ttl
    cancel ──▶ offload.mail.events (the final "cancelled") and offload.mail.cancels
               (stream every worker follows from its start: queued jobs never start)
    key=   ──▶ offload.mail.key.<hash>  holds one claim (max-length 1, reject-publish):
                                        the broker decides which submit wins

Every publish goes through the default exchange. All queues are durable and all
messages persistent; the delay queues are quorum queues so that dead-lettering back to
the work queue is at-least-once.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Topology", "delay_bucket"]


def delay_bucket(seconds: float) -> int:
    """``seconds`` in milliseconds rounded to two significant digits (at most 5 % off), so
    that a few queues hold every delay."""
    ms = max(1, round(seconds * 1000))
    digits = int(math.log10(ms))
    scale = 10 ** max(0, digits - 1)
    return int(max(1, round(ms / scale) * scale))


@dataclass(frozen=True)
class Topology:
    """Names and declaration arguments of one job queue's broker objects."""

    name: str
    result_ttl: float
    delivery_limit: int
    queue_type: str = "classic"
    # The fixed queues' names, made once from ``name`` (see the module docstring).
    work: str = field(init=False)
    dead: str = field(init=False)
    events: str = field(init=False)
    cancels: str = field(init=False)

    def __post_init__(self) -> None:
        work = f"offload.{self.name}"
        object.__setattr__(self, "work", work)
        for kind in ("dead", "events", "cancels"):
            object.__setattr__(self, kind, f"{work}.{kind}")

    def delay(self, ms: int) -> str:
        return f"{self.work}.delay.{ms}"

    def claim(self, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:40]
        return f"{self.work}.key.{digest}"

    # -- declaration arguments -------------------------------------------------------

    def work_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.dead,
        }
        if self.queue_type == "quorum":
            args["x-queue-type"] = "quorum"
            args["x-delivery-limit"] = self.delivery_limit
        else:
            args["x-max-priority"] = 9
        return args

    def delay_args(self, ms: int) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-message-ttl": ms,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.work,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
            # The queue goes away once unused; a producer redeclares it before using it
            # again (see DELAY_REDECLARE), and every message leaves it well before.
            "x-expires": ms + 2 * DELAY_REDECLARE_MS,
        }

    def stream_args(self) -> dict[str, Any]:
        return {"x-queue-type": "stream", "x-max-age": f"{max(1, math.ceil(self.result_ttl))}s"}

    def claim_args(self) -> dict[str, Any]:
        return {
            "x-max-length": 1,
            "x-overflow": "reject-publish",
            "x-expires": max(1, round(self.result_ttl * 1000)),
        }


DELAY_REDECLARE_MS = 60_000
