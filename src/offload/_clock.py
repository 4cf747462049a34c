"""The clock the recipes read expiry times from, and a manual clock for tests.

Expiry is decided by comparing ``clock()`` with timestamps stored next to each entry,
never by per-key timers, so a test can move time with :class:`ManualClock` instead of
sleeping. :class:`CoarseClock` makes that comparison cheap on a hot path: it compares
with a reading a background thread refreshes every few milliseconds, instead of
reading the clock each time.
"""

from __future__ import annotations

import math
import os
import threading
import time
import types
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["Clock", "CoarseClock", "ManualClock", "coarse_monotonic", "monotonic"]

Clock = Callable[[], float]

monotonic: Clock = time.monotonic


class ManualClock:
    """A clock that only moves when told to: ``clock.advance(5)``.

    Example::

        clock = ManualClock()
        get = offload.cached(ttl=10, clock=clock)(fetch)
        clock.advance(11)   # every entry is now expired
    """

    __slots__ = ("now",)

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (must not be negative)."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward; got {seconds!r}")
        self.now += seconds


_NOT_TICKING = math.inf


class CoarseClock:
    """A clock read from a variable that a background thread refreshes while in use.

    ``now`` is the latest reading of ``base``, taken at most ``resolution`` seconds ago
    (plus however long the thread waits for the interpreter lock) while the clock is
    ticking, and ``inf`` while it is not: whoever compares a deadline with ``now``
    then finds it passed and takes its slow path, which calls :meth:`read`. ``read``
    returns the exact time, publishes it and starts the thread if needed. The thread
    stops after ``idle`` seconds without a ``read``; to notice that, it sets ``now`` to
    ``inf`` once per ``idle`` period, so a clock in steady use costs one ``read`` per
    ``idle`` seconds and one wake-up per ``resolution``.

    The thread belongs to no event loop, so stopping, restarting, closing or blocking
    a loop never leaves ``now`` frozen (a loop timer would: it does not fire while its
    loop is stopped). With ``thread=False`` nothing ticks by itself: :meth:`tick`
    stands for one tick (tests drive it by hand together with a :class:`ManualClock`).

    Example::

        clock = CoarseClock(resolution=0.01)
        if deadline > clock.now:  # cheap; may be up to one tick behind
            ...
        else:
            exact = clock.read()  # exact, and keeps the clock ticking
    """

    __slots__ = (
        "__weakref__",
        "_demand",
        "_lock",
        "_thread",
        "_watched",
        "base",
        "cell",
        "idle",
        "resolution",
        "threaded",
    )

    def __init__(
        self,
        base: Clock = monotonic,
        resolution: float = 0.01,
        *,
        idle: float = 1.0,
        thread: bool = True,
    ) -> None:
        if not resolution > 0:
            raise ValueError(f"a coarse clock needs a resolution > 0, got {resolution!r}")
        self.base = base
        self.resolution = resolution
        self.idle = max(idle, resolution)
        self.threaded = thread
        # The reading lives in a cell so that a generated hit path can have this very
        # cell as a free variable: reading it is then a single instruction.
        self.cell = types.CellType(_NOT_TICKING)
        self._demand = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # Readers with a bounded buffer of work for their slow path (cache stores): a
        # tick that finds one over its limit makes the next comparison fail.
        self._watched: weakref.WeakSet[Any] = weakref.WeakSet()
        _clocks.add(self)

    def __repr__(self) -> str:
        state = "ticking" if self.now != _NOT_TICKING else "idle"
        return f"<CoarseClock resolution={self.resolution} {state}>"

    @property
    def now(self) -> float:
        """The latest reading (``inf`` while not ticking)."""
        value: float = self.cell.cell_contents
        return value

    @now.setter
    def now(self, value: float) -> None:
        self.cell.cell_contents = value

    def __call__(self) -> float:
        """The exact time (a coarse clock is also a plain clock): :meth:`read`."""
        return self.read()

    def read(self) -> float:
        """The exact time from ``base``; also published as ``now`` and keeps the ticks going."""
        with self._lock:
            now = self.base()
            self.now = now
            self._demand = True
            if self.threaded and self._thread is None:
                thread = threading.Thread(
                    target=_tick_forever,
                    args=(weakref.ref(self), self.resolution, self.idle),
                    name="offload-coarse-clock",
                    daemon=True,
                )
                self._thread = thread
                thread.start()
        return now

    def tick(self) -> None:
        """Publish the current time as ``now`` (what the thread does every ``resolution``)."""
        with self._lock:
            self.now = self.base()

    def watch(self, reader: Any) -> None:
        """Check ``reader.over_limit()`` at every tick; if true, publish ``inf`` instead
        of the time, so the next comparison takes the slow path (which calls :meth:`read`
        and does the reader's pending work)."""
        with self._lock:
            self._watched.add(reader)

    def _overfull(self) -> bool:
        return any(reader.over_limit() for reader in list(self._watched))

    @property
    def ticking(self) -> bool:
        """True while a thread refreshes ``now``."""
        return self._thread is not None


def _tick_forever(ref: weakref.ref[CoarseClock], resolution: float, idle: float) -> None:
    # Holds the clock weakly between ticks: a dropped clock stops its thread.
    lease = max(1, round(idle / resolution))
    ticks = 0
    me = threading.current_thread()
    while True:
        time.sleep(resolution)
        clock = ref()
        if clock is None:
            return
        with clock._lock:
            if clock._thread is not me:  # replaced after a fork, or stopped
                return
            if clock._demand:
                clock._demand = False
                ticks = 0
            ticks += 1
            if ticks < lease:
                clock.now = _NOT_TICKING if clock._overfull() else clock.base()
            elif ticks == lease:
                # Ask whether anyone still reads: the next comparison fails and calls read().
                clock.now = _NOT_TICKING
            else:
                clock._thread = None
                return
        del clock


_clocks: weakref.WeakSet[CoarseClock] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The child has no ticking thread (and maybe a lock held by it): start over.
    for clock in list(_clocks):
        clock._lock = threading.Lock()
        clock._thread = None
        clock._demand = False
        clock.now = _NOT_TICKING


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


_shared: dict[float, CoarseClock] = {}
_shared_lock = threading.Lock()


def coarse_monotonic(resolution: float) -> CoarseClock:
    """The process-wide coarse ``time.monotonic`` of this resolution (one thread each)."""
    with _shared_lock:
        clock = _shared.get(resolution)
        if clock is None:
            clock = _shared[resolution] = CoarseClock(monotonic, resolution)
        return clock
