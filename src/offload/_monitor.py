"""The event-loop monitor: a lag histogram and block reports with the blocking stack.

Two cooperating parts::

    loop thread:  _tick every `resolution` s ──► lag = how late it ran ──► histogram
                     │ publishes `_expected` (when the next tick is due)
                     │ lag >= threshold ─► BlockReport(duration, captured stack)
                     ▼                        ─► logger "offload.monitor", callback, blocks
    watchdog thread: sleeps until `_expected + threshold` (less the GIL switch interval
                     it may wait to run); if the loop has not ticked by then, it is
                     blocked *now*: capture sys._current_frames()[loop thread], again
                     until the stack shows code outside the loop's own machinery
                     (and once at half the threshold, in case it is starved later)

The capture only walks the frames (no source lines, no file checks): a loop thread busy
in Python hands the GIL over for one switch interval at a time, and a slow capture on
a loaded machine would still be running when the block ends. The source lines are read
afterwards, still on the watchdog, so that reporting does not block the loop either.

The histogram has fixed log-spaced buckets and the report list is bounded, so a watch
that lasts an application's lifetime stays small.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import math
import os
import selectors
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BlockReport", "LoopStats", "LoopWatch", "Monitor", "monitor"]

logger = logging.getLogger("offload.monitor")

_Capture = tuple[float, float, tuple[traceback.FrameSummary, ...], str | None]

BlockCallback = Callable[["BlockReport"], object]

# Bucket i >= 1 holds lags in [1 µs * G**(i-1), 1 µs * G**i): 2% wide, up to ~10 hours.
_GROWTH = 1.02
_INV_LOG_GROWTH = 1 / math.log(_GROWTH)
_BUCKETS = 1 + math.ceil(math.log(36_000 / 1e-6) * _INV_LOG_GROWTH)
# A block still going after this long (or 10 thresholds) is logged while it lasts.
_HUNG_AFTER = 1.0
# Frames of the event loop's own machinery are not what blocked it.
_LOOP_INTERNALS: tuple[str, ...] = (
    os.path.dirname(asyncio.__file__) + os.sep,
    selectors.__file__,
    __file__,
)
_uvloop = importlib.util.find_spec("uvloop")
if _uvloop is not None and _uvloop.origin:
    _LOOP_INTERNALS += (os.path.dirname(_uvloop.origin) + os.sep,)


@dataclass(frozen=True, slots=True)
class BlockReport:
    """One time the event loop was blocked longer than the threshold.

    ``duration`` is how late the loop got back (seconds, a lower bound); ``frames`` is
    the loop thread's stack captured while it was blocked (outermost first, empty if
    the block ended before the watchdog could look); ``stack`` is the same as text;
    ``when`` is the wall-clock time (``time.time()``) the block ended; ``task`` is the
    name of the asyncio task that was running (``None`` for a plain callback, or when
    nothing was captured).

    Example::

        async with offload.monitor.watch(threshold=0.05) as m:
            await serve()
        for block in m.blocks:
            print(f"{block.duration * 1000:.0f} ms in {block.task}:", block.stack)
    """

    duration: float
    frames: tuple[traceback.FrameSummary, ...]
    stack: str
    when: float
    task: str | None = None

    @property
    def function(self) -> str:
        """``name (file:line)`` of the innermost frame outside asyncio: the blocker."""
        for frame in reversed(self.frames):
            if not frame.filename.startswith(_LOOP_INTERNALS):
                return f"{frame.name} ({frame.filename}:{frame.lineno})"
        return "unknown (the block ended before its stack was captured)"

    def __str__(self) -> str:
        text = f"event loop blocked for {self.duration * 1e3:.0f} ms in {self.function}"
        return text if self.task is None else f"{text}, task {self.task!r}"


@dataclass(frozen=True, slots=True)
class LoopStats:
    """Loop lag over a watch: percentiles in seconds, and how many blocks were seen.

    ``blocks`` counts every block, also those dropped from the bounded ``LoopWatch.blocks``.

    Example::

        s = watch.stats()
        print(f"lag p99 {s.lag_p99 * 1000:.1f} ms, {s.blocks} blocks")
    """

    samples: int
    lag_mean: float
    lag_p50: float
    lag_p99: float
    lag_max: float
    blocks: int


class _Histogram:
    __slots__ = ("count", "counts", "max", "total")

    def __init__(self) -> None:
        self.counts = [0] * _BUCKETS
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def record(self, value: float) -> None:
        self.count += 1
        self.total += value
        if value > self.max:
            self.max = value
        index = 0
        if value > 1e-6:
            index = min(_BUCKETS - 1, int(math.log(value * 1e6) * _INV_LOG_GROWTH) + 1)
        self.counts[index] += 1

    def percentile(self, q: float) -> float:
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(q / 100 * self.count))
        seen = 0
        for index, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                upper = 1e-6 * _GROWTH**index
                return min(upper, self.max)
        return self.max


class LoopWatch:
    """Watches the running event loop: lag histogram and block reports.

    Made by ``offload.monitor.watch(...)`` (which is this class); use it as ``async
    with``, or call :meth:`start` and :meth:`stop` (for example in an application's
    lifespan hooks).

    A block is a stretch longer than ``threshold`` seconds in which the loop ran no
    callbacks; its report carries the duration and the stack of the blocking code,
    captured by a watchdog thread while the loop was blocked. Reports go to the
    ``offload.monitor`` logger (unless ``log=False``), to ``callback(report)`` on the
    loop thread, and to ``m.blocks`` (the last ``max_blocks``). ``resolution`` is how
    often lag is sampled. A block still going after ``hung_after`` seconds (default:
    1 s or 10 thresholds, whichever is longer) is logged while it lasts and passed to
    ``on_hung(report)``, called on the watchdog thread (so it must be thread-safe and
    quick).

    Raises ``ValueError`` for a threshold or resolution that is not a positive number
    of seconds, or a negative ``max_blocks``; :meth:`start` raises ``RuntimeError``
    outside a running event loop.

    Example::

        async with offload.monitor.watch(threshold=0.05, callback=print) as m:
            await serve()
        print(m.stats().lag_p99, [str(b) for b in m.blocks])
    """

    def __init__(
        self,
        threshold: float = 0.05,
        callback: BlockCallback | None = None,
        *,
        resolution: float = 0.01,
        max_blocks: int = 100,
        log: bool = True,
        hung_after: float | None = None,
        on_hung: BlockCallback | None = None,
    ) -> None:
        if not threshold > 0:
            raise ValueError(f"watch() needs threshold > 0 seconds, got {threshold!r}")
        if not resolution > 0:
            raise ValueError(f"watch() needs resolution > 0 seconds, got {resolution!r}")
        if max_blocks < 0:
            raise ValueError(f"watch() needs max_blocks >= 0, got {max_blocks!r}")
        self.threshold = threshold
        self.resolution = resolution
        self._callback = callback
        self._log = log
        self._hung_after = hung_after
        self._on_hung = on_hung
        self._hist = _Histogram()
        self._blocks: deque[BlockReport] = deque(maxlen=max_blocks)
        self._block_count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._loop_thread_id = 0
        # When the next tick is due (time.monotonic()); written by the loop thread only.
        self._expected = 0.0
        # (expected, since, frames, task) captured by the watchdog for the block in
        # progress; `since`: from when that stack counts as blocking the loop.
        self._captured: _Capture | None = None

    async def __aenter__(self) -> LoopWatch:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._loop is not None

    @property
    def blocks(self) -> list[BlockReport]:
        """The most recent block reports (at most ``max_blocks``), oldest first."""
        return list(self._blocks)

    def stats(self) -> LoopStats:
        """Lag percentiles (seconds) and the number of blocks seen so far.

        Example::

            s = m.stats()
            print(f"p99 lag {s.lag_p99 * 1e3:.1f} ms over {s.samples} samples")
        """
        h = self._hist
        return LoopStats(
            samples=h.count,
            lag_mean=h.total / h.count if h.count else 0.0,
            lag_p50=h.percentile(50),
            lag_p99=h.percentile(99),
            lag_max=h.max,
            blocks=self._block_count,
        )

    def reset(self) -> None:
        """Forget the samples and reports so far (for periodic reporting)."""
        self._hist = _Histogram()
        self._blocks.clear()
        self._block_count = 0

    def start(self) -> None:
        """Start watching the running loop; raises ``RuntimeError`` outside of one."""
        if self._loop is not None:
            raise RuntimeError("this watch is already running; make a new one")
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._loop_thread_id = threading.get_ident()
        self._stop.clear()
        self._expected = time.monotonic() + self.resolution
        self._thread = threading.Thread(target=self._watchdog, name="offload-monitor", daemon=True)
        # Starting a thread waits until it runs (long on a loaded machine): the
        # watch's own start is not a block of the application, so measure from here.
        self._thread.start()
        self._expected = time.monotonic() + self.resolution
        self._handle = loop.call_later(self.resolution, self._tick)

    def stop(self) -> None:
        """Stop watching; the statistics and reports stay readable.

        A block still in progress (the code that calls ``stop()`` blocked since the last
        sample) is reported too.
        """
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            self._measure()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._loop = None

    def _tick(self) -> None:
        self._measure()
        loop = self._loop
        if loop is not None:
            self._handle = loop.call_later(self.resolution, self._tick)

    def _measure(self) -> None:
        now = time.monotonic()
        expected = self._expected
        lag = now - expected if now > expected else 0.0
        self._hist.record(lag)
        self._expected = now + self.resolution
        if lag >= self.threshold:
            captured, self._captured = self._captured, None
            if captured is None or captured[0] != expected:
                captured = (expected, expected, (), None)
            _, since, frames, task = captured
            # Caught waiting in the poller: the loop was idle and the process was not
            # scheduled (a loaded machine), so no code of this loop blocked it. A second
            # look that found code counts only if the loop stayed stuck a threshold more.
            if frames and frames[-1].filename.startswith(_LOOP_INTERNALS):
                return
            if now - since < self.threshold:
                return
            self._report(BlockReport(lag, frames, _format(frames), time.time(), task))

    def _report(self, report: BlockReport) -> None:
        self._block_count += 1
        self._blocks.append(report)
        if self._log:
            logger.warning("%s\n%s", report, report.stack)
        if self._callback is not None:
            try:
                self._callback(report)
            except Exception:
                logger.exception("the block callback of offload.monitor.watch() raised")

    def _watchdog(self) -> None:
        looked_for = -1.0  # the `_expected` the looks so far were for
        looks = 0
        settled = False  # a look that counts saw the code that blocks
        warned = False
        loop = self._loop
        # Looks at a stretch without ticks: a provisional one at half the threshold
        # (kept only if no later look gets in before the loop ticks, as when the
        # machine starves this thread), the one that counts a switch interval before
        # the threshold (waking up costs up to one when the loop thread holds the GIL),
        # then again while only the loop's own machinery was seen.
        early = min(sys.getswitchinterval(), self.threshold / 2)
        while True:
            expected = self._expected
            if expected != looked_for:
                looked_for, looks, settled, warned = expected, 0, False, False
            due = expected + (self.threshold / 2 if looks == 0 else self.threshold - early)
            wait = due - time.monotonic()
            if wait > 0:
                if self._stop.wait(wait):
                    return
                continue
            if loop is None or loop.is_closed():
                return  # the loop ended without stop(): do not outlive it
            if not loop.is_running():
                if self._stop.wait(self.threshold):  # stopped, not blocked
                    return
                continue
            if not settled:
                # Code first seen after the loop's machinery (a late wake-up on a loaded
                # machine) counts from when it was seen.
                since = expected if looks < 2 else time.monotonic()
                frames, task = self._capture(loop)
                self._captured = (expected, since, frames, task)
                looks += 1
                settled = looks >= 2 and bool(frames)
                settled = settled and not frames[-1].filename.startswith(_LOOP_INTERNALS)
                # Stored: now read the source lines here, off the loop thread, so that
                # the report made on the loop finds them read (the frames keep them).
                for frame in frames:
                    _ = frame.line
                if looks == 1:
                    continue  # provisional: the next look is due at the threshold
            overdue = time.monotonic() - expected
            hung_after = self._hung_after
            if hung_after is None:
                hung_after = max(_HUNG_AFTER, 10 * self.threshold)
            if (self._log or self._on_hung) and not warned and overdue >= hung_after:
                # A loop that never comes back never reports its block: say so now.
                warned = True
                frames = self._captured[2] if self._captured else ()
                task = self._captured[3] if self._captured else None
                report = BlockReport(overdue, frames, _format(frames), time.time(), task)
                if self._log:
                    logger.warning(
                        "event loop blocked for %.1f s so far, still in %s\n%s",
                        overdue,
                        report.function,
                        report.stack,
                    )
                if self._on_hung is not None:
                    try:
                        self._on_hung(report)
                    except Exception:
                        logger.exception("the on_hung callback of offload.monitor raised")
            # Blocked now: look again once the loop had a chance to tick.
            if self._stop.wait(min(self.threshold, self.resolution)):
                return

    def _capture(
        self, loop: asyncio.AbstractEventLoop
    ) -> tuple[tuple[traceback.FrameSummary, ...], str | None]:
        # Only names and line numbers, quickly (see the module docstring); the source
        # lines are read when a report is formatted.
        frame = sys._current_frames().get(self._loop_thread_id)
        raw: list[tuple[str, int, str]] = []
        while frame is not None:
            code = frame.f_code
            raw.append((code.co_filename, frame.f_lineno or 0, code.co_name))
            frame = frame.f_back  # ends at None: no frame of the loop thread is kept
        # current_task(loop) only reads asyncio's table of running tasks: safe here.
        task = asyncio.current_task(loop)
        frames = tuple(
            traceback.FrameSummary(filename, lineno, function, lookup_line=False)
            for filename, lineno, function in reversed(raw)
        )
        return frames, task.get_name() if task is not None else None


def _format(frames: tuple[traceback.FrameSummary, ...]) -> str:
    if not frames:
        return "(the block ended before its stack was captured)"
    # Start below the loop's own frames: the callback or task step that blocked.
    start = 0
    for index, frame in enumerate(frames):
        if frame.filename.startswith(_LOOP_INTERNALS):
            start = index + 1
    shown = list(frames[start:]) or list(frames)
    return "".join(traceback.format_list(shown))


class Monitor:
    """The event-loop monitor, available as ``offload.monitor``.

    ``offload.monitor.watch(threshold, callback, ...)`` makes a :class:`offload.LoopWatch`
    (see there for every option and what it raises).

    Example::

        async with offload.monitor.watch(threshold=0.05) as m:
            ...
    """

    __slots__ = ()

    #: Watch the running loop: lag histogram plus a report for every block.
    watch = LoopWatch

    def __repr__(self) -> str:
        return "offload.monitor"


monitor = Monitor()
