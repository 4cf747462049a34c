"""What every child handle shares: its pid and signals, ``async with`` ends the child,
``await`` waits for it."""

from __future__ import annotations

import signal as _signal
from abc import ABC, abstractmethod
from collections.abc import Generator
from typing import Any, Self

from ._kill import signal_group
from ._start import Started

__all__ = ["ChildHandle"]


class ChildHandle(ABC):
    """Base of :class:`offload.Process` and :class:`offload.Child`."""

    __slots__ = ()

    _started: Started  # set by the subclass: the running child

    @property
    def pid(self) -> int:
        """The child's process id (also its process group id)."""
        return self._started.pid

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the child's process group (no-op once it exited)."""
        if not self._started.exited.done():
            signal_group(self._started, sig)

    def terminate(self) -> None:
        """SIGTERM to the child's process group."""
        self.send_signal(_signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to the child's process group."""
        self.send_signal(_signal.SIGKILL)

    @abstractmethod
    async def wait(self) -> int:
        """Wait for the child to exit; return its exit status (negative: a signal)."""

    @abstractmethod
    async def aclose(self) -> None:
        """End the child if it still runs (SIGTERM, grace, SIGKILL) and reap it."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __await__(self) -> Generator[Any, None, int]:
        return self.wait().__await__()
