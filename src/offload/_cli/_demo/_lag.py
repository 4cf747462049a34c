"""The worst event-loop lag of the last second, for the live page's lag chart.

``offload.monitor`` keeps lag percentiles since it started; a chart needs the lag of
*now*. Every ``interval`` the probe asks to wake up ``interval`` later; how late it
actually wakes is the lag any other request would have waited for the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

__all__ = ["LagProbe"]


class LagProbe:
    """Samples loop lag with a ticker task; use as an async context manager.

    Example::

        async with LagProbe() as probe:
            ...
            print(probe.recent_max())
    """

    def __init__(self, interval: float = 0.02, window: float = 1.0) -> None:
        self._interval = interval
        self._window = window
        self._samples: deque[tuple[float, float]] = deque()  # (when, lag in seconds)
        self._task: asyncio.Task[None] | None = None
        self._last = time.perf_counter()  # when the ticker last ran

    async def __aenter__(self) -> LagProbe:
        self._last = time.perf_counter()
        self._task = asyncio.create_task(self._run(), name="offload-demo-lag-probe")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            expected = time.perf_counter() + self._interval
            await asyncio.sleep(self._interval)
            now = self._last = time.perf_counter()
            self._samples.append((now, max(0.0, now - expected)))
            while self._samples and self._samples[0][0] < now - self._window:
                self._samples.popleft()

    def recent_max(self) -> float:
        """The worst lag (seconds) of the last ``window``, counting a tick overdue now.

        Example::

            probe.recent_max() * 1000  # milliseconds
        """
        now = time.perf_counter()
        # Called right after the loop was blocked, the ticker has not run yet: the time
        # it is overdue is lag too.
        worst = max(0.0, now - self._last - self._interval)
        for when, lag in self._samples:
            if when >= now - self._window:
                worst = max(worst, lag)
        return worst
