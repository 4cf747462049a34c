"""``offload.fork``: a Python child with a two-way message channel (Node's fork + send).

The child is a fresh interpreter (``python -m offload._process._child``), never a
``fork()`` of the asyncio parent, so it inherits no loop, locks or threads. The link is
a Unix socket pair (see :mod:`._child` for the start-up exchange and :mod:`offload._wire` for
the frames). The child runs in its own process group, is ended with the same
SIGTERM-grace-SIGKILL routine as programs, and never outlives the parent.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any

from offload._errors import ChannelClosed, ProcessFailed
from offload._serialize import dumps, dumps_by_value
from offload._wire import frame

from ._channel import Port, at_eof, collecting_fds, send_frame
from ._handle import ChildHandle
from ._kill import DEFAULT_KILL_AFTER, end_group, to_the_end
from ._messages import BOOT
from ._result import signal_name
from ._start import Started, StdSpec, start, start_error

__all__ = ["Child", "fork"]

# The directory holding the offload package, so the child can import it in any case.
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Child(ChildHandle):
    """A Python child started by :func:`offload.fork`, with its message channel.

    ``await child.send(obj)`` / ``async for msg in child.messages()`` /
    ``await child.recv()`` talk to it; ``await child.wait()`` returns its exit status.
    ``messages()`` delivers everything the child sent before it exited, then ends; if
    the child crashed (its target raised, a non-zero exit, a signal) it then raises
    :class:`offload.ProcessFailed`, with the child's traceback in the message.
    Leaving ``async with`` disconnects, gives the child ``kill_after`` seconds to exit
    on its own, then ends it (SIGTERM, then SIGKILL).

    Example::

        async with offload.fork(worker) as child:
            await child.send({"job": 1})
            reply = await child.recv()
    """

    def __init__(
        self, started: Started, port: Port, boot: bytes, name: str, kill_after: float
    ) -> None:
        self._started = started
        self._port = port
        self._name = name
        self._kill_after = kill_after
        self._loop = asyncio.get_running_loop()
        self._boot: asyncio.Task[None] = self._loop.create_task(send_frame(port, frame(BOOT, boot)))
        self._boot.add_done_callback(_ignore_failure)
        started.watch()

    def __repr__(self) -> str:
        state = "running" if self.exitcode is None else f"exitcode={self.exitcode}"
        return f"<offload.Child pid={self.pid} {self._name} {state}>"

    @property
    def exitcode(self) -> int | None:
        """Exit status once the child exited (negative: killed by that signal), else None."""
        return self._started.returncode if self._started.exited.done() else None

    @property
    def connected(self) -> bool:
        """True while the channel is open at this end and the child has not closed it."""
        return not self._port.closed and not at_eof(self._port)

    async def send(self, obj: object) -> None:
        """Send ``obj`` to the child (``offload.parent.recv()`` there).

        Raises :class:`offload.ChannelClosed` if the child is gone or disconnected,
        :class:`offload.SerializationError` if ``obj`` cannot be pickled.
        """
        await self._boot_sent()
        await self._port.asend(obj)

    async def _boot_sent(self) -> None:
        try:
            await asyncio.shield(self._boot)
        except (ChannelClosed, OSError) as exc:
            raise ChannelClosed(f"{self._name} (pid {self.pid}) is gone") from exc

    async def recv(self) -> Any:
        """The next message from the child.

        Raises :class:`offload.ChannelClosed` when the child disconnected or exited
        cleanly, :class:`offload.ProcessFailed` when it crashed.
        """
        try:
            return await self._port.arecv()
        except ChannelClosed:
            await self._raise_if_crashed()
            raise

    async def messages(self) -> AsyncIterator[Any]:
        """Every message the child sends, until it disconnects or exits.

        Raises :class:`offload.ProcessFailed` at the end if the child crashed.
        """
        while True:
            try:
                message = await self._port.arecv()
            except ChannelClosed:
                break
            yield message
        await self._raise_if_crashed()

    async def _raise_if_crashed(self) -> None:
        if (
            self._port.remote_disconnected
            and self._port.remote_error is None
            and not self._started.exited.done()
        ):
            return  # the child closed the channel on purpose and runs on: a disconnect
        # Otherwise the channel closed because the child is exiting (the kernel closes a
        # dying process's files before it reports the exit): its status tells how.
        code = await asyncio.shield(self._started.exited)
        if code == 0 and self._port.remote_error is None:
            return
        how = f"was killed by {signal_name(-code)}" if code < 0 else f"exited with status {code}"
        details = ""
        if self._port.remote_error is not None:
            summary, text = self._port.remote_error
            how = f"raised {summary}"
            details = f"\nchild traceback:\n{text.rstrip()}"
        raise ProcessFailed(
            f"forked child {self._name} (pid {self.pid}) {how}{details}",
            argv=tuple(self._started.argv),
            pid=self.pid,
            returncode=code,
            signal=-code if code < 0 else None,
            stderr=self._port.remote_error[1] if self._port.remote_error else None,
        )

    async def wait(self) -> int:
        """Wait for the child to exit; return its exit status (negative: a signal)."""
        return await asyncio.shield(self._started.exited)

    def disconnect(self) -> None:
        """Close the channel: the child's ``for msg in offload.parent`` ends."""
        self._port.close()

    async def stop(self, kill_after: float | None = None) -> int:
        """End the child: SIGTERM, then SIGKILL after ``kill_after`` s; its exit status."""
        grace = self._kill_after if kill_after is None else kill_after
        await to_the_end(end_group(self._started, grace))
        return await self.wait()

    async def aclose(self) -> None:
        """Disconnect, let the child exit on its own for ``kill_after`` s, else end it."""
        self.disconnect()
        if not self._boot.done():
            self._boot.cancel()
        if not self._started.exited.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._started.exited), self._kill_after)
            except TimeoutError:
                await self.stop()
            except asyncio.CancelledError:
                await self.stop()
                raise


