"""The ``with`` protocol of a resource that is closed at the end of the block."""

from __future__ import annotations

from typing import Self

__all__ = ["Closeable"]


class Closeable:
    """A base for resources with ``close()``: ``with resource:`` gives the resource and
    closes it at the end of the block, whatever happened in it."""

    __slots__ = ()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError
