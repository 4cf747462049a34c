"""The storage engine of ``cached`` and ``Batcher``: a bounded LRU map with expiry times.

Layout::

    data: OrderedDict  key -> (value, expires_at, stale_until, ready, hot_until, key)
                       oldest first (LRU order)

- ``ready`` is an already-completed future holding ``value``, made at the entry's
  first hit (None before, so entries never hit cost no future): a cache hit returns
  it, and awaiting a completed future costs less than creating and running a
  coroutine (see :class:`~offload._recipes._ready.Ready`). ``hot_until`` is
  ``expires_at`` once ``ready`` exists, ``-inf`` before: the hit path tests only that
  one number.
- Expiry is a timestamp compared on read; there is no timer per key. One periodic sweep
  per store reclaims expired entries: a single ``call_later`` handle on the loop that
  last stored something, holding the store only weakly, so it keeps neither the store
  nor the loop alive, and a store used from a second ``asyncio.run`` simply re-arms it
  on the new loop.
- ``maxsize`` bounds the entries; the least recently used one is evicted first.
- Reads are recorded, not applied: the generated hit paths of a store with a coarse
  clock append the entry of each hit to ``reads`` (one list append: no LRU move, no
  counter; the entry, not the key, because a key of several arguments is a tuple made
  by the call, which the buffer would otherwise keep alive, one per hit, for the
  garbage collector to walk; an entry carries its key). :meth:`Store.drain` replays
  them in order (the LRU moves, then the hit count in ``read_hits``), and runs before
  anything that changes or reads the order or the count: an insert, an eviction, a
  touch, a removal, a sweep, ``info()``. So the order and the counts anyone can observe
  are exactly those of applying every hit at once. The buffer is bounded: each tick of
  the coarse clock checks its length and, past :data:`READS_LIMIT`, makes the next hit
  take the slow path, which drains.
- Several threads, each running its own event loop, may use one store: every removal
  tolerates a key that another thread removed first, and the sweep works on a
  snapshot. Counters may then miss an increment; nothing raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import operator
import random
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar, cast

from offload._clock import Clock, CoarseClock, monotonic

from ._ready import Ready, ready

__all__ = ["MISSING", "NOT_HOT", "NO_EXPIRY", "READS_LIMIT", "Entry", "Store"]

V = TypeVar("V")

MISSING: Any = object()
"""What :meth:`Store.get` returns for a key without a live value."""
NO_EXPIRY = math.inf
NOT_HOT = -math.inf
READS_LIMIT = 1 << 14
"""Recorded reads past which the coarse clock's next tick has them drained."""

Entry = tuple[V, float, float, Ready[V] | None, float, Hashable]
"""A stored entry: value, expires_at, stale_until, ready (made at its first hit), hot_until,
and its key."""
_KEY_OF = operator.itemgetter(5)


