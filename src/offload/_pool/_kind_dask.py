"""The Dask kind, caller side: ``Pool(kind="dask")`` on a Dask distributed cluster.

The pool's scheduler stays the scheduler. Each pool worker is a *slot*: one thread of one
Dask worker. A slot pins its tasks to its Dask worker (``workers=[address]``, no
stealing), so the pool always knows where a task runs, and the scheduler's rules carry
over unchanged:
the head of a slot's in-flight queue is the running task, a timeout or an expired
``cancel_grace`` restarts exactly that Dask worker (through its nanny), and a Dask worker
that leaves the cluster ends its slots, which fails their running tasks with
``WorkerCrashed`` and sends the rest back to the queue.

Messages from workers travel on Dask's event topics: ``offload.report()`` values on the
pool's own topic, cluster membership on the scheduler's ``all`` topic. A cancel reaches
a running task through ``Client.run(mark_cancelled, key)`` on its worker, which
``offload.current_token()`` there reads. Nothing is added per task beyond Dask's own
submit and gather.

With no address the backend starts a ``LocalCluster`` of worker processes (one thread
each, ``max_workers`` of them) in a background thread, so the scheduler never runs on the
caller's event loop, and closes it with the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import threading
import uuid
from collections import OrderedDict, deque
from typing import Any

from offload._errors import WorkerCrashed, WorkerError
from offload._serialize import dumps, dumps_function, loads
from offload._shm import SharedBuffer, SharedCounter, SharedLock, untransfer

from ._backend import Backend, BackendOptions, Worker
from ._events import WorkerEnd, WorkerEvents
from ._kind_dask_child import Scattered, mark_cancelled, run_task, stop_worker
from ._task import Task
from ._task_errors import load_error

__all__ = ["DaskBackend", "DaskSlot", "check_options"]

_log = logging.getLogger("offload.pool")
_EXTRA_HINT = "install it with: pip install 'offload[dask]'"
#: bytes-like and array arguments at least this big are scattered once and reused
SCATTER_ABOVE = 1 << 20
_SCATTER_CACHE = 16
_FUNCTION_CACHE = 64
_HOLD_FUTURES = 0.5  # seconds a finished future is kept for the next submission
_POLL_WORKERS = 0.2  # seconds between looks for a joining worker while slots wait
_CLOSE_TIMEOUT = 10.0
_uids = itertools.count(1)


def check_options(address: object, initializer: object, context: object) -> None:
    """Fail at construction for what the Dask kind cannot do (and without Dask)."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            f"Pool(kind='dask') needs Dask distributed, which is not installed; {_EXTRA_HINT}"
        ) from exc
    if address is not None and not isinstance(address, str | distributed.Client):
        raise ValueError(
            "address must be None (start a local cluster), a scheduler address such as "
            f"'tcp://host:8786', or a distributed.Client; got {type(address).__qualname__}"
        )
    if initializer is not None:
        raise ValueError(
            "Pool(kind='dask') does not take initializer=; register a "
            "distributed.WorkerPlugin on the cluster to prepare its workers"
        )
    if context:
        raise ValueError("Pool(kind='dask') does not take context=; pass the values as arguments")


def _size_of(arg: object) -> int:
    if isinstance(arg, bytes | bytearray):
        return len(arg)
    if isinstance(arg, memoryview):
        return arg.nbytes
    nbytes = getattr(arg, "nbytes", None)
    return nbytes if isinstance(nbytes, int) and not isinstance(arg, type) else 0


def _check_arg(arg: object, fn_name: str) -> None:
    if isinstance(arg, SharedBuffer | SharedLock | SharedCounter):
        raise TypeError(
            f"{fn_name}(): {type(arg).__name__} arguments cannot cross machines, so "
            "Pool(kind='dask') does not take them; pass a numpy array or bytes instead "
            "(big ones are scattered to the workers once and reused)"
        )
    if isinstance(arg, list | tuple | set | frozenset):
        for item in arg:
            if isinstance(item, SharedBuffer | SharedLock | SharedCounter):
                _check_arg(item, fn_name)
    elif isinstance(arg, dict):
        for item in arg.values():
            if isinstance(item, SharedBuffer | SharedLock | SharedCounter):
                _check_arg(item, fn_name)


