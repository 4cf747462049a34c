"""cancelable: a generator function whose ``yield``\\ s are cancellation points.

JavaScript's createAsyncCancelable pattern, in Python. A driver task steps the
generator: ``yield awaitable`` awaits the awaitable and sends its result back in (or
throws its exception in); a bare ``yield`` is a cheap checkpoint. Cancelling throws
:class:`offload.Cancelled` into the generator at the yield where it stands, once, so its
``except``/``finally`` blocks run, and awaitables yielded from there are still awaited.

Data flow::

    handle.cancel(r) ─► token.cancel(r) ─► driver task.cancel()  (only while it awaits)
                                           └► driver: gen.throw(Cancelled(r))
    caller task cancelled ─► driver task cancelled ─► gen.throw(Cancelled) ─► CancelledError
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable, Generator
from typing import Any, Generic, ParamSpec, TypeVar

from ._cancel import CancelToken, set_current
from ._errors import Cancelled
from ._interleave import checkpoint

__all__ = ["CancelableCall", "CancelableFunction", "cancelable"]

P = ParamSpec("P")
R = TypeVar("R")

_TASK_CANCELLED = "the task awaiting this cancelable call was cancelled"


class CancelableCall(Generic[R]):
    """A running call of a :func:`offload.cancelable` function.

    Await it for the result; :meth:`cancel` stops it at its current ``yield``. Awaiting
    it behaves like awaiting an ``asyncio.Task``: if the awaiting task is cancelled, the
    call is cancelled too (use ``asyncio.shield`` to prevent that).

    Example::

        call = download(urls)          # starts running at once
        call.cancel("user went away")
        await call                     # raises offload.Cancelled("user went away")
    """

    __slots__ = ("_awaiting", "_by_token", "_loop", "_task", "_token", "_unlink")

    def __init__(
        self,
        gen: Generator[Any, Any, R],
        token: CancelToken,
        unlink: Callable[[], None],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._token = token
        self._unlink = unlink
        # True while the driver is suspended in an await that the token may interrupt.
        self._awaiting = False
        # True when the token (not an outside caller) asked the driver task to cancel.
        self._by_token = False
        self._task: asyncio.Task[R] = self._loop.create_task(self._drive(gen))
        self._task.add_done_callback(self._finished)
        remove = token.on_cancel(self._on_token)
        self._task.add_done_callback(lambda _: remove())

    def __repr__(self) -> str:
        state = "done" if self.done() else "running"
        if self.cancelled:
            state += f" cancelled reason={self._token.reason!r}"
        return f"<CancelableCall {state}>"

    def __await__(self) -> Generator[Any, None, R]:
        return self._task.__await__()

    @property
    def token(self) -> CancelToken:
        """The call's own token: cancelling it cancels the call.

        Inside the generator, :func:`offload.current_token` returns this token, so it can
        be handed on as ``token=`` to pool tasks and programs.
        """
        return self._token

    @property
    def cancelled(self) -> bool:
        """True once the call was cancelled (by :meth:`cancel`, its token or its caller)."""
        return self._token.cancelled

    def cancel(self, reason: object = None) -> bool:
        """Cancel the call; return False if it was already cancelled or finished.

        Safe to call from any thread. The generator sees :class:`offload.Cancelled`
        (carrying ``reason``) raised at the ``yield`` where it is suspended.

        Example::

            call.cancel("timeout")
        """
        if self._task.done():
            return False
        return self._token.cancel(reason)

    def done(self) -> bool:
        """True once the call finished: returned, raised or was cancelled."""
        return self._task.done()

    def _on_token(self, _: CancelToken) -> None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._interrupt()
        elif not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                self._loop.call_soon_threadsafe(self._interrupt)

    def _interrupt(self) -> None:
        # Only an await of the driver is interrupted; a generator running synchronously
        # sees the token at its next yield, so the cancellation never leaks into cleanup.
        if self._awaiting and not self._by_token and not self._task.done():
            self._by_token = True
            self._task.cancel()

    async def _drive(self, gen: Generator[Any, Any, R]) -> R:
        set_current(self._token)
        task = asyncio.current_task()
        assert task is not None
        send: Any = None
        error: BaseException | None = None
        thrown = False  # Cancelled is thrown into the generator once
        outer_cancel = False
        try:
            while True:
                if not thrown and error is None and self._token.cancelled:
                    thrown = True
                    error = Cancelled(self._token.reason)
                try:
                    item = gen.send(send) if error is None else gen.throw(error)
                except StopIteration as stop:
                    if outer_cancel:
                        raise asyncio.CancelledError(_TASK_CANCELLED) from None
                    return stop.value  # type: ignore[no-any-return]
                except Cancelled:
                    if outer_cancel:  # the caller's cancellation wins over our own error
                        raise asyncio.CancelledError(_TASK_CANCELLED) from None
                    raise
                send, error = None, None
                if not thrown and self._token.cancelled:
                    # Cancelled while the generator ran: do not start the awaitable.
                    if inspect.iscoroutine(item):
                        item.close()
                    continue
                if item is not None and not inspect.isawaitable(item):
                    error = TypeError(
                        "a cancelable generator may only yield awaitables or nothing, "
                        f"got {type(item).__name__}; wrap plain values or remove the yield"
                    )
                    continue
                self._awaiting = not thrown
                try:
                    send = await (checkpoint() if item is None else item)
                except asyncio.CancelledError as exc:
                    self._awaiting = False  # before cancelling the token below
                    if self._by_token:
                        self._by_token = False
                        if task.uncancel() == 0:
                            continue  # the loop head throws Cancelled in
                    if task.cancelling() == 0:
                        error = exc  # the awaitable itself was cancelled, not this call
                        continue
                    if thrown and outer_cancel:
                        raise  # cancelled again while cleaning up: stop cleaning
                    outer_cancel = True
                    if not thrown:
                        self._token.cancel(_TASK_CANCELLED)
                        thrown = True
                        error = Cancelled(self._token.reason)
                    else:
                        error = exc
                except Exception as exc:  # raised at the yield, as an await would
                    error = exc
                finally:
                    self._awaiting = False
        finally:
            gen.close()

    def _finished(self, task: asyncio.Task[R]) -> None:
        self._unlink()
        if self._token.cancelled and not task.cancelled():
            task.exception()  # a cancelled fire-and-forget call is not an unretrieved error


class CancelableFunction(Generic[P, R]):
    """A generator function made cancelable by :func:`offload.cancelable`.

    Calling it starts the call and returns a :class:`CancelableCall`; use
    :meth:`with_token` to tie the call to a token you already have.
    """

    def __init__(self, genfunc: Callable[P, Generator[Any, Any, R]]) -> None:
        self.__wrapped__ = genfunc
        self.__name__: str = getattr(genfunc, "__name__", "cancelable")
        self.__qualname__: str = getattr(genfunc, "__qualname__", self.__name__)
        self.__doc__ = genfunc.__doc__

    def __repr__(self) -> str:
        return f"<cancelable {self.__qualname__}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> CancelableCall[R]:
        return self._start(None, args, kwargs)

    def with_token(self, token: CancelToken) -> Callable[P, CancelableCall[R]]:
        """The same function, with calls also cancelled when ``token`` is.

        Cancelling a call does not cancel ``token``; each call still has its own
        :attr:`CancelableCall.token`.

        Example::

            call = download.with_token(request_token)(urls)
        """

        def start(*args: P.args, **kwargs: P.kwargs) -> CancelableCall[R]:
            return self._start(token, args, kwargs)

        return start

    def _start(
        self, outer: CancelToken | None, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> CancelableCall[R]:
        asyncio.get_running_loop()  # fail before the generator is created
        gen = self.__wrapped__(*args, **kwargs)
        token = CancelToken()
        unlink: Callable[[], None] = _noop
        if outer is not None:
            unlink = outer.on_cancel(lambda t: token.cancel(t.reason))
        return CancelableCall(gen, token, unlink)


def _noop() -> None:
    return None


def cancelable(genfunc: Callable[P, Generator[Any, Any, R]]) -> CancelableFunction[P, R]:
    """Make a generator function cancelable: its ``yield``\\ s are cancellation points.

    Inside, ``result = yield awaitable`` awaits the awaitable (its exception is raised at
    the yield) and a bare ``yield`` is a cheap checkpoint. Calling the decorated function
    inside a running event loop starts it and returns a :class:`CancelableCall`.
    Cancelling raises :class:`offload.Cancelled` at the current ``yield``; awaiting the
    call then raises ``Cancelled`` (or ``asyncio.CancelledError`` if the awaiting task was
    cancelled). Raises ``TypeError`` for anything but a plain generator function and
    ``RuntimeError`` when called without a running loop.

    Example::

        @offload.cancelable
        def download(urls):
            pages = []
            for url in urls:
                pages.append((yield client.get(url)))
            return pages

        call = download(urls)
        call.cancel()
    """
    if not inspect.isgeneratorfunction(genfunc):
        kind = (
            "an async generator function"
            if inspect.isasyncgenfunction(genfunc)
            else "a coroutine function"
            if inspect.iscoroutinefunction(genfunc)
            else type(genfunc).__name__
        )
        raise TypeError(
            f"cancelable() needs a generator function (a def with yield), got {kind}; "
            "async code is already cancelable: pass token= or cancel its task"
        )
    return CancelableFunction(genfunc)
