"""Worker output, one line at a time, prefixed with the worker's id."""

from __future__ import annotations

import contextlib
import os
import sys
from collections import deque
from typing import TextIO

__all__ = ["Output"]


class Output:
    """Reads a worker's stdout/stderr pipe and writes ``[w2 1234] line`` for each line.

    The last lines are kept: they are the error of a worker that failed to start.
    """

    def __init__(self, fd: int, prefix: str, stream: TextIO | None = None) -> None:
        self.fd = fd
        self.prefix = prefix
        self._stream = stream
        self._partial = b""
        self.tail: deque[str] = deque(maxlen=40)
        os.set_blocking(fd, False)

    def read(self) -> bool:
        """Copy what is there; False at end of file (the worker closed its output)."""
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                self._emit_partial()
                return False
            *lines, self._partial = (self._partial + data).split(b"\n")
            for line in lines:
                self._emit(line)

    def close(self) -> None:
        """Read what is left and close the pipe."""
        with contextlib.suppress(OSError):
            self.read()
        self._emit_partial()
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def _emit_partial(self) -> None:
        if self._partial:
            self._emit(self._partial)
            self._partial = b""

    def _emit(self, raw: bytes) -> None:
        text = raw.decode(errors="replace").rstrip("\r")
        self.tail.append(text)
        stream = self._stream or sys.stderr
        with contextlib.suppress(OSError, ValueError):
            stream.write(f"{self.prefix} {text}\n")
            stream.flush()
