"""Worker output, one line at a time, prefixed with the worker's id, and the supervisor's
stderr, which never blocks the supervisor.

When nothing reads the supervisor's stderr (a pipe to a stalled log collector), a
plain write blocks once the pipe is full, and with it every decision of the
supervisor (restarts, liveness kills, status). ``Sink`` writes a pipe through a
non-blocking descriptor of its own and keeps what does not fit (up to a limit, then
drops lines and says how many); the supervisor's loop writes the rest when it can.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import stat
import sys
import time
from collections import deque
from typing import TextIO

__all__ = ["Output", "Sink", "stderr_sink"]

# Output kept while the reader is behind; past it, lines are dropped (and counted).
_PENDING_LIMIT = 1 << 20


class Sink:
    """Writes text to ``stream`` (default: stderr) without ever blocking.

    A pipe or FIFO gets a non-blocking descriptor of its own (opened again through
    /proc, so the flags of the shared one are untouched); a socket is written with
    MSG_DONTWAIT; anything else (a file, a terminal) is written as usual.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._pending = bytearray()
        self._dropped = 0
        self._fd = -1
        self._sock: socket.socket | None = None
        try:
            fd = (stream or sys.stderr).fileno()
            mode = os.fstat(fd).st_mode
            if stat.S_ISFIFO(mode):
                self._fd = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
            elif stat.S_ISSOCK(mode):
                self._sock = socket.socket(fileno=os.dup(fd))
        except (AttributeError, ValueError, OSError):
            self._fd = -1

    @property
    def fileno(self) -> int:
        """The descriptor this sink owns (-1 when none): a forked child closes it."""
        if self._sock is not None:
            return self._sock.fileno()
        return self._fd

    @property
    def pending(self) -> int:
        """Bytes waiting for the reader."""
        return len(self._pending)

    def write(self, text: str) -> None:
        """Write ``text`` now, or keep it for ``flush`` (drop it past the limit)."""
        if self._fd < 0 and self._sock is None:
            stream = self._stream or sys.stderr
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.write(text)
                stream.flush()
            return
        if len(self._pending) + len(text) > _PENDING_LIMIT:
            self._dropped += text.count("\n") or 1
            return
        self._pending += text.encode(errors="replace")
        self.flush()

    def flush(self) -> None:
        """Write what the reader takes now; never blocks."""
        while self._pending:
            try:
                if self._sock is not None:
                    n = self._sock.send(self._pending, socket.MSG_DONTWAIT)
                else:
                    n = os.write(self._fd, self._pending)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                self._pending.clear()  # the reader is gone (EPIPE): nothing to wait for
                return
            del self._pending[:n]
            if not self._pending and self._dropped:
                note = f"[cluster] {self._dropped} lines of output dropped: stderr was not read\n"
                self._dropped = 0
                self._pending += note.encode()

    def drain(self, wait: float = 1.0) -> None:
        """Write what is left, waiting up to ``wait`` seconds for the reader."""
        deadline = time.monotonic() + wait
        while self._pending and (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(OSError, ValueError):
                select.select([], [self.fileno], [], left)
            self.flush()

    def detach(self) -> None:
        """In a forked child: close this sink's descriptor; later writes go to the stream."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                os.close(self._sock.detach())
            self._sock = None
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
        self._pending.clear()


_stderr: Sink | None = None


def stderr_sink() -> Sink:
    """The process's sink for stderr (made on first use)."""
    global _stderr
    if _stderr is None:
        _stderr = Sink()
    return _stderr


class Output:
    """Reads a worker's stdout/stderr pipe and writes ``[w2 1234] line`` for each line.

    The last lines are kept: they are the error of a worker that failed to start.
    """

    def __init__(self, fd: int, prefix: str, sink: Sink) -> None:
        self.fd = fd
        self.prefix = prefix
        self._sink = sink
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
        self._sink.write(f"{self.prefix} {text}\n")
