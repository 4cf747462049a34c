"""``JobHandle``: one submitted job, seen from the producer (result, progress, cancel)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from offload._errors import Cancelled, JobFailed, JobRejected

if TYPE_CHECKING:
    from ._queue import JobQueue

__all__ = ["JobHandle"]


class JobHandle:
    """A job in a :class:`offload.JobQueue`, by id; survives the producer (``jobs.get(id)``).

    ``result()`` raises :class:`offload.JobFailed` when the job failed in its last
    attempt, and :class:`offload.BrokerUnavailable` when the broker stays unreachable.

    Example::

        handle = await jobs.submit(send_mails, addresses)
        async for sent in handle.progress():
            print(sent, "sent")
        print(await handle.result())
    """

    __slots__ = ("_queue", "id")

    def __init__(self, queue: JobQueue, job_id: str) -> None:
        self._queue = queue
        self.id = job_id

    def __repr__(self) -> str:
        return f"<JobHandle {self.id} on {self._queue.name!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JobHandle) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    async def result(self, timeout: float | None = None) -> Any:
        """Wait for the job's result and return it.

        Raises :class:`offload.JobFailed` (the last attempt failed: ``error_type``,
        ``error``, ``remote_traceback``), :class:`offload.JobRejected` (a worker refused
        the message), :class:`offload.Cancelled` (cancelled), ``TimeoutError`` when
        ``timeout`` seconds pass first (the job goes on).

        Example::

            total = await handle.result(timeout=60)
        """
        from ._queue import job_reader  # here: the queue module imports this one

        reader = job_reader(self._queue, self.id)
        async with asyncio.timeout(timeout):
            final = await reader.wait_final()
        kind = final.get("type")
        if kind == "result":
            return final.get("value")
        if kind == "cancelled":
            raise Cancelled(final.get("reason"))
        error_class = JobRejected if final.get("rejected") else JobFailed
        error_type = str(final.get("error_type", ""))
        error = str(final.get("error", ""))
        attempts = int(final.get("attempt", 1) or 1)
        raise error_class(
            f"job {self.id} failed after {attempts} attempt(s): {error_type}: {error}",
            job_id=self.id,
            error_type=error_type,
            error=error,
            remote_traceback=str(final.get("traceback", "")),
            attempts=attempts,
        )

    async def progress(self) -> AsyncIterator[Any]:
        """Yield every value the job passed to ``offload.report()``, in order; ends when
        the job ends (await :meth:`result` for how).

        Values of an attempt that failed or crashed come before those of the next one.
        """
        from ._queue import job_reader

        async for value in job_reader(self._queue, self.id).progress():
            yield value

    async def cancel(self, reason: str | None = None) -> None:
        """Cancel the job: a queued job never starts; a running one has its
        ``offload.current_token()`` cancelled, and its worker process is stopped after
        the worker's cancel grace. :meth:`result` then raises :class:`offload.Cancelled`
        (unless the job had already finished: its result stays).

        Raises :class:`offload.BrokerUnavailable` when the broker stays unreachable.
        """
        from ._queue import cancel_job

        await cancel_job(self._queue, self.id, reason)
