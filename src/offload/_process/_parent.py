"""``offload.parent``: inside a child started by :func:`offload.fork`, the link to the parent."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from offload._errors import ChannelClosed
from offload._wire import frame

from ._channel import Port, send_frame_in_turn
from ._messages import BYE

__all__ = ["Parent", "bind_parent", "parent"]


class Parent:
    """The forked child's end of its channel to the parent (``offload.parent``).

    Sync: :meth:`send`, :meth:`recv`, ``for msg in offload.parent``. Async:
    :meth:`asend`, :meth:`arecv`, ``async for msg in offload.parent``. Iteration ends
    when the parent disconnects. Outside a forked child every method raises
    :class:`offload.ChannelClosed`; check :attr:`connected` first if unsure.

    Example::

        def worker(factor):
            for number in offload.parent:
                offload.parent.send(number * factor)
    """

    def __init__(self) -> None:
        self._port: Port | None = None

    def __repr__(self) -> str:
        return f"<offload.parent {'connected' if self.connected else 'not connected'}>"

    @property
    def connected(self) -> bool:
        """True inside a child started by :func:`offload.fork` whose channel is open."""
        return self._port is not None and not self._port.closed

    def _get(self) -> Port:
        if self._port is None:
            raise ChannelClosed(
                "offload.parent is only connected inside a process started by "
                "offload.fork(); this process was not (check offload.parent.connected)"
            )
        return self._port

    def send(self, obj: object) -> None:
        """Send ``obj`` to the parent (blocking while the socket buffer is full)."""
        self._get().send(obj)

    def recv(self) -> Any:
        """The next message from the parent; ChannelClosed once it disconnected."""
        return self._get().recv()

    async def asend(self, obj: object) -> None:
        """Send ``obj`` to the parent from asyncio code."""
        await self._get().asend(obj)

    async def arecv(self) -> Any:
        """The next message from the parent, awaiting it."""
        return await self._get().arecv()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._get())

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._get().__aiter__()

    def close(self) -> None:
        """Disconnect from the parent (its ``messages()`` ends after what was sent).

        The parent is told this is a disconnect, not an exit (the last frame: like
        :meth:`send`, it waits while the socket buffer is full), so it does not wait
        for this process to exit before ending its ``messages()``.
        """
        port = self._port
        if port is not None and not port.closed:
            with contextlib.suppress(ChannelClosed, OSError):  # the parent is gone
                send_frame_in_turn(port, frame(BYE, b""))
            port.close()


parent = Parent()


def bind_parent(port: Port) -> None:
    """In a forked child: ``offload.parent`` talks through ``port`` from now on."""
    parent._port = port
