"""What every child handle shares: ``async with`` ends the child, ``await`` waits for it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator
from types import TracebackType
from typing import Any, Self

__all__ = ["ChildHandle"]


class ChildHandle(ABC):
    """Base of :class:`offload.Process` and :class:`offload.Child`."""

    __slots__ = ()

    @abstractmethod
    async def wait(self) -> int:
        """Wait for the child to exit; return its exit status (negative: a signal)."""

    @abstractmethod
    async def aclose(self) -> None:
        """End the child if it still runs (SIGTERM, grace, SIGKILL) and reap it."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __await__(self) -> Generator[Any, None, int]:
        return self.wait().__await__()
