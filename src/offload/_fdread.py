"""Reading a non-blocking descriptor (a pipe, a socket) from event-loop callbacks.

Every ``loop.add_reader`` callback in offload reads the same way: :func:`read_chunk`
once when the loop says the descriptor is readable (:func:`read_once` hands the bytes or
the end of file on), :func:`read_available` to take what is already there without
waiting (a program or worker that has ended).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

__all__ = ["read_available", "read_chunk", "read_once"]


def read_chunk(fd: int | None, size: int) -> bytes | None:
    """One read: the bytes, ``b""`` at end of file (or when the descriptor broke), or
    None when nothing is there yet (the descriptor would block, or is None: closed)."""
    if fd is None:
        return None
    try:
        return os.read(fd, size)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def read_once(
    fd: int | None, size: int, keep: Callable[[bytes], None], at_eof: Callable[[], None]
) -> None:
    """The body of an ``add_reader`` callback: one :func:`read_chunk`, its bytes passed to
    ``keep``, end of file to ``at_eof``; nothing happens when there was nothing to read."""
    data = read_chunk(fd, size)
    if data is None:
        return
    if data:
        keep(data)
    else:
        at_eof()


def read_available(fd: int, size: int, most: int = 1 << 30) -> Iterator[bytes]:
    """The chunks already there (at most ``most`` reads); ends at end of file, at an
    error, or when the next read would block."""
    for _ in range(most):
        data = read_chunk(fd, size)
        if not data:
            return
        yield data
