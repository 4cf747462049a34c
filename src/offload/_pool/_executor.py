"""PoolExecutor: a ``concurrent.futures.Executor`` backed by an offload pool.

Two ways to get one: ``offload.PoolExecutor(...)`` for synchronous code (it owns an
event loop in a thread of its own and finishes its work at interpreter exit, like
``ProcessPoolExecutor``), and ``pool.executor`` for ``loop.run_in_executor`` on the
pool's own loop.

A future is pending until a worker takes its task, then running: ``cancel()`` of a
pending future removes the task from the queue, so it never runs.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import itertools
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from offload import _reaper  # noqa: F401  (before our exit hook: see atexit below)
from offload._errors import ClosedError
from offload._loop import running_in

from ._config import PoolConfig
from ._scheduler import Scheduler

if TYPE_CHECKING:
    from ._task import Task

__all__ = ["PoolExecutor"]

T = TypeVar("T")

# Executors whose loop thread is still running; joined at interpreter exit.
_live: set[_Core] = set()
_live_lock = threading.Lock()
_exiting = False
_start_lock = threading.Lock()


class PoolExecutor(concurrent.futures.Executor):
    """A ``concurrent.futures.Executor`` running calls in an offload pool.

    Use it like ``ProcessPoolExecutor`` (``kind="process"``, the default) or
    ``ThreadPoolExecutor`` (``kind="thread"``) from plain synchronous code: it runs the
    pool on an event loop in a thread of its own, ``with`` or :meth:`shutdown` waits
    for the work, and work still pending at interpreter exit is finished first.
    ``submit`` may be called from any thread; keyword arguments go to ``fn``.

    Unlike ``ProcessPoolExecutor``, a crashed worker fails only its own task
    (:class:`offload.WorkerCrashed`) and the executor keeps working. Raises
    ``ValueError`` for a wrong ``max_workers``, ``kind`` or option;
    :meth:`submit` raises :class:`offload.ClosedError` (a ``RuntimeError``) after
    :meth:`shutdown`.

    In asyncio code, ``pool.executor`` gives an executor on an existing pool instead
    (for ``loop.run_in_executor``).

    Example::

        with offload.PoolExecutor(max_workers=4) as executor:
            sizes = list(executor.map(os.path.getsize, paths))
            future = executor.submit(crunch, data, level=3)
            print(future.result())
    """

    def __init__(
        self,
        max_workers: int | None = None,
        *,
        kind: Literal["process", "thread"] = "process",
        min_workers: int = 0,
        idle_timeout: float | None = 60.0,
        max_tasks_per_worker: int | None = None,
        max_memory_per_worker: int | None = None,
        task_timeout: float | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        name: str | None = None,
    ) -> None:
        if max_workers is not None and (
            not isinstance(max_workers, int) or isinstance(max_workers, bool) or max_workers <= 0
        ):
            raise ValueError(f"max_workers must be greater than 0, got {max_workers!r}")
        options = dict(locals())  # the parameters above, all of them pool options
        del options["self"]
        config = PoolConfig.checked(**options)
        # Released by _at_exit once the pending work is done: weakref's own exit hook runs
        # before it and would kill the workers that work is waiting for.
        self._core = _Core(Scheduler(config, release_at_exit=False), None)
        # Dropped without shutdown(): finish the work, then let the loop thread end.
        finalizer = weakref.finalize(self, self._core.close, False, False)
        finalizer.atexit = False  # _at_exit joins it instead

    @classmethod
    def _attach(cls, scheduler: Scheduler, loop: asyncio.AbstractEventLoop) -> PoolExecutor:
        """An executor on a pool's ``scheduler``, whose loop runs in the calling thread
        (``pool.executor``)."""
        self = cls.__new__(cls)
        self._core = _Core(scheduler, loop)
        return self

    def __repr__(self) -> str:
        config = self._core.scheduler.config
        state = "shut down" if self._core.shut else "open"
        return (
            f"<PoolExecutor {config.name!r} {config.kind} max_workers={config.max_workers} {state}>"
        )

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Schedule ``fn(*args, **kwargs)`` and return its ``concurrent.futures.Future``.

        The future is pending while the task is queued (``cancel()`` then removes it)
        and running once a worker has taken it. Raises ``TypeError`` if ``fn`` is not
        callable, :class:`offload.ClosedError` (a ``RuntimeError``) after
        :meth:`shutdown`. Errors of the call itself (including
        :class:`offload.SerializationError` for an unpicklable argument) arrive
        through the future.

        Example::

            future = executor.submit(pow, 2, 8)
            assert future.result() == 256
        """
        if not callable(fn):
            raise TypeError(f"submit() needs a callable, got {type(fn).__qualname__}")
        if kwargs:
            return self._core.submit(functools.partial(fn, *args, **kwargs), ())
        return self._core.submit(fn, args)

    def map(
        self,
        fn: Callable[..., T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
    ) -> Iterator[T]:
        """Return an iterator over ``fn(*args)`` for ``args`` in ``zip(*iterables)``, in order.

        Every call is submitted at once (the inputs are read up front, as in
        ``concurrent.futures``; use ``Pool.map`` for lazy input). ``timeout`` counts
        from this call: when a result is not ready in time, ``TimeoutError`` is raised
        and the calls that have not started are cancelled; so are they when the
        iterator is closed early or a call raises. ``chunksize`` sends that many calls
        as one task (fewer round trips for tiny calls). Raises ``ValueError`` for a
        ``chunksize`` below 1.

        Example::

            for size in executor.map(os.path.getsize, paths, chunksize=64):
                total += size
        """
        if not isinstance(chunksize, int) or isinstance(chunksize, bool) or chunksize < 1:
            raise ValueError(f"chunksize must be an int >= 1, got {chunksize!r}")
        end = None if timeout is None else time.monotonic() + timeout
        calls = zip(*iterables, strict=False)
        futures: list[concurrent.futures.Future[Any]] = []
        try:
            if chunksize == 1:
                for args in calls:
                    futures.append(self._core.submit(fn, args))
            else:
                while chunk := list(itertools.islice(calls, chunksize)):
                    futures.append(self._core.submit(_apply_chunk, (fn, chunk)))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return _results(futures, end, chunksize > 1)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new work and close the pool once the submitted work is done.

        ``wait=True`` returns when every pending future is done and the workers (and
        the executor's loop thread) are gone; ``wait=False`` returns at once and the
        work still finishes. ``cancel_futures=True`` first cancels the futures whose
        tasks have not started (running ones finish). Calling it again is fine. For
        ``pool.executor``, this closes the pool; called on the pool's own loop thread
        it cannot wait, and closes in the background.

        Example::

            executor.shutdown(cancel_futures=True)
        """
        self._core.close(wait, cancel_futures)


class _Future(concurrent.futures.Future[T]):
    """A future that refuses to block the one thread that can resolve it."""

    _core: _Core | None = None

    def result(self, timeout: float | None = None) -> T:
        self._check_thread(timeout)
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._check_thread(timeout)
        return super().exception(timeout)

    def _check_thread(self, timeout: float | None) -> None:
        core = self._core
        if (
            core is not None
            and (timeout is None or timeout > 0)
            and not self.done()
            and core.loop is not None
            and (threading.get_ident() == core.loop_thread or running_in(core.loop))
        ):
            raise RuntimeError(
                "waiting for this future would block forever: it is resolved by the "
                "event loop of this very thread; use `await asyncio.wrap_future(future)` "
                "in async code, or offload.PoolExecutor() from synchronous code"
            )


class _Link:
    """Ties one concurrent future to its pool task until the task ends, then neither."""

    __slots__ = ("future", "loop", "run", "task")

    def __init__(self, future: concurrent.futures.Future[Any], loop: asyncio.AbstractEventLoop):
        self.future: concurrent.futures.Future[Any] | None = future
        self.loop = loop
        self.task: Task | None = None
        self.run: bool | None = None  # the answer of started(), once given

    def started(self, task: Task) -> bool:
        """A worker takes the task: the future runs, unless it was cancelled (then False).

        Thread workers tell it from their thread, and the loop may tell it too: the
        first answer stands.
        """
        with _start_lock:
            if self.run is None:
                future = self.future
                self.run = future is None or future.set_running_or_notify_cancel()
            return self.run

    def task_done(self, done: asyncio.Future[Any]) -> None:
        future, self.future, self.task = self.future, None, None
        if future is None:
            return
        with contextlib.suppress(concurrent.futures.InvalidStateError):
            if done.cancelled():
                if not future.cancel():  # it ran: the pool stopped it
                    future.set_exception(concurrent.futures.CancelledError())
            elif (error := done.exception()) is not None:
                future.set_exception(error)
            else:
                future.set_result(done.result())

    def future_done(self, future: concurrent.futures.Future[Any]) -> None:
        task = self.task
        if task is not None and future.cancelled():
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing runs
                self.loop.call_soon_threadsafe(task.future.cancel)


class _Core:
    """What an executor shares with its loop thread and the exit hook."""

    def __init__(self, scheduler: Scheduler, loop: asyncio.AbstractEventLoop | None) -> None:
        self.scheduler = scheduler
        self.owned = loop is None  # True: runs its own loop thread, made on first submit
        self.loop = loop
        # The thread that runs the loop (known once it has run something of ours).
        self.loop_thread = threading.get_ident() if loop is not None and running_in(loop) else None
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.pending: set[concurrent.futures.Future[Any]] = set()
        self.shut = False
        self.closing: concurrent.futures.Future[None] | asyncio.Task[None] | None = None

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> _Future[Any]:
        future: _Future[Any] = _Future()
        with self.lock:
            if _exiting and self.owned:
                raise ClosedError("cannot schedule new futures after interpreter shutdown")
            if self.shut or self.scheduler.closing:
                raise ClosedError(
                    "cannot schedule new futures after shutdown; create a new executor"
                )
            loop = self.loop if self.loop is not None else self._start_thread()
            future._core = self
            here = running_in(loop)
            if not here:
                # Scheduled under the lock: always ahead of a shutdown's close.
                try:
                    loop.call_soon_threadsafe(self._start, future, fn, args)
                except RuntimeError as exc:  # the loop is closed
                    raise ClosedError(
                        f"{self.scheduler.name}'s event loop is closed; create a new executor"
                    ) from exc
            self.pending.add(future)
        future.add_done_callback(self._forget)
        if here:
            self._start(future, fn, args)
        return future

    def _forget(self, future: concurrent.futures.Future[Any]) -> None:
        with self.lock:
            self.pending.discard(future)

    def _start(
        self, future: concurrent.futures.Future[Any], fn: Callable[..., Any], args: tuple[Any, ...]
    ) -> None:
        """On the loop: queue the task, unless the future was cancelled on the way."""
        self.loop_thread = threading.get_ident()
        if future.done():
            return
        assert self.loop is not None
        link = _Link(future, self.loop)
        try:
            task = self.scheduler.submit(fn, args, on_start=link.started)
        except Exception as exc:
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                future.set_exception(exc)
            return
        link.task = task
        task.future.add_done_callback(link.task_done)
        future.add_done_callback(link.future_done)

    def _start_thread(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=_serve, args=(loop, self), name=f"{self.scheduler.name}-loop", daemon=True
        )
        try:
            thread.start()
        except RuntimeError as exc:  # CPython 3.12.0-3.12.1: no new thread at shutdown
            loop.close()
            raise ClosedError(
                "cannot schedule new futures: the interpreter is shutting down and no new "
                "thread can start (CPython 3.12.0-3.12.1; fixed in 3.12.2); submit before "
                "the main thread returns"
            ) from exc
        self.loop = loop
        self.thread = thread
        with _live_lock:
            _live.add(self)
        self.loop_thread = thread.ident
        return loop

    def close(self, wait: bool, cancel_futures: bool) -> None:
        with self.lock:
            first = not self.shut
            self.shut = True
        loop = self.loop
        if loop is None or loop.is_closed():
            if cancel_futures:
                self._cancel_pending()
            return  # nothing runs any more
        if cancel_futures:
            if running_in(loop) or not (self.owned or loop.is_running()):
                self._cancel_pending()
            else:
                # On the loop, after the submits queued before: what a worker has taken
                # by then runs on, the rest is cancelled before shutdown() returns.
                cancelled = threading.Event()
                loop.call_soon_threadsafe(self._cancel_pending, cancelled)
                if threading.get_ident() != self.loop_thread:
                    while not cancelled.wait(0.05):
                        if not loop.is_running():  # it stopped before getting there
                            self._cancel_pending()
                            break
        if first:
            if running_in(loop):
                self.closing = loop.create_task(self._close_pool())
            else:
                self.closing = asyncio.run_coroutine_threadsafe(self._close_pool(), loop)
        if not wait or threading.get_ident() == self.loop_thread:
            return  # the loop's own thread cannot wait for it
        if self.thread is not None:
            self.thread.join()
        elif isinstance(self.closing, concurrent.futures.Future) and loop.is_running():
            self.closing.result()

    def _cancel_pending(self, cancelled: threading.Event | None = None) -> None:
        with self.lock:
            pending = list(self.pending)
        for future in pending:
            future.cancel()  # only those not yet running
        if cancelled is not None:
            cancelled.set()

    async def _close_pool(self) -> None:
        try:
            await self.scheduler.close()
        finally:
            if self.owned:
                asyncio.get_running_loop().stop()


def _serve(loop: asyncio.AbstractEventLoop, core: _Core) -> None:
    """The loop thread of an executor made by ``PoolExecutor()``."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        with _live_lock:
            _live.discard(core)


def _apply_chunk(fn: Callable[..., T], chunk: list[tuple[Any, ...]]) -> list[T]:
    """Run one chunk of ``PoolExecutor.map`` in a worker."""
    return [fn(*args) for args in chunk]


def _results(
    futures: list[concurrent.futures.Future[Any]], end: float | None, chunked: bool
) -> Iterator[Any]:
    # Pops as it goes: a yielded result is referenced by nothing here afterwards.
    futures.reverse()
    try:
        while futures:
            if chunked:
                chunk = _result_or_cancel(futures.pop(), end)
                chunk.reverse()
                while chunk:
                    yield chunk.pop()
            else:
                yield _result_or_cancel(futures.pop(), end)
    finally:
        for future in futures:
            future.cancel()


def _result_or_cancel(future: concurrent.futures.Future[Any], end: float | None) -> Any:
    try:
        return future.result(None if end is None else end - time.monotonic())
    except BaseException:
        future.cancel()
        raise
    finally:
        del future


def _at_exit() -> None:
    """Interpreter exit: refuse new work, finish the pending work, join the loop threads."""
    global _exiting
    _exiting = True
    with _live_lock:
        cores = list(_live)
    for core in cores:
        core.close(True, False)


# Exit hooks run last-registered first: the reaper's (registered when _reaper was imported,
# above) ends every worker still running, so it must run after this one has finished the
# pending work.
atexit.register(_at_exit)
