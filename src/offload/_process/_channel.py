"""``offload.Channel``: a connected pair of message ports (MessageChannel).

A :class:`Port` is one end of a Unix socket pair. Objects are pickled into
length-prefixed frames (:mod:`offload._wire`). Each port can be used synchronously (plain
code, threads, a forked child's main function) and asynchronously (asyncio code);
both share one receive buffer, so messages are never lost or reordered between them.

A port handed to :func:`offload.fork` as an argument moves to the child: its file
descriptor is passed with ``SCM_RIGHTS`` next to the start-up data and the parent's
copy is closed. Pickled any other way (for example as an argument of a process-pool
task), a port pickles as (sender pid, fd) and the receiver copies the descriptor out of
the sender with ``pidfd_getfd`` (Linux 5.6+; same user): the sender must keep its copy
open until the receiver has unpickled it.
"""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import os
import select
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from offload._closeable import Closeable
from offload._errors import ChannelClosed, ClosedError
from offload._serialize import dumps, loads
from offload._wire import Frames, frame

from ._messages import BYE, ERROR, MESSAGE

__all__ = [
    "Channel",
    "Port",
    "at_eof",
    "collecting_fds",
    "port_fds",
    "recv_frame",
    "send_frame",
    "send_frame_blocking",
    "send_frame_in_turn",
]

_RECV_SIZE = 1 << 18

T = TypeVar("T")

# While a fork() pickles its arguments, ports append their fd here instead of
# duplicating it through the resource sharer; the child maps indexes back to fds.
_collector: contextvars.ContextVar[list[Port] | None] = contextvars.ContextVar(
    "offload_port_fds", default=None
)
# In a forked child: the descriptors that arrived with the start-up data.
_received: list[int] = []


class collecting_fds:  # used like a function: `with collecting_fds() as ports`
    """Context manager: ports pickled inside are recorded, in order, in the returned list."""

    def __enter__(self) -> list[Port]:
        self._ports: list[Port] = []
        self._token = _collector.set(self._ports)
        return self._ports

    def __exit__(self, *exc: object) -> None:
        _collector.reset(self._token)


def port_fds(fds: list[int]) -> None:
    """In a forked child: the descriptors received with the start-up data."""
    _received[:] = fds


