"""A running program's pipes as asyncio streams: chunks, lines, writes with backpressure.

Output is read straight from the pipe's file descriptor by an event-loop reader, in
large reads (the pipe is enlarged to 1 MiB where the kernel allows), into a bounded
buffer: when ``high_water`` bytes wait unread, the reader stops reading, the pipe
fills, and the program blocks on its next write. Memory stays bounded however slow the
consumer is. :meth:`OutputStream.unbound` lifts the bound (up to a hard cap) so that
``wait()`` cannot deadlock on output nobody reads.
"""

from __future__ import annotations

import asyncio
import codecs
import os
from collections import deque
from collections.abc import AsyncIterator, Callable

from offload._errors import ChannelClosed, ClosedError
from offload._fdread import read_available, read_once

__all__ = ["InputStream", "OutputStream"]

_READ_SIZE = 1 << 20
_HIGH_WATER = 4 << 20


class OutputStream:
    """stdout or stderr of a program started by :func:`offload.spawn`.

    ``async for chunk in stream`` yields chunks as they arrive (bytes, or str with
    ``text=True``); :meth:`lines` yields lines without their line ending, of any length;
    :meth:`read` returns everything until end of file. Each chunk is delivered once,
    whichever of these you use. Reading never raises because the program failed: the
    stream simply ends (check the exit status with ``await proc.wait()``).

    Example::

        async with offload.spawn(["tail", "-f", "log"]) as proc:
            async for line in proc.stdout.lines():
                print(line)
    """

    def __init__(
        self,
        fd: int,
        *,
        text: bool,
        encoding: str,
        high_water: int = _HIGH_WATER,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._fd: int | None = fd
        self._text = text
        self._encoding = encoding
        self._high_water = high_water
        self._cap: int | None = None
        self._on_overflow = on_overflow
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self.eof: asyncio.Future[None] = self._loop.create_future()
        self.overflowed = False
        self._decoder = codecs.getincrementaldecoder(encoding)("replace") if text else None
        self._loop.add_reader(fd, self._readable)

    # -- the producer side (event loop callbacks) -------------------------------------

    def _readable(self) -> None:
        read_once(self._fd, _READ_SIZE, self._keep, self._finish)

    def _keep(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if self._cap is not None and self._size > self._cap:
            self.overflowed = True
            if self._on_overflow is not None:
                self._on_overflow()
            self._pause()
        elif self._cap is None and self._size >= self._high_water:
            self._pause()
        self._wake()

    def _pause(self) -> None:
        if not self._paused and self._fd is not None:
            self._paused = True
            self._loop.remove_reader(self._fd)

    def _resume(self) -> None:
        if self._paused and self._fd is not None:
            self._paused = False
            self._loop.add_reader(self._fd, self._readable)

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _finish(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            if not self._paused:
                self._loop.remove_reader(fd)
            os.close(fd)
        if not self.eof.done():
            self.eof.set_result(None)
        self._wake()

    def unbound(self, cap: int | None) -> None:
        """Keep reading whatever the consumer does (up to ``cap`` bytes buffered)."""
        self._cap = cap if cap is not None else 1 << 62
        if not self.overflowed:
            self._resume()

    def abandon(self) -> None:
        """Take what the pipe holds now and stop reading (the program is gone)."""
        fd = self._fd
        if fd is not None:
            for data in read_available(fd, _READ_SIZE, 64):
                self._chunks.append(data)
                self._size += len(data)
        self._finish()

    # -- the consumer side -------------------------------------------------------------

    async def read_chunk(self) -> bytes | None:
        """The next chunk of raw bytes, or None at end of file."""
        while not self._chunks:
            if self.eof.done():
                return None
            if self._waiter is None or self._waiter.done():
                self._waiter = self._loop.create_future()
            await self._waiter
        data = self._chunks.popleft()
        self._size -= len(data)
        if self._paused and self._size < self._high_water // 2 and not self.overflowed:
            self._resume()
        return data

    def _decode(self, data: bytes, final: bool = False) -> str:
        assert self._decoder is not None
        return self._decoder.decode(data, final)

    async def __aiter__(self) -> AsyncIterator[bytes | str]:
        while (data := await self.read_chunk()) is not None:
            if self._decoder is None:
                yield data
            elif text := self._decode(data):
                yield text
        if self._decoder is not None and (rest := self._decode(b"", True)):
            yield rest

    async def lines(self) -> AsyncIterator[bytes | str]:
        """Yield each line without its ``\\n`` (or ``\\r\\n``); no length limit.

        A last line without a newline is yielded too. With ``text=True`` lines are str,
        decoded with ``errors="replace"``.
        """
        pending = bytearray()
        while (data := await self.read_chunk()) is not None:
            start = 0
            while (end := data.find(b"\n", start)) >= 0:
                if pending:
                    pending += data[start:end]
                    line = bytes(pending)
                    pending.clear()
                else:
                    line = data[start:end]
                start = end + 1
                yield self._line(line)
            pending += data[start:]
        if pending:
            yield self._line(bytes(pending))

    def _line(self, line: bytes) -> bytes | str:
        if line.endswith(b"\r"):
            line = line[:-1]
        return line.decode(self._encoding, "replace") if self._text else line

    async def read(self) -> bytes | str:
        """Everything until end of file (what is left of it)."""
        chunks = []
        while (data := await self.read_chunk()) is not None:
            chunks.append(data)
        raw = b"".join(chunks)
        return raw.decode(self._encoding, "replace") if self._text else raw

    def close(self) -> None:
        """Stop reading and close the pipe (the program gets SIGPIPE on its next write)."""
        self._chunks.clear()
        self._size = 0
        self._finish()


class InputStream:
    """stdin of a program started by :func:`offload.spawn`.

    ``await stdin.write(data)`` returns once the pipe took all of ``data`` (so a program
    that reads slowly slows the writer down); :meth:`close` sends end of file.
    Raises :class:`offload.ChannelClosed` if the program closed its stdin (or exited),
    :class:`offload.ClosedError` after :meth:`close`.

    Example::

        async with offload.spawn(["sort"]) as proc:
            await proc.stdin.write(b"b\\na\\n")
            proc.stdin.close()
            print(await proc.stdout.read())
    """

    def __init__(self, fd: int, *, encoding: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._fd: int | None = fd
        self._encoding = encoding
        self._lock = asyncio.Lock()
        self._ready: asyncio.Future[None] | None = None

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._fd is None

    async def write(self, data: bytes | str) -> None:
        """Write all of ``data``, waiting while the pipe is full."""
        if isinstance(data, str):
            data = data.encode(self._encoding)
        view = memoryview(data)
        async with self._lock:
            while view:
                fd = self._fd
                if fd is None:
                    raise ClosedError("stdin was closed; no more input can be written")
                try:
                    written = os.write(fd, view[:_READ_SIZE])
                except BlockingIOError:
                    await self._writable(fd)
                    continue
                except (BrokenPipeError, ConnectionResetError) as exc:
                    raise ChannelClosed(
                        "the program closed its stdin (or exited) before reading all input"
                    ) from exc
                view = view[written:]

    async def _writable(self, fd: int) -> None:
        ready: asyncio.Future[None] = self._loop.create_future()
        self._ready = ready

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        self._loop.add_writer(fd, wake)
        try:
            await ready
        finally:
            self._ready = None
            if self._fd == fd:
                self._loop.remove_writer(fd)

    def close(self) -> None:
        """Close stdin: the program reads end of file. Idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            self._loop.remove_writer(fd)
            os.close(fd)
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)  # a pending write() then raises ClosedError