async def _in_thread(fn: Any, *args: Any) -> Any:
    """Run blocking ``fn(*args)`` in a thread of its own that ends with it (no pool left)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if done.done():
            return
        if ok:
            done.set_result(value)
        else:
            done.set_exception(value)

    def main() -> None:
        try:
            result, ok = fn(*args), True
        except BaseException as exc:
            result, ok = exc, False
        with contextlib.suppress(RuntimeError):  # the loop is closed
            loop.call_soon_threadsafe(settle, ok, result)

    thread = threading.Thread(target=main, name="offload-dask-cluster")
    thread.start()
    try:
        return await asyncio.shield(done)
    finally:
        while thread.is_alive():
            await asyncio.sleep(0.01)


def _start_local_cluster(n_workers: int, memory_limit: int | None) -> Any:
    import distributed

    cluster: Any = distributed.LocalCluster
    return cluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        memory_limit=memory_limit if memory_limit is not None else "auto",
    )


async def _finished(future: Any) -> None:
    """Wait until the scheduler reports ``future`` done (finished, erred or cancelled).

    Dask's own ``as_completed`` and ``wait`` wait on this state; awaiting the future
    itself would also fetch its result, one request per task.
    """
    await future._state.wait()


class DaskSlot(Worker):
    """One thread of one Dask worker, as the scheduler sees it."""

    def __init__(self, backend: DaskBackend, worker_id: int) -> None:
        super().__init__(worker_id)
        self.backend = backend
        self.events = backend.events
        self.sent: deque[Task] = deque()  # in the order sent; the head is running
        self.ended = False  # its exit was reported
        self.address: str | None = None
        self.futures: dict[int, Any] = {}  # seq -> distributed.Future
        self.keys: dict[int, str] = {}
        self.outcomes: dict[int, tuple[bool, Any, float]] = {}  # finished out of order
        self.pending: deque[Task] = deque()  # waiting for their big arguments to scatter
        self.scattering = False
        self.exiting = False

    def __repr__(self) -> str:
        return f"<DaskSlot {self.id} {self.address}>"

    # -- sending -------------------------------------------------------------------

    def ready(self) -> None:
        if not self.ended:
            self.events.on_ready(self)

    def send(self, tasks: list[Task]) -> None:
        self.sent.extend(tasks)
        ready: list[Task] = []
        for task in tasks:
            if self.pending or self.backend.big_args(task):
                self.pending.append(task)
            else:
                ready.append(task)
        if ready:
            self._submit_many(ready)
        if self.pending and not self.scattering:
            self.scattering = True
            self.backend.spawn(self._scatter_then_submit())

    async def _scatter_then_submit(self) -> None:
        try:
            while self.pending and not self.ended:
                task = self.pending[0]
                try:
                    scattered = await self.backend.scatter(self.backend.big_args(task))
                except Exception as exc:
                    self.pending.popleft()
                    self._deliver(task.seq, False, exc, 0.0)
                    continue
                if self.pending and self.pending[0] is task:
                    self.pending.popleft()
                    if not self.ended:
                        self._submit(task, scattered)
        finally:
            self.scattering = False

    def _submit(self, task: Task, scattered: tuple[Any, ...]) -> None:
        self._submit_many([task], scattered)

    def _submit_many(self, tasks: list[Task], scattered: tuple[Any, ...] = ()) -> None:
        """Submit ``tasks`` to this slot's Dask worker in one message to the scheduler."""
        backend = self.backend
        client = backend.client
        if client is None or self.address is None:
            for task in tasks:
                self._deliver(task.seq, False, WorkerError("the Dask client is closed"), 0.0)
            return
        backend.release_held()  # their releases go out with this submission
        keys = [f"offload-{t.fn_name}-{backend.uid}-{next(backend.counter)}" for t in tasks]
        topics = [backend.topic if t.progress is not None else "" for t in tasks]
        options = {"workers": [self.address], "allow_other_workers": False, "pure": False}
        try:
            if len(tasks) == 1:
                futures = [
                    client.submit(
                        run_task,
                        keys[0],
                        topics[0],
                        tasks[0].payload,
                        *scattered,
                        key=keys[0],
                        **options,
                    )
                ]
            else:
                payloads = [t.payload for t in tasks]
                futures = client.map(run_task, keys, topics, payloads, key=keys, **options)
        except Exception as exc:  # the client is closing or lost its scheduler
            for task in tasks:
                self._deliver(task.seq, False, WorkerError(f"could not submit to Dask: {exc}"), 0.0)
            return
        for task, key, future in zip(tasks, keys, futures, strict=True):
            self.futures[task.seq] = future
            self.keys[task.seq] = key
            backend.by_key[key] = (self, task.seq)
            backend.spawn(self._watch(task.seq, key, future))

    # -- receiving -----------------------------------------------------------------

    async def _watch(self, seq: int, key: str, future: Any) -> None:
        try:
            # Wait for the scheduler's word that it finished (no data moves yet), then
            # fetch the result together with others that finished meanwhile.
            await _finished(future)
            if future.status == "finished":
                ok, body, run_time, reports = await self.backend.fetch(future)
            else:
                await future  # raises the task's error, or CancelledError
                return
        except asyncio.CancelledError:
            if not future.cancelled():
                raise  # this watcher was cancelled (the pool is closing)
            self._on_cancelled(seq, key)
            return
        except Exception as exc:
            if future.cancelled():
                self._on_cancelled(seq, key)
            else:
                self._deliver(seq, False, self.backend.translate(exc, key, self), 0.0)
            return
        if reports:
            await self.backend.reports_arrived(key, reports)
        if ok:
            try:
                value = loads(body)
            except Exception as exc:
                self._deliver(seq, False, exc, run_time)
                return
            self._deliver(seq, True, value, run_time)
        else:
            self._deliver(seq, False, load_error(body)[0], run_time)

    def _on_cancelled(self, seq: int, key: str) -> None:
        if key in self.backend.cancelled_keys:
            self._deliver(seq, False, None, 0.0)  # we cancelled it: skipped
        else:
            self._deliver(
                seq,
                False,
                WorkerError(
                    "the Dask scheduler cancelled the task (the client lost its "
                    "connection, or someone cancelled its key)"
                ),
                0.0,
            )

    def _deliver(self, seq: int, ok: bool, value: Any, run_time: float) -> None:
        """Report outcomes in the order the tasks were sent."""
        self.outcomes[seq] = (ok, value, run_time)
        while self.sent and self.sent[0].seq in self.outcomes:
            head = self.sent.popleft().seq
            ok, value, run_time = self.outcomes.pop(head)
            self._forget(head)
            self.events.on_done(self, head, ok, value, run_time)
        if self.ended:
            self.outcomes.clear()

    def _forget(self, seq: int) -> None:
        future = self.futures.pop(seq, None)
        if future is not None:
            self.backend.hold(future)
        key = self.keys.pop(seq, None)
        if key is not None:
            self.backend.by_key.pop(key, None)
            self.backend.cancelled_keys.discard(key)
            self.backend.reports_seen.pop(key, None)

    # -- control -------------------------------------------------------------------

    def request_cancel(self, task: Task) -> None:
        key = self.keys.get(task.seq)
        if key is None:  # not submitted yet (its arguments are being scattered)
            with contextlib.suppress(ValueError):
                self.pending.remove(task)
                self._deliver(task.seq, False, None, 0.0)
            return
        if self.sent and self.sent[0] is task and self.address is not None:
            self.backend.mark_cancelled(self.address, key)  # running: ask it to stop
        else:
            self.backend.cancel_futures([key], [self.futures[task.seq]])

    def kill_if_running(self, task: Task) -> bool:
        if self.address is None or not self.sent or self.sent[0] is not task:
            return False
        future = self.futures.get(task.seq)
        if future is None or task.seq in self.outcomes or future.done():
            return False  # not submitted, or already ended (skipped, finished, failed)
        self.backend.restart(self.address)
        return True

    def retire(self) -> None:
        if not self.sent and not self.exiting:
            self.exiting = True
            self.backend.loop.call_soon(self._exit)

    def kill(self) -> None:
        if self.ended or self.exiting:
            return
        if self.sent and self.address is not None and self.sent[0].seq in self.futures:
            self.backend.restart(self.address)  # stops the running task; ends this slot
        else:
            self.exiting = True
            self.backend.loop.call_soon(self._exit)

    def _exit(self, error: BaseException | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        backend = self.backend
        backend.unbind(self)
        keys = list(self.keys.values())
        futures = list(self.futures.values())
        backend.cancel_futures(keys, futures)
        for seq in list(self.futures):
            self._forget(seq)
        self.pending.clear()
        self.outcomes.clear()
        self.sent.clear()
        self.events.on_exited(self, WorkerEnd(start_error=error))


class DaskBackend(Backend):
    """Slots on the threads of a Dask cluster's workers, over one asynchronous client."""

    max_depth = 64
    can_kill = True

    takes_address = True

    @classmethod
    def check_options(cls, options: BackendOptions) -> None:
        check_options(options.address, options.initializer, options.context)

    def __init__(
        self, events: WorkerEvents, loop: asyncio.AbstractEventLoop, options: BackendOptions
    ) -> None:
        super().__init__(events, loop, options)
        self.address = options.address
        self.max_memory = options.max_memory
        self.size = options.max_workers  # what the scheduler was last told it can run
        self.uid = f"{os.getpid()}-{next(_uids)}-{uuid.uuid4().hex[:8]}"
        self.topic = f"offload-{self.uid}"
        self.counter = itertools.count(1)
        self.client: Any = None
        self.cluster: Any = None
        self.connected = False
        self.error: BaseException | None = None
        self.closing = False
        self.slots: dict[int, DaskSlot] = {}
        self.waiting: deque[DaskSlot] = deque()
        self.threads: dict[str, int] = {}  # Dask worker address -> threads
        self.pids: dict[str, int | None] = {}
        self.bound: dict[str, list[DaskSlot]] = {}
        self.dead: set[str] = set()  # being restarted, or gone
        self.by_key: dict[str, tuple[DaskSlot, int]] = {}
        self.cancelled_keys: set[str] = set()
        self.reports_seen: dict[str, int] = {}
        self.report_waiters: dict[str, asyncio.Future[None]] = {}
        self.scattered: OrderedDict[int, tuple[object, Any]] = OrderedDict()
        self.functions: OrderedDict[int, tuple[object, bytes]] = OrderedDict()
        self.to_fetch: list[tuple[Any, asyncio.Future[Any]]] = []
        self.held: list[Any] = []  # finished futures, released with the next submission
        self.release_timer: asyncio.TimerHandle | None = None
        self.fetcher: asyncio.Task[None] | None = None
        self.background: set[asyncio.Task[Any]] = set()
        self.restarts: set[asyncio.Task[Any]] = set()
        self.polling: asyncio.Task[None] | None = None
        self.subscribed: set[str] = set()  # worker topics
        self.connecting = self.spawn(self._connect())

    # -- connecting and membership -------------------------------------------------

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = self.loop.create_task(coro)
        self.background.add(task)
        task.add_done_callback(self._background_done)
        return task

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("offload dask backend: %s", task.exception(), exc_info=task.exception())

    async def _connect(self) -> None:
        import distributed

        client_cls: Any = distributed.Client
        try:
            address = self.address
            if address is None:
                self.cluster = await _in_thread(
                    _start_local_cluster, self.options.max_workers, self.max_memory
                )
                address = self.cluster.scheduler_address
            elif isinstance(address, client_cls):
                address = address.scheduler.address
            self.client = await client_cls(address, asynchronous=True, set_as_default=False)
            if self.closing:
                return
            self.client.subscribe_topic(self.topic, self._on_report)
            await self._refresh()
            self.connected = True
            self._size_from_cluster()
            self._bind()
        except Exception as exc:
            self.error = exc
            _log.error("offload dask pool: could not reach the cluster: %s", exc)
            while self.waiting:
                self.waiting.popleft()._exit(exc)

    def _size_from_cluster(self, grow_only: bool = False) -> None:
        """Pool(kind="dask", address=...) without max_workers: use every worker thread."""
        if not self.options.size_from_backend or self.address is None:
            return
        total = max(1, sum(self.threads.values()))
        if total > self.size or not grow_only:
            self.size = total
            self.events.on_resize(total)

    def _on_worker_event(self, address: str, event: tuple[float, Any]) -> None:
        """An event on a worker's own topic: its removal ends its slots at once."""
        _, msg = event
        if isinstance(msg, dict) and msg.get("action") == "remove-worker":
            self._lose(address)

    def _look_for_workers(self) -> None:
        """Slots wait for a free worker thread: poll the scheduler until one joins.

        (Additions are announced only on the scheduler's "all" topic, which also
        carries an event for every gather: polling while slots wait costs less.)
        """
        if self.polling is None or self.polling.done():
            self.polling = self.spawn(self._poll_for_workers())

    async def _poll_for_workers(self) -> None:
        while self.waiting and not self.closing and self.client is not None:
            await asyncio.sleep(_POLL_WORKERS)
            try:
                await self._refresh()
            except Exception as exc:  # the scheduler is unreachable for now: try again
                _log.debug("offload dask pool: asking the scheduler for workers: %s", exc)
                continue
            self._bind()

    async def _refresh(self) -> None:
        client = self.client
        if client is None or self.closing:
            return
        info = await client.scheduler.identity(n_workers=-1)
        workers = info.get("workers", {})
        new = [a for a in workers if a not in self.threads]
        for address in new:
            if address not in self.subscribed:
                self.subscribed.add(address)
                client.subscribe_topic(address, functools.partial(self._on_worker_event, address))
        for address, worker in workers.items():
            self.threads[address] = max(1, int(worker.get("nthreads") or 1))
        for address in list(self.threads):
            if address not in workers:
                self._lose(address)
        if new:
            if self.connected:
                self._size_from_cluster(grow_only=True)
            try:
                pids = await client.run(os.getpid, workers=new, on_error="return")
            except Exception:
                pids = {}
            for address in new:
                pid = pids.get(address)
                self.pids[address] = pid if isinstance(pid, int) else None

    def _lose(self, address: str) -> None:
        """A Dask worker left the cluster: its slots end (running tasks crash)."""
        if address in self.subscribed and self.client is not None:
            self.subscribed.discard(address)
            with contextlib.suppress(Exception):
                self.client.unsubscribe_topic(address)
        self.threads.pop(address, None)
        self.pids.pop(address, None)
        self.dead.discard(address)
        for slot in list(self.bound.pop(address, [])):
            slot._exit()
        self._bind()

    def _bind(self) -> None:
        if not self.connected or self.closing:
            return
        while self.waiting:
            address = next(
                (
                    a
                    for a, n in self.threads.items()
                    if a not in self.dead and len(self.bound.get(a, ())) < n
                ),
                None,
            )
            if address is None:
                self._look_for_workers()
                return
            slot = self.waiting.popleft()
            if slot.ended:
                continue
            slot.address = address
            slot.pid = self.pids.get(address)
            self.bound.setdefault(address, []).append(slot)
            self.loop.call_soon(slot.ready)

    def unbind(self, slot: DaskSlot) -> None:
        self.slots.pop(slot.id, None)
        with contextlib.suppress(ValueError):
            self.waiting.remove(slot)
        if slot.address is not None:
            with contextlib.suppress(ValueError, KeyError):
                self.bound[slot.address].remove(slot)

    # -- what slots ask for --------------------------------------------------------

    def new_worker(self, worker_id: int) -> DaskSlot:
        slot = DaskSlot(self, worker_id)
        self.slots[worker_id] = slot
        if self.error is not None:
            self.loop.call_soon(slot._exit, self.error)
        else:
            self.waiting.append(slot)
            self._bind()
        return slot

    def prepare(self, task: Task) -> None:
        args = untransfer(task.args)
        for arg in args:
            _check_arg(arg, task.fn_name)
        index = itertools.count()
        shipped = tuple(Scattered(next(index)) if _size_of(a) >= SCATTER_ABOVE else a for a in args)
        task.args = args
        task.payload = self.function_bytes(task.fn) + dumps(shipped, what="argument")

    def function_bytes(self, fn: Any) -> bytes:
        """The pickled function (by value for lambdas, closures and ``__main__``), cached."""
        cached = self.functions.get(id(fn))
        if cached is not None and cached[0] is fn:
            return cached[1]
        data = dumps_function(fn)
        self.functions[id(fn)] = (fn, data)
        while len(self.functions) > _FUNCTION_CACHE:
            self.functions.popitem(last=False)
        return data

    def big_args(self, task: Task) -> list[object]:
        return [a for a in task.args if _size_of(a) >= SCATTER_ABOVE]

    async def scatter(self, args: list[object]) -> tuple[Any, ...]:
        """Dask futures of ``args``, scattering each object once (then reused)."""
        client = self.client
        assert client is not None
        out = []
        for arg in args:
            cached = self.scattered.get(id(arg))
            if cached is not None and cached[0] is arg:
                self.scattered.move_to_end(id(arg))
                out.append(cached[1])
                continue
            future = await client.scatter(arg, hash=True)
            self.scattered[id(arg)] = (arg, future)
            while len(self.scattered) > _SCATTER_CACHE:
                self.scattered.popitem(last=False)
            out.append(future)
        return tuple(out)

    def hold(self, future: Any) -> None:
        """Keep a finished future until the next submission (or a moment).

        Dropping a Dask future sends a release to the scheduler; the client's message
        stream then waits 10 ms before it sends anything else, so the next task of a
        caller that awaits one after another would wait too. Released just before the
        next submission, both leave in the same message.
        """
        self.held.append(future)
        if self.release_timer is None:
            self.release_timer = self.loop.call_later(_HOLD_FUTURES, self.release_held)

    def release_held(self) -> None:
        self.held.clear()
        if self.release_timer is not None:
            self.release_timer.cancel()
            self.release_timer = None

    async def fetch(self, future: Any) -> Any:
        """The result of a finished ``future``, gathered in batches with other results."""
        waiter: asyncio.Future[Any] = self.loop.create_future()
        self.to_fetch.append((future, waiter))
        if self.fetcher is None or self.fetcher.done():
            self.fetcher = self.spawn(self._fetch_batches())
        return await waiter

    async def _fetch_batches(self) -> None:
        while self.to_fetch:
            batch, self.to_fetch = self.to_fetch, []
            client = self.client
            try:
                if client is None:
                    raise WorkerError("the Dask client is closed")
                results = await client.gather([f for f, _ in batch])
            except Exception:
                if client is None or len(batch) == 1:
                    results = None
                else:  # one of them failed (a lost worker): fetch one by one
                    for pair in batch:
                        self.to_fetch.append(pair)
                    batch = []
                    await self._fetch_each()
                    continue
            for i, (future, waiter) in enumerate(batch):
                if waiter.done():
                    continue
                if results is not None:
                    waiter.set_result(results[i])
                else:
                    self._fetch_failed(future, waiter)

    async def _fetch_each(self) -> None:
        batch, self.to_fetch = self.to_fetch, []
        for future, waiter in batch:
            try:
                result = await future
            except BaseException as exc:
                if not waiter.done():
                    waiter.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError) and not future.cancelled():
                    raise
                continue
            if not waiter.done():
                waiter.set_result(result)

    def _fetch_failed(self, future: Any, waiter: asyncio.Future[Any]) -> None:
        self.to_fetch.append((future, waiter))
        self.spawn(self._fetch_each())

    def mark_cancelled(self, address: str, key: str) -> None:
        client = self.client
        if client is None or client.status != "running":
            return

        async def send() -> None:
            with contextlib.suppress(Exception):
                await client.run(mark_cancelled, key, workers=[address], on_error="ignore")

        self.spawn(send())

    def cancel_futures(self, keys: list[str], futures: list[Any]) -> None:
        client = self.client
        if not futures or client is None or client.status != "running":
            return
        self.cancelled_keys.update(keys)

        async def cancel() -> None:
            with contextlib.suppress(Exception):
                await client.cancel(futures)

        self.spawn(cancel())

    def restart(self, address: str) -> None:
        """Stop what runs on ``address``: end that Dask worker's process at once.

        Its nanny starts a fresh one, which joins as a new worker; without a nanny the
        worker is simply gone. Slots on it end now (their tasks are cancelled in Dask).
        """
        if address in self.dead:
            return
        self.dead.add(address)
        for slot in list(self.bound.get(address, [])):
            slot.exiting = True
            self.loop.call_soon(slot._exit)
        client = self.client
        if client is None or client.status != "running":
            return

        async def restart() -> None:
            from distributed.comm.core import CommClosedError

            try:
                answers = await client.run(stop_worker, workers=[address], on_error="return")
            except Exception as exc:  # the connection to the worker broke: it is gone
                _log.debug("offload dask pool: stopping %s: %s", address, exc)
                return
            answer = answers.get(address) if isinstance(answers, dict) else None
            if isinstance(answer, Exception) and not isinstance(answer, CommClosedError | OSError):
                _log.warning(
                    "offload dask pool: could not end Dask worker %s to stop a cancelled "
                    "task (%s: %s); the task runs on until it returns",
                    address,
                    type(answer).__name__,
                    answer,
                )
                self.dead.discard(address)
                self._bind()

        task = self.spawn(restart())
        self.restarts.add(task)
        task.add_done_callback(self.restarts.discard)

    def translate(self, exc: BaseException, key: str, slot: DaskSlot) -> BaseException:
        """Dask's errors at the boundary: a lost worker is offload.WorkerCrashed."""
        from distributed.comm.core import CommClosedError
        from distributed.scheduler import KilledWorker

        if isinstance(exc, KilledWorker | CommClosedError):
            task = slot.sent[0] if slot.sent else None
            crashed = WorkerCrashed(
                f"Dask worker {slot.address} died while running "
                f"{task.fn_name if task else key}() ({type(exc).__name__}: {exc})",
                pid=slot.pid,
                function=task.fn_name if task else None,
            )
            crashed.__cause__ = exc
            return crashed
        return exc

    # -- progress ------------------------------------------------------------------

    def _on_report(self, event: tuple[float, Any]) -> None:
        _, msg = event
        key = msg.get("key") if isinstance(msg, dict) else None
        if not isinstance(key, str):
            return
        target = self.by_key.get(key)
        if target is None:  # its task has ended (or was never ours)
            return
        self.reports_seen[key] = self.reports_seen.get(key, 0) + 1
        slot, seq = target
        try:
            value = loads(msg["value"])
        except Exception as exc:
            value = exc
        self.events.on_report(slot, seq, value)
        waiter = self.report_waiters.get(key)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def reports_arrived(self, key: str, count: int, limit: float = 5.0) -> None:
        """Wait (bounded) until the task's ``count`` progress values were delivered."""
        deadline = self.loop.time() + limit
        try:
            while self.reports_seen.get(key, 0) < count and self.loop.time() < deadline:
                waiter = self.loop.create_future()
                self.report_waiters[key] = waiter
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter, deadline - self.loop.time())
        finally:
            self.report_waiters.pop(key, None)
            self.reports_seen.pop(key, None)

    # -- closing -------------------------------------------------------------------

    async def aclose(self) -> None:
        self.closing = True
        for slot in list(self.slots.values()):
            if not slot.ended and not slot.sent:
                slot._exit()
        if not self.connecting.done():
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(self.connecting), _CLOSE_TIMEOUT)
        client, self.client = self.client, None
        self.scattered.clear()
        self.release_held()
        if client is not None:
            restarts = [t for t in self.restarts if not t.done()]
            if restarts:  # let kills of cancelled tasks finish before leaving
                await asyncio.wait(restarts, timeout=_CLOSE_TIMEOUT)
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(self.topic)
                for address in self.subscribed:
                    client.unsubscribe_topic(address)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), _CLOSE_TIMEOUT)
        for task in list(self.background):
            task.cancel()
        if self.background:
            await asyncio.wait(list(self.background), timeout=_CLOSE_TIMEOUT)
        cluster, self.cluster = self.cluster, None
        if cluster is not None:
            await _in_thread(cluster.close, _CLOSE_TIMEOUT)