class Port(Closeable):
    """One end of a :class:`Channel` (or of a forked child's link to its parent).

    Sync: :meth:`send`, :meth:`recv`, ``for msg in port``. Async: :meth:`asend`,
    :meth:`arecv`, ``async for msg in port``. Iteration ends when the other end is
    closed; :meth:`recv` then raises :class:`offload.ChannelClosed`. Using a closed
    port raises :class:`offload.ClosedError`.

    Example::

        channel = offload.Channel()
        channel.port1.send({"hello": 1})
        assert channel.port2.recv() == {"hello": 1}
    """

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock: socket.socket | None = sock
        self._frames = Frames()
        self._eof = False
        self._send_lock = threading.Lock()
        self._recv_lock = threading.Lock()
        self.remote_error: tuple[str, str] | None = None
        """Set when the other end was a forked child whose target raised."""
        self.remote_disconnected = False
        """Set when the other end was a forked child that closed the channel on purpose."""

    def __repr__(self) -> str:
        state = "closed" if self._sock is None else f"fd={self._sock.fileno()}"
        return f"<offload.Port {state}>"

    @property
    def closed(self) -> bool:
        """True after :meth:`close` (or after the port moved to a child)."""
        return self._sock is None

    def fileno(self) -> int:
        """The socket's file descriptor."""
        return self._live().fileno()

    def _live(self) -> socket.socket:
        if self._sock is None:
            raise ClosedError("this port is closed (or was handed to a child process)")
        return self._sock

    # -- sending ---------------------------------------------------------------------

    def send(self, obj: object) -> None:
        """Send ``obj`` (blocking while the socket buffer is full).

        Raises :class:`offload.ChannelClosed` if the other end is gone,
        :class:`offload.SerializationError` if ``obj`` cannot be pickled.
        """
        self._send_raw(frame(MESSAGE, dumps(obj, what="message sent through a channel")))

    def _send_raw(self, raw: bytes) -> None:
        data = memoryview(raw)
        sock = self._live()
        with self._send_lock:
            while data:
                try:
                    sent = sock.send(data)
                except BlockingIOError:
                    select.select([], [sock], [])
                    continue
                except (BrokenPipeError, ConnectionResetError) as exc:
                    raise ChannelClosed("the other end of the channel is closed") from exc
                data = data[sent:]

    async def asend(self, obj: object) -> None:
        """Send ``obj`` without blocking the event loop (waits while the buffer is full)."""
        await self._asend_raw(frame(MESSAGE, dumps(obj, what="message sent through a channel")))

    async def _asend_raw(self, data: bytes) -> None:
        sock = self._live()
        try:
            await asyncio.get_running_loop().sock_sendall(sock, data)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ChannelClosed("the other end of the channel is closed") from exc

    # -- receiving -------------------------------------------------------------------

    def _take(self) -> tuple[bool, Any]:
        """(True, message) if a whole message is buffered; (False, None) otherwise."""
        while (item := self._frames.next()) is not None:
            kind, payload = item
            if kind == MESSAGE:
                return True, loads(payload)
            if kind == ERROR:
                self.remote_error = loads(payload)
            elif kind == BYE:
                self.remote_disconnected = True
        return False, None

    def _feed(self, data: bytes) -> None:
        if data:
            self._frames.feed(data)
        else:
            self._eof = True

    def recv(self) -> Any:
        """The next message (blocking); ChannelClosed once the other end closed."""
        with self._recv_lock:
            return self._wait(self._take, "the other end of the channel is closed")

    def _wait(self, take: Callable[[], tuple[bool, T]], closed: str) -> T:
        """Read (blocking) until ``take()`` has something; ChannelClosed(``closed``) at
        end of file."""
        sock = self._live()
        while True:
            ready, item = take()
            if ready:
                return item
            if self._eof:
                raise ChannelClosed(closed)
            try:
                self._feed(sock.recv(_RECV_SIZE))
            except BlockingIOError:
                select.select([sock], [], [])
            except ConnectionResetError:
                self._eof = True

    async def arecv(self) -> Any:
        """The next message, awaiting it; ChannelClosed once the other end closed."""
        sock = self._live()
        loop = asyncio.get_running_loop()
        while True:
            ready, message = self._take()
            if ready:
                return message
            if self._eof:
                raise ChannelClosed("the other end of the channel is closed")
            try:
                self._feed(await loop.sock_recv(sock, _RECV_SIZE))
            except ConnectionResetError:
                self._eof = True

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                yield self.recv()
            except ChannelClosed:
                return

    async def __aiter__(self) -> AsyncIterator[Any]:
        while True:
            try:
                message = await self.arecv()
            except ChannelClosed:
                return
            yield message

    # -- life cycle ------------------------------------------------------------------

    def close(self) -> None:
        """Close this end; the other end's iteration ends. Idempotent."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def __reduce__(self) -> tuple[Any, ...]:
        fd = self.fileno()
        ports = _collector.get()
        if ports is not None:
            ports.append(self)
            return (_port_from_index, (len(ports) - 1,))
        return (_port_from_process, (os.getpid(), fd))


# What the fork machinery of this package does with a port beyond sending messages.


async def send_frame(port: Port, data: bytes) -> None:
    """Send ``data``, already framed (a child's start-up data), without blocking the loop."""
    await port._asend_raw(data)


def send_frame_in_turn(port: Port, data: bytes) -> None:
    """Send ``data``, already framed, in turn with other senders (blocking while full)."""
    port._send_raw(data)


def send_frame_blocking(port: Port, data: bytes) -> None:
    """Send ``data``, already framed, blocking (a dying child's last words)."""
    sock = port._live()
    sock.setblocking(True)
    sock.sendall(data)


def recv_frame(port: Port) -> tuple[int, bytes]:
    """The next raw frame of any kind (blocking): a child's start-up data."""

    def take() -> tuple[bool, tuple[int, bytes] | None]:
        item = port._frames.next()
        return item is not None, item

    item = port._wait(take, "the parent closed the channel during start-up")
    assert item is not None
    return item


def at_eof(port: Port) -> bool:
    """True once the other end closed the channel (all it sent may still be unread)."""
    return port._eof


def _port_from_index(index: int) -> Port:
    return Port(socket.socket(fileno=_received[index]))


_SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture


def _port_from_process(pid: int, fd: int) -> Port:
    """Copy descriptor ``fd`` out of process ``pid`` (Linux 5.6+ ``pidfd_getfd``)."""
    if pid == os.getpid():
        return Port(socket.socket(fileno=os.dup(fd)))
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError) as exc:
        raise ChannelClosed(
            f"cannot take over a port from process {pid}: {exc}; it must still be running "
            "and hold the port open until the receiver has it"
        ) from exc
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        copied = libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)
        if copied < 0:
            error = ctypes.get_errno()
            raise ChannelClosed(
                f"cannot take over a port from process {pid}: {os.strerror(error)}; "
                "pass ports to offload.fork() children, or keep the sender running with "
                "the port open (pidfd_getfd needs Linux 5.6+ and ptrace permission)"
            )
    finally:
        os.close(pidfd)
    os.set_inheritable(copied, False)
    return Port(socket.socket(fileno=copied))


class Channel(Closeable):
    """A connected pair of ports: what is sent on one is received on the other.

    Hand the ports to two children (``offload.fork(worker, channel.port1)``) and
    they talk directly, not through the parent. ``async with``/``with`` closes both
    ports (a no-op for ports already handed over). Receiving on a port whose other end
    is gone raises :class:`offload.ChannelClosed`.

    Example::

        channel = offload.Channel()
        async with offload.fork(produce, channel.port1), \\
                   offload.fork(consume, channel.port2):
            ...
    """

    def __init__(self) -> None:
        left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.port1 = Port(left)
        self.port2 = Port(right)

    def __repr__(self) -> str:
        return f"<offload.Channel {self.port1!r} {self.port2!r}>"

    def close(self) -> None:
        """Close both ports."""
        self.port1.close()
        self.port2.close()

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
