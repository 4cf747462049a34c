"""``offload.Batcher``: DataLoader-style batching of ``load(key)`` calls into ``load_many``.

Data flow::

    load(k1) ─┐                     one task: load_many([k1, k2])
    load(k2) ─┼─ open batch ──dispatch──> results[i] -> future of keys[i] -> waiters
    load(k1) ─┘  (same tick, or      │           (exception instance -> that key fails)
                  within `delay`)     └─> values stored in the cache (the Store of
                                          offload.cached), errors never

- Keys waiting in an open batch or a running ``load_many`` are in ``_pending``: a second
  ``load`` of such a key joins its future instead of loading it again.
- Every waiter awaits its key's future through a shield, so a cancelled caller (or a
  cancelled ``token=``) only leaves. A batch counts its waiters; when all of them have
  left before it finished, it is cancelled (not yet sent: never sent).
- A result is stored only if its key is still pending on that batch (not cleared
  meanwhile), and only a value, never an exception.
- ``load_many`` raising, or returning the wrong number of results, fails every key of
  that batch; nothing is stored and nothing waits forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any, Generic, Literal, TypeVar, overload

from offload._cancel import CancelToken
from offload._clock import Clock, monotonic
from offload._errors import BatchError

from ._inflight import wait_shared
from ._keys import check_hashable, name_of
from ._methods import check_async
from ._store import MISSING, Store

__all__ = ["Batcher"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

LoadMany = Callable[[list[K]], Awaitable[Sequence[V | BaseException]]]


class _Batch(Generic[K, V]):
    __slots__ = ("dispatched", "finished", "futures", "handle", "loop", "task", "waiters")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.futures: dict[K, asyncio.Future[V]] = {}
        self.handle: asyncio.Handle | None = None
        self.task: asyncio.Task[None] | None = None
        self.waiters = 0
        self.dispatched = False
        self.finished = False


def _retrieve(future: asyncio.Future[Any]) -> None:
    # A key whose callers all left may still fail; that is not worth a loop warning.
    if not future.cancelled():
        future.exception()


class Batcher(Generic[K, V]):
    """Batch ``await batcher.load(key)`` calls into one ``await load_many(keys)`` call.

    Loads made in the same event loop tick (or within ``delay`` seconds of the first
    one) become one call of ``load_many(keys)``, at most ``max_batch`` keys each (``None``:
    no limit). ``load_many`` returns one result per key, in order; an exception instance
    in a slot fails only that key. Duplicate keys are loaded once. With ``cache`` (True:
    up to 1024 entries, an int: that many, False: none; ``ttl`` seconds if given) loaded
    values are kept, least recently used evicted first; exceptions are never kept.

    Errors: a key's own exception instance goes to that key's callers; if ``load_many``
    raises, every caller of that batch gets that exception; if it returns the wrong
    number of results (or not a sequence), every caller gets :class:`offload.BatchError`.
    A cancelled ``token=`` makes that caller leave with :class:`offload.Cancelled`.
    ``TypeError`` for an unhashable key, and at once (here, not at the first ``load``)
    when ``load_many`` is not an async function (or an object with an async
    ``__call__``); ``ValueError`` for bad settings.

    Example::

        async def users_by_id(ids: list[int]) -> list[User | Exception]: ...

        users = offload.Batcher(users_by_id)
        a, b = await asyncio.gather(users.load(1), users.load(2))   # one call: [1, 2]
    """

    def __init__(
        self,
        load_many: LoadMany[K, V],
        *,
        max_batch: int | None = 1000,
        delay: float = 0.0,
        cache: bool | int = True,
        ttl: float | None = None,
        clock: Clock = monotonic,
    ) -> None:
        check_async(load_many, "offload.Batcher", "an async load_many(keys) function")
        if max_batch is not None and (not isinstance(max_batch, int) or max_batch < 1):
            raise ValueError(
                f"Batcher(max_batch=...) must be an int >= 1 or None, got {max_batch!r}"
            )
        if delay < 0:
            raise ValueError(f"Batcher(delay=...) must be >= 0 seconds, got {delay!r}")
        if ttl is not None and not ttl > 0:
            raise ValueError(f"Batcher(ttl=...) must be > 0 or None, got {ttl!r}")
        if cache is True:
            size: int | None = 1024
        elif cache is False:
            size = None
        elif isinstance(cache, int) and cache >= 0:
            size = cache
        else:
            raise ValueError(
                f"Batcher(cache=...) must be True, False or a size >= 0, got {cache!r}"
            )
        self._load_many = load_many
        self._name = name_of(load_many)
        self._max_batch = max_batch
        self._delay = delay
        self._store: Store[V] | None = (
            Store(maxsize=size, ttl=ttl, clock=clock) if size is not None and size > 0 else None
        )
        self._batch: _Batch[K, V] | None = None
        self._pending: dict[K, tuple[_Batch[K, V], asyncio.Future[V]]] = {}

    def __repr__(self) -> str:
        cached = len(self._store) if self._store is not None else 0
        return f"<Batcher {self._name} pending={len(self._pending)} cached={cached}>"

    async def load(self, key: K, *, token: CancelToken | None = None) -> V:
        """Load one key, batched with the other loads of this tick.

        Example::

            user = await users.load(42)
        """
        try:
            if self._store is not None:
                value = self._store.get(key)
                if value is not MISSING:
                    return value
            slot = self._pending.get(key)
        except TypeError:
            check_hashable("Batcher.load()", key)
            raise
        loop = asyncio.get_running_loop()
        if slot is not None and (slot[0].loop is not loop or slot[1].done()):
            # Left over from another (perhaps closed) event loop: never joined.
            del self._pending[key]
            slot = None
        if slot is None:
            if token is not None:
                token.raise_if_cancelled()
            slot = self._enqueue(key, loop)
        batch, future = slot
        batch.waiters += 1
        try:
            return await wait_shared(future, token)
        finally:
            batch.waiters -= 1
            if batch.waiters == 0 and not batch.finished:
                self._abandon(batch)

    @overload
    async def load_all(
        self,
        keys: Iterable[K],
        *,
        token: CancelToken | None = None,
        return_exceptions: Literal[False] = False,
    ) -> list[V]: ...
    @overload
    async def load_all(
        self, keys: Iterable[K], *, token: CancelToken | None = None, return_exceptions: bool
    ) -> list[V | BaseException]: ...
    async def load_all(
        self,
        keys: Iterable[K],
        *,
        token: CancelToken | None = None,
        return_exceptions: bool = False,
    ) -> list[V] | list[V | BaseException]:
        """Load many keys (batched together); results in the order of ``keys``.

        The first failing key's exception is raised, unless ``return_exceptions=True``
        puts exceptions in their slots.

        Example::

            a, b, c = await users.load_all([1, 2, 3])
        """
        loads = [self.load(key, token=token) for key in keys]
        if return_exceptions:
            return list(await asyncio.gather(*loads, return_exceptions=True))
        return list(await asyncio.gather(*loads))

    def prime(self, key: K, value: V) -> None:
        """Cache ``value`` for ``key`` unless a value is there already (no-op without a cache).

        Example::

            users.prime(user.id, user)
        """
        if self._store is not None and self._store.get(key) is MISSING:
            self._store.put(key, value)

    def clear(self, key: K) -> None:
        """Forget ``key``: drop its cached value; a load in flight for it is not stored.

        Example::

            users.clear(42)   # after updating user 42
        """
        if self._store is not None:
            self._store.discard(key)
        self._pending.pop(key, None)

    def clear_all(self) -> None:
        """Forget every cached value and every load in flight (their callers still get results).

        Example::

            users.clear_all()   # after a bulk import
        """
        if self._store is not None:
            self._store.clear()
        self._pending.clear()

    # -- internals --------------------------------------------------------------------

    def _enqueue(
        self, key: K, loop: asyncio.AbstractEventLoop
    ) -> tuple[_Batch[K, V], asyncio.Future[V]]:
        batch = self._batch
        if batch is None or batch.loop is not loop or batch.dispatched:
            batch = _Batch(loop)
            self._batch = batch
            if self._delay > 0:
                batch.handle = loop.call_later(self._delay, self._dispatch, batch)
            else:
                batch.handle = loop.call_soon(self._dispatch, batch)
        future = batch.futures.get(key)
        if future is None:
            future = loop.create_future()
            future.add_done_callback(_retrieve)
            batch.futures[key] = future
        # else: the key was cleared while waiting in this unsent batch; it is loaded
        # after the clear anyway, so the new caller shares that load.
        slot = (batch, future)
        self._pending[key] = slot
        if self._max_batch is not None and len(batch.futures) >= self._max_batch:
            self._dispatch(batch)
        return slot

    def _dispatch(self, batch: _Batch[K, V]) -> None:
        if batch.dispatched or batch.finished:
            return
        batch.dispatched = True
        if batch.handle is not None:
            batch.handle.cancel()
        if self._batch is batch:
            self._batch = None
        batch.task = batch.loop.create_task(self._run(batch))

    def _abandon(self, batch: _Batch[K, V]) -> None:
        """Every caller of ``batch`` left before it finished: cancel it, forget its keys."""
        batch.finished = True
        if self._batch is batch:
            self._batch = None
        self._forget(batch)
        if batch.loop.is_closed():
            return  # callers abandoned on a closed loop: nothing can run there any more
        if batch.handle is not None:
            batch.handle.cancel()
        if batch.task is not None:
            batch.task.cancel()
        for future in batch.futures.values():
            future.cancel()

    def _forget(self, batch: _Batch[K, V]) -> list[K]:
        """Remove ``batch``'s keys from ``_pending``; return those that were still current."""
        current = []
        for key, future in batch.futures.items():
            slot = self._pending.get(key)
            if slot is not None and slot[1] is future:
                del self._pending[key]
                current.append(key)
        return current

    async def _run(self, batch: _Batch[K, V]) -> None:
        keys = list(batch.futures)
        try:
            results = await self._load_many(keys)
        except (asyncio.CancelledError, GeneratorExit):
            self._finish(batch, {}, None)
            raise
        except BaseException as exc:
            self._finish(batch, {}, exc)
            if not isinstance(exc, Exception):
                raise
            return
        error: BaseException | None = None
        if isinstance(results, str | bytes) or not isinstance(results, Sequence):
            error = BatchError(
                f"{self._name} returned {type(results).__name__}, expected a list with one "
                f"result (or exception instance) per key; it was called with {len(keys)} keys"
            )
        elif len(results) != len(keys):
            error = BatchError(
                f"{self._name} returned {len(results)} results for {len(keys)} keys; it must "
                f"return one result (or exception instance) per key, in the order of the keys"
            )
        if error is not None:
            self._finish(batch, {}, error)
            return
        self._finish(batch, dict(zip(keys, results, strict=True)), None)

    def _finish(
        self,
        batch: _Batch[K, V],
        results: dict[K, V | BaseException],
        error: BaseException | None,
    ) -> None:
        batch.finished = True
        current = set(self._forget(batch))
        if batch.loop.is_closed():
            return  # closed with its callers pending: nobody can be woken
        store = self._store
        for key, future in batch.futures.items():
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
                continue
            if key not in results:
                future.cancel()
                continue
            result = results[key]
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
                if store is not None and key in current:
                    store.put(key, result)
