"""A "ready" signal from a program or a pool task to the test: lines on a FIFO.

The test makes a :class:`Ready` (a FIFO in a temporary directory) and passes its path;
the program or task writes one line to it (``echo x > "$READY"``, or
:func:`mark_ready`) once it has reached the point the test must know about: a trap set,
a child started, a task running. The test waits for those lines instead of sleeping a
guessed time, so a slow or loaded machine only makes it wait longer.

The test holds a write end of its own so its reader never sees end of file between two
writers, and a writer's ``open`` never blocks (the reader is already there).
"""

from __future__ import annotations

import asyncio
import os
import select
import time
from pathlib import Path
from types import TracebackType

__all__ = ["LIMIT", "Ready", "mark_ready"]

# How long a test waits for a signal before it fails (the program never got there).
LIMIT = 60.0


def mark_ready(path: str, line: str = "ready") -> None:
    """Write one line to the FIFO ``path`` (what a task calls when it has started)."""
    with open(path, "w") as fifo:
        fifo.write(line + "\n")


class Ready:
    """A FIFO at ``directory/name`` whose lines the test waits for (a context manager)."""

    def __init__(self, directory: Path, name: str = "ready") -> None:
        self.path = directory / name
        os.mkfifo(self.path)
        self._read = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self._hold = os.open(self.path, os.O_WRONLY)
        self._buffer = b""

    def __str__(self) -> str:
        return str(self.path)

    def __enter__(self) -> Ready:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for fd in (self._read, self._hold):
            os.close(fd)

    def _take(self, lines: int) -> list[str] | None:
        """The first ``lines`` lines if they have all come (removed), else None."""
        parts = self._buffer.split(b"\n")
        if len(parts) <= lines:
            return None
        self._buffer = b"\n".join(parts[lines:])
        return [part.decode() for part in parts[:lines]]

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self._read, 4096)
            except BlockingIOError:
                return
            if not data:
                return
            self._buffer += data

    async def wait(self, lines: int = 1, limit: float = LIMIT) -> list[str]:
        """The next ``lines`` lines, once written (the event loop runs meanwhile)."""
        loop = asyncio.get_running_loop()
        came: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            self._drain()
            if not came.done() and self._buffer.count(b"\n") >= lines:
                came.set_result(None)

        loop.add_reader(self._read, readable)
        try:
            readable()
            try:
                await asyncio.wait_for(came, limit)
            except TimeoutError:
                raise AssertionError(f"no {lines} line(s) on {self.path} in {limit} s") from None
        finally:
            loop.remove_reader(self._read)
        taken = self._take(lines)
        assert taken is not None
        return taken

    def block(self, lines: int = 1, limit: float = LIMIT) -> list[str]:
        """The next ``lines`` lines, blocking the calling thread until they are written.

        Called from the event loop's thread it holds every timer of that loop back: a
        timeout armed before the call cannot fire until the program has said it is ready.
        """
        deadline = time.monotonic() + limit
        while (taken := self._take(lines)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {lines} line(s) on {self.path} in {limit} s")
            select.select([self._read], [], [], left)
            self._drain()
        return taken
