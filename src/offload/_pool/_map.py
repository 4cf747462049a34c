"""Pool.map: a bounded window of tasks over a lazily pulled (sync or async) iterable."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from ._task import Task

if TYPE_CHECKING:
    from ._scheduler import Scheduler

__all__ = ["map_tasks"]

T = TypeVar("T")
R = TypeVar("R")


async def map_tasks(
    scheduler: Scheduler,
    fn: Callable[[T], R],
    iterable: Iterable[T] | AsyncIterable[T],
    *,
    ordered: bool,
    window: int,
    progress: bool,
) -> AsyncIterator[R]:
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window!r}")
    items = _aiter(iterable)
    pending: deque[Task] = deque()  # submission order
    finished: deque[Task] = deque()  # completion order (unordered mode)
    wake: asyncio.Event = asyncio.Event()
    exhausted = False
    bar = _Bar(_length(iterable)) if progress else None

    def on_done(task: Task, _future: asyncio.Future[Any]) -> None:
        finished.append(task)
        wake.set()

    try:
        while True:
            while not exhausted and len(pending) < window:
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    exhausted = True
                    break
                while scheduler.queue_full:
                    await scheduler.wait_for_space()
                task = scheduler.submit(fn, (item,))
                pending.append(task)
                if not ordered:
                    task.future.add_done_callback(functools.partial(on_done, task))
            if not pending:
                return
            if ordered:
                task = pending[0]
                result = await asyncio.shield(task.future)
                pending.popleft()
            else:
                while not finished:
                    wake.clear()
                    await wake.wait()
                task = finished.popleft()
                pending.remove(task)
                result = task.future.result()
            if bar is not None:
                bar.advance()
            yield result
    finally:
        for task in pending:
            task.future.cancel()
        if bar is not None:
            bar.close()
        with contextlib.suppress(Exception):
            aclose = getattr(items, "aclose", None)
            if aclose is not None and not isinstance(iterable, AsyncIterable):
                await aclose()


async def _aiter(iterable: Iterable[T] | AsyncIterable[T]) -> AsyncIterator[T]:
    if isinstance(iterable, AsyncIterable):
        async for item in iterable:
            yield item
    else:
        for item in iterable:
            yield item


def _length(iterable: object) -> int | None:
    try:
        return len(iterable)  # type: ignore[arg-type]
    except TypeError:
        return None


class _Bar:
    """Progress of ``map``: a rich bar on a terminal, else plain lines.

    On a terminal without rich, one stderr line is rewritten in place. When stderr is
    not a terminal (a log file, a CI job), a plain line is written every
    ``_PLAIN_EVERY`` seconds and one at the end: no carriage returns, no escape codes.
    """

    def __init__(self, total: int | None) -> None:
        self.done = 0
        self.total = total
        self.started = time.monotonic()
        self.last = self.started
        self.rich: Any = None
        self.terminal = _isatty(sys.stderr)
        if not self.terminal:
            return
        try:
            from rich.progress import Progress
        except ImportError:
            return
        self.rich = Progress(transient=False)
        self.rich.start()
        self.rich_task = self.rich.add_task("pool.map", total=total)

    def advance(self) -> None:
        self.done += 1
        if self.rich is not None:
            self.rich.update(self.rich_task, completed=self.done)
            return
        now = time.monotonic()
        if now - self.last >= (_TERMINAL_EVERY if self.terminal else _PLAIN_EVERY):
            self.last = now
            self._line()

    def _line(self, end: str = "") -> None:
        rate = self.done / max(1e-9, time.monotonic() - self.started)
        of = f"/{self.total}" if self.total is not None else ""
        text = f"pool.map: {self.done}{of} done, {rate:,.0f}/s"
        if self.terminal:
            sys.stderr.write(f"\r{text}{end}")
        else:
            sys.stderr.write(f"{text}\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.rich is not None:
            self.rich.stop()
        else:
            self._line(end="\n")


# Seconds between progress updates: a rewritten terminal line, or a plain log line.
_TERMINAL_EVERY = 0.1
_PLAIN_EVERY = 2.0


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed stream
        return False
