"""CancelToken: one cancellation primitive that reaches threads, processes and programs.

A token is a thread-safe, one-way flag with a reason and callbacks (what an
``AbortSignal`` is in JavaScript). Everything else that cancels in offload is composed from it:
``CancelToken.any`` links tokens, ``CancelToken.after`` is a deadline, the pool turns a
token into a cooperative flag inside a worker and then into a kill, ``offload.run`` turns
it into SIGTERM/SIGKILL.

Callbacks run synchronously in the thread that calls ``cancel()``; asyncio code waits
with ``await token.wait()``, which is safe from any thread and any event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from ._errors import Cancelled
from ._loop import call_in_loop

__all__ = ["CancelToken", "current_token"]

logger = logging.getLogger("offload")

Callback = Callable[["CancelToken"], object]


class CancelToken:
    """A thread-safe cancellation flag with a reason and callbacks.

    Pass it as ``token=`` to pool tasks, programs, batch loads and cached calls;
    call :meth:`cancel` to stop all of them. :meth:`raise_if_cancelled` raises
    :class:`offload.Cancelled`; callbacks that fail during :meth:`cancel` are raised
    together as an ``ExceptionGroup`` after all of them ran.

    Example::

        token = offload.CancelToken()
        task = asyncio.create_task(pool.run(work, token=token))
        token.cancel("user went away")
    """

    __slots__ = ("__weakref__", "_callbacks", "_cancelled", "_deadline", "_lock", "_reason")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._reason: object = None
        self._callbacks: list[Callback] = []
        # Set by after(): checked lazily so polling code sees an expired deadline even
        # when the timer that fires callbacks cannot run (a blocked loop).
        self._deadline: float | None = None

    def __repr__(self) -> str:
        state = f"cancelled reason={self._reason!r}" if self.cancelled else "active"
        return f"<CancelToken {state}>"

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called (or the deadline of :meth:`after` passed)."""
        if self._cancelled:
            return True
        if self._deadline is not None and time.monotonic() >= self._deadline:
            # Reading a flag must not raise: callback errors of a deadline are logged.
            try:
                self.cancel(_deadline_reason(self))
            except ExceptionGroup as errors:
                logger.error("CancelToken callbacks raised at its deadline", exc_info=errors)
            return True
        return False

    @property
    def reason(self) -> object:
        """What was passed to :meth:`cancel`; ``None`` while not cancelled."""
        return self._reason if self.cancelled else None

    def cancel(self, reason: object = None) -> bool:
        """Cancel the token and run its callbacks; return False if it was already cancelled.

        Example::

            token.cancel("shutting down")
        """
        with self._lock:
            if self._cancelled:
                return False
            self._cancelled = True
            self._reason = reason
            callbacks, self._callbacks = self._callbacks, []
        errors: list[Exception] = []
        for callback in callbacks:
            try:
                callback(self)
            except Exception as exc:  # one bad callback must not starve the others
                errors.append(exc)
        if errors:
            raise ExceptionGroup("CancelToken callbacks raised", errors)
        return True

    def _rearm(self) -> None:
        """Make the token fresh again (not cancelled, no callbacks): for a subclass whose
        one token serves a worker's tasks one after another, never for a caller's token."""
        with self._lock:
            self._cancelled = False
            self._reason = None
            self._callbacks = []

    def raise_if_cancelled(self) -> None:
        """Raise :class:`offload.Cancelled` (with the reason) if the token is cancelled.

        Example::

            for chunk in chunks:
                token.raise_if_cancelled()
                process(chunk)
        """
        if self.cancelled:
            raise Cancelled(self._reason)

    def on_cancel(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(token)`` on cancellation (at once if already cancelled).

        Returns a function that removes the callback again, so long-lived tokens do not
        collect callbacks of finished work.

        Example::

            remove = token.on_cancel(lambda t: print("cancelled:", t.reason))
            ...
            remove()
        """
        with self._lock:
            if not self._cancelled:
                self._callbacks.append(callback)
                return lambda: self._remove(callback)
        callback(self)
        return _noop

    def _remove(self, callback: Callback) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._callbacks.remove(callback)

    async def wait(self) -> object:
        """Wait until the token is cancelled and return the reason.

        Safe to await from any event loop, whichever thread calls ``cancel()``.
        """
        if self.cancelled:
            return self._reason
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()

        def wake(token: CancelToken) -> None:
            def resolve() -> None:
                if not future.done():
                    future.set_result(token._reason)

            call_in_loop(loop, resolve)

        remove = self.on_cancel(wake)
        timer = self._arm_deadline(loop)
        try:
            return await future
        finally:
            remove()
            if timer is not None:
                timer.cancel()

    def _arm_deadline(self, loop: asyncio.AbstractEventLoop) -> asyncio.TimerHandle | None:
        if self._deadline is None or self._cancelled:
            return None
        delay = max(0.0, self._deadline - time.monotonic())
        return loop.call_later(delay, lambda: self.cancelled)

    @classmethod
    def any(cls, *tokens: CancelToken) -> CancelToken:
        """A token cancelled as soon as any of ``tokens`` is, with that token's reason.

        Example::

            token = CancelToken.any(request_token, CancelToken.after(5))
        """
        linked = cls()
        # Sources hold the linked token weakly and forget it when it is cancelled or
        # collected, so a long-lived source does not collect callbacks of every link.
        ref = weakref.ref(linked)

        def forward(source: CancelToken) -> None:
            target = ref()
            if target is not None:
                target.cancel(source._reason)

        removers: list[Callable[[], None]] = []
        for token in tokens:
            if token._deadline is not None:
                linked._deadline = (
                    token._deadline
                    if linked._deadline is None
                    else min(linked._deadline, token._deadline)
                )
            removers.append(token.on_cancel(forward))
            if linked._cancelled:
                break

        def unlink(*_: object) -> None:
            for remove in removers:
                remove()

        weakref.finalize(linked, unlink)
        linked.on_cancel(unlink)
        return linked

    @classmethod
    def after(cls, seconds: float) -> CancelToken:
        """A token that cancels itself ``seconds`` from now, with a ``TimeoutError`` reason.

        Code that polls ``cancelled`` sees the deadline even while the event loop is
        blocked; callbacks fire from a timer (the running loop's, else a daemon thread).

        Example::

            await offload.run(["make"], token=CancelToken.after(30))
        """
        if seconds < 0:
            raise ValueError(f"CancelToken.after() needs seconds >= 0, got {seconds!r}")
        token = cls()
        token._deadline = time.monotonic() + seconds
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            _deadlines.add(token._deadline, token)
        else:
            loop.call_later(seconds, lambda: token.cancelled)
        return token


class _Deadlines:
    """One daemon thread firing deadlines of tokens made outside a running loop.

    It runs only while deadlines are pending (a thread per token would pile up).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, CancelToken]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, when: float, token: CancelToken) -> None:
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._order), token))
            self._ensure_thread()
            self._cond.notify()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="offload-deadlines", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        with self._cond:
            while self._heap:
                when, _, token = self._heap[0]
                delay = when - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
                self._cond.release()
                try:
                    _ = token.cancelled  # fires the callbacks
                finally:
                    self._cond.acquire()
            self._thread = None

    def after_fork_in_child(self) -> None:
        # The thread did not survive the fork (and its lock may be held): start afresh.
        self._cond = threading.Condition()
        self._thread = None
        if self._heap:
            with self._cond:
                self._ensure_thread()


_deadlines = _Deadlines()
os.register_at_fork(after_in_child=_deadlines.after_fork_in_child)


def _deadline_reason(token: CancelToken) -> TimeoutError:
    return TimeoutError("the CancelToken's deadline passed")


def _noop() -> None:
    return None


_current: contextvars.ContextVar[CancelToken | None] = contextvars.ContextVar(
    "offload_current_token", default=None
)


def current_token() -> CancelToken:
    """The token of the pool task running now; a never-cancelled token outside of one.

    Long-running task code checks it to stop early when the caller cancels.

    Example::

        def crunch(items):
            token = offload.current_token()
            for item in items:
                token.raise_if_cancelled()
                ...
    """
    token = _current.get()
    if token is None:
        token = CancelToken()
        _current.set(token)
    return token


def set_current(token: CancelToken | None) -> contextvars.Token[Any]:
    return _current.set(token)


def reset_current(reset: contextvars.Token[Any]) -> None:
    _current.reset(reset)
