"""offload: keep the asyncio event loop free.

Coalesce, cache and batch async calls; cancel work wherever it runs; offload CPU-bound
and blocking work to worker processes, threads and external programs.

This module only re-exports; the code lives in private modules named for what they do.
"""

import contextlib

from ._cancel import CancelToken, current_token
from ._cancelable import CancelableCall, cancelable
from ._cluster import serve
from ._errors import (
    BatchError,
    BrokerUnavailable,
    Cancelled,
    ChannelClosed,
    ClosedError,
    InterpreterIncompatible,
    JobError,
    JobFailed,
    JobRejected,
    LoopBlocked,
    OffloadError,
    ProcessError,
    ProcessFailed,
    ProgramNotFound,
    QueueFull,
    SerializationError,
    SharedMemoryError,
    TaskExited,
    TaskTimeout,
    WorkerCrashed,
    WorkerError,
    WorkerStartFailed,
    WrongLoopError,
)
from ._interleave import checkpoint, interleave
from ._jobs import JobHandle, JobInfo, JobQueue, JobWorker, current_job
from ._monitor import BlockReport, LoopStats, LoopWatch, monitor
from ._pool import Pool, PoolExecutor, PoolStats, TaskHandle
from ._pool._report import report
from ._process import (
    Channel,
    Child,
    InputStream,
    Limits,
    OutputStream,
    Port,
    Process,
    ProcessResult,
    fork,
    parent,
    pipe,
    run,
    spawn,
)
from ._recipes import Batcher, CacheInfo, Coalescer, cached, coalesce
from ._shm import SharedArray, SharedBuffer, SharedCounter, SharedLock, transfer

__version__ = "0.1.0"

__all__ = [
    "BatchError",
    "Batcher",
    "BlockReport",
    "BrokerUnavailable",
    "CacheInfo",
    "CancelToken",
    "CancelableCall",
    "Cancelled",
    "Channel",
    "ChannelClosed",
    "Child",
    "ClosedError",
    "Coalescer",
    "InputStream",
    "InterpreterIncompatible",
    "JobError",
    "JobFailed",
    "JobHandle",
    "JobInfo",
    "JobQueue",
    "JobRejected",
    "JobWorker",
    "Limits",
    "LoopBlocked",
    "LoopStats",
    "LoopWatch",
    "OffloadError",
    "OutputStream",
    "Pool",
    "PoolExecutor",
    "PoolStats",
    "Port",
    "Process",
    "ProcessError",
    "ProcessFailed",
    "ProcessResult",
    "ProgramNotFound",
    "QueueFull",
    "SerializationError",
    "SharedArray",
    "SharedBuffer",
    "SharedCounter",
    "SharedLock",
    "SharedMemoryError",
    "TaskExited",
    "TaskHandle",
    "TaskTimeout",
    "WorkerCrashed",
    "WorkerError",
    "WorkerStartFailed",
    "WrongLoopError",
    "cached",
    "cancelable",
    "checkpoint",
    "coalesce",
    "current_job",
    "current_token",
    "fork",
    "interleave",
    "monitor",
    "parent",
    "pipe",
    "report",
    "run",
    "serve",
    "spawn",
    "transfer",
]

# Exported names say `offload`, not the private module, in reprs, tracebacks and pickles.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("offload._"):
        with contextlib.suppress(AttributeError, TypeError):
            _obj.__module__ = __name__
del _name, _obj
