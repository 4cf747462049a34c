"""The worker pool: ``offload.Pool``, its task handles and statistics.

One concern per module: ``_pool`` (front: queue, scheduling, cancellation, close),
``_backend`` (the worker-kind interface), ``_process`` / ``_template`` / ``_worker``
(process workers: parent side, fork server, child loop), ``_thread`` (thread workers),
``_wire`` (framing), ``_task``, ``_map``, ``_stats``, ``_executor``.
"""

from ._executor import PoolExecutor
from ._pool import Pool
from ._stats import PoolStats
from ._task import TaskHandle

__all__ = ["Pool", "PoolExecutor", "PoolStats", "TaskHandle"]