class Store(Generic[V]):
    """A bounded LRU map whose entries expire by timestamp; no timer per key.

    The storage engine under :func:`offload.cached` and :class:`offload.Batcher`.
    """

    __slots__ = (
        "__weakref__",
        "_sweep_gen",
        "_sweep_loop",
        "before_sweep",
        "clock",
        "coarse",
        "data",
        "evictions",
        "jitter",
        "maxsize",
        "read",
        "read_hits",
        "reads",
        "stale",
        "sweep_every",
        "ttl",
    )

    def __init__(
        self,
        *,
        maxsize: int | None,
        ttl: float | None = None,
        stale: float | None = None,
        jitter: float | None = None,
        clock: Clock = monotonic,
        sweep: float | None = None,
        coarse: CoarseClock | None = None,
    ) -> None:
        # ``clock`` is exact: expiry times are computed from it. ``coarse`` (reading the
        # same time) only serves the hit path's cheap comparison.
        self.data: OrderedDict[Hashable, Entry[V]] = OrderedDict()
        self.coarse = coarse
        self.maxsize = maxsize
        self.ttl = ttl
        self.stale = stale or 0.0
        self.jitter = jitter
        self.clock = clock
        self.evictions = 0
        # Entries of the hits the hit paths recorded, not yet applied (see drain).
        self.reads: list[Entry[V]] = []
        self.read = self.reads.append
        self.read_hits = 0
        if coarse is not None:
            coarse.watch(self)  # its ticks keep the read buffer bounded
        if sweep is None and ttl is not None:
            # Entries are dead at most ttl + stale + jitter after they were stored, so
            # sweeping that often bounds the memory held by expired entries.
            sweep = max(1.0, ttl + self.stale + (jitter or 0.0))
        self.sweep_every = sweep
        self.before_sweep: Callable[[], None] | None = None
        self._sweep_gen = 0
        self._sweep_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None

    def __len__(self) -> int:
        return len(self.data)

    def over_limit(self) -> bool:
        """The read buffer is long: drain it soon (the coarse clock asks, from its thread)."""
        return len(self.reads) > READS_LIMIT

    def drain(self) -> None:
        """Apply the recorded reads in order: LRU moves (bounded stores), then the count."""
        reads = self.reads
        if not reads:
            return
        count = len(reads)
        batch = reads[:count]
        del reads[:count]  # appends made meanwhile (other threads) stay for the next drain
        self.read_hits += count
        if self.maxsize is None:
            return
        # Only each key's last read decides its place: move those, oldest first. (An
        # entry replaced since, by ready_of, has the same key: it moves the same.)
        last = list(dict.fromkeys(reversed(list(map(_KEY_OF, batch)))))
        last.reverse()
        move = self.data.move_to_end
        for key in last:
            with contextlib.suppress(KeyError):  # removed since (or by another thread)
                move(key)

    def get(self, key: Hashable) -> V:
        """The live value for ``key`` (refreshing its LRU position), else ``MISSING``."""
        entry = self.data.get(key)
        if entry is None:
            return cast(V, MISSING)
        now = self.clock()
        if entry[1] > now:
            if not self.touch(key):
                return cast(V, MISSING)
            return entry[0]
        if entry[2] <= now:
            self.remove(key, entry)
        return cast(V, MISSING)

    def touch(self, key: Hashable) -> bool:
        """Mark ``key`` most recently used; False if it is gone (another thread removed it)."""
        if self.reads:
            self.drain()
        try:
            self.data.move_to_end(key)
        except KeyError:
            return False
        return True

    def remove(self, key: Hashable, entry: Entry[V]) -> None:
        """Remove ``key`` if it still holds ``entry`` (not replaced or removed meanwhile)."""
        data = self.data
        if data.get(key) is entry:
            with contextlib.suppress(KeyError):
                del data[key]

    def put(self, key: Hashable, value: V) -> None:
        """Store ``value``; its TTL counts from now. Evicts the least recently used."""
        if self.maxsize == 0:
            return
        if self.reads:
            self.drain()  # reads before this insert come before it in the LRU order
        if self.ttl is None:
            expires = stale_until = NO_EXPIRY
        else:
            expires = self.clock() + self.ttl
            if self.jitter:
                expires += random.uniform(0.0, self.jitter)
            stale_until = expires + self.stale
        data = self.data
        data[key] = (value, expires, stale_until, None, NOT_HOT, key)
        self.touch(key)
        if self.maxsize is not None:
            while len(data) > self.maxsize:
                try:
                    data.popitem(last=False)
                except KeyError:  # emptied by another thread meanwhile
                    break
                self.evictions += 1
        self._arm_sweep()

    def discard(self, key: Hashable) -> bool:
        """Remove ``key``; True if it was there."""
        if self.reads:
            self.drain()
        return self.data.pop(key, MISSING) is not MISSING

    def clear(self) -> None:
        self.drain()  # the hits recorded still count
        self.data.clear()

    def ready_of(self, key: Hashable, entry: Entry[V]) -> Ready[V]:
        """The completed future of ``entry`` (stored under ``key``), made on first use."""
        done = entry[3]
        if done is None:
            done = ready(entry[0])
            data = self.data
            if data.get(key) is entry:
                # Replacing the value of a present key keeps its place in the LRU order.
                data[key] = (entry[0], entry[1], entry[2], done, entry[1], entry[5])
        return done

    def exact_now(self) -> float:
        """The exact time; through the coarse clock, if any, so it keeps ticking."""
        coarse = self.coarse
        return self.clock() if coarse is None else coarse.read()

    def sweep(self) -> int:
        """Remove every entry past its stale window; return how many were removed."""
        if self.before_sweep is not None:
            self.before_sweep()
        self.drain()
        now = self.clock()
        # A snapshot (taken in one step) so another thread's loop may store meanwhile.
        dead = [(key, entry) for key, entry in list(self.data.items()) if entry[2] <= now]
        for key, entry in dead:
            self.remove(key, entry)
        return len(dead)

    def _arm_sweep(self) -> None:
        if self.sweep_every is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._sweep_loop is not None and self._sweep_loop() is loop:
            return  # armed on this loop already
        # Neither the handle nor the loop is kept: a loop that closes drops its timer,
        # and the generation makes a superseded timer do nothing if it still fires.
        self._sweep_gen += 1
        loop.call_later(self.sweep_every, _sweep_tick, weakref.ref(self), self._sweep_gen)
        self._sweep_loop = weakref.ref(loop)


def _sweep_tick(ref: weakref.ref[Store[Any]], generation: int) -> None:
    store = ref()
    if store is None or store._sweep_gen != generation:
        return
    store._sweep_loop = None
    try:
        store.sweep()
    finally:
        if store.data:
            store._arm_sweep()
