"""Durable jobs on RabbitMQ: ``offload.JobQueue``, ``offload.JobHandle``, ``offload worker``.

One concern per module: ``_wire`` (message format, signing), ``_topology`` (queue names
and arguments), ``_link`` (the reconnecting connection), ``_queue`` (producer and
registry), ``_handle`` (a job seen from the producer), ``_results`` (the results store),
``_worker`` (consumer running jobs in an offload.Pool), ``_context`` (current_job),
``_command`` (the ``offload worker`` subcommand).

aio-pika is imported only when a queue connects, so ``import offload`` works without it.
"""

from ._context import JobInfo, current_job
from ._handle import JobHandle
from ._queue import JobQueue
from ._worker import JobWorker

__all__ = ["JobHandle", "JobInfo", "JobQueue", "JobWorker", "current_job"]