def _ignore_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: the failure shows up in send()/recv() instead


def fork(
    target: Any,
    *args: Any,
    kill_after: float = DEFAULT_KILL_AFTER,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    stdout: StdSpec = "inherit",
    stderr: StdSpec = "inherit",
    detached: bool = False,
) -> Child:
    """Run ``target(*args)`` in a fresh Python child and return its :class:`offload.Child`.

    ``target`` may be a plain or a coroutine function; it and ``args`` are pickled
    with cloudpickle (so lambdas and local functions work). :class:`offload.Port`
    objects in ``args`` move to the child. Inside, the child talks to the parent
    through ``offload.parent``. stdout/stderr are inherited by default.

    Raises :class:`offload.SerializationError` if target or args cannot be pickled.

    Example::

        def double():
            for n in offload.parent:
                offload.parent.send(2 * n)

        async with offload.fork(double) as child:
            await child.send(21)
            assert await child.recv() == 42
    """
    name = getattr(target, "__qualname__", None) or repr(target)
    with collecting_fds() as ports:
        # By value in one pass: every port is collected once, in order.
        blob = dumps_by_value((target, args), what=f"call of {name} sent to a child")
    boot = dumps(([p for p in sys.path if isinstance(p, str)], blob))
    try:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError as exc:  # no descriptors left
        raise start_error(sys.executable, exc) from exc
    child_env = dict(env or {})
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH", "")) if p
    )
    try:
        started = start(
            [sys.executable, "-m", "offload._process._child", str(theirs.fileno())],
            stdin="devnull",
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            env=child_env,
            pass_fds=[theirs.fileno()],
            detached=detached,
        )
    except BaseException:
        mine.close()
        raise
    finally:
        theirs.close()
    # One byte carries the ports' descriptors; the ports then belong to the child.
    socket.send_fds(mine, [b"F"], [port.fileno() for port in ports])
    for port in ports:
        port.close()  # the descriptor moved to the child: forget it here
    return Child(started, Port(mine), boot, name, kill_after)
