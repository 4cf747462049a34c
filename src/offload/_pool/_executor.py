"""Pool.executor: a concurrent.futures.Executor backed by the pool."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from offload._errors import ClosedError

if TYPE_CHECKING:
    from ._pool import Pool

__all__ = ["PoolExecutor"]

T = TypeVar("T")


class PoolExecutor(concurrent.futures.Executor):
    """Submit to an offload pool from sync code or ``loop.run_in_executor``.

    ``submit`` is thread-safe; cancelling the returned future cancels the task.
    ``shutdown()`` closes the pool.

    Example::

        fut = pool.executor.submit(crunch, data)   # from any thread
        print(fut.result())
    """

    def __init__(self, pool: Pool, loop: asyncio.AbstractEventLoop) -> None:
        self._pool = pool
        self._loop = loop
        self._shutdown = False

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        if self._shutdown:
            raise ClosedError("the pool's executor was shut down")
        call = functools.partial(fn, *args, **kwargs) if kwargs else fn
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def start() -> None:
            if not result.set_running_or_notify_cancel():
                return
            try:
                task = self._pool._submit(
                    call, args if not kwargs else (), None, None, progress=False
                )
            except BaseException as exc:
                result.set_exception(exc)
                return

            def copy(future: asyncio.Future[Any]) -> None:
                if future.cancelled():
                    result.cancel()
                elif future.exception() is not None:
                    result.set_exception(future.exception())
                else:
                    result.set_result(future.result())

            task.future.add_done_callback(copy)
            result.add_done_callback(
                lambda f: (
                    self._loop.call_soon_threadsafe(task.future.cancel) if f.cancelled() else None
                )
            )

        if _in_loop_thread(self._loop):
            start()
        else:
            self._loop.call_soon_threadsafe(start)
        return result

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True
        coro = self._pool.close(force=cancel_futures)
        if _in_loop_thread(self._loop):
            self._loop.create_task(coro)
            return
        done = asyncio.run_coroutine_threadsafe(coro, self._loop)
        if wait:
            done.result()


def _in_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return threading.current_thread() is threading.main_thread() and not loop.is_running()
