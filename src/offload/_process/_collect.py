"""Collecting a program's output while it runs, and stopping it when asked.

Used by :func:`offload.run` and :func:`offload.pipe`. Both captured streams are read
at the same time straight from their file descriptors (event-loop readers, large
reads), so a program writing a lot to stdout *and* stderr never deadlocks. Input is
written through a loop writer, never blocking the loop.

A stop (timeout, token, output limit, or the caller's cancellation) runs the one
termination routine (:func:`._kill.end_group`); once the programs are reaped the pipes
are read one last time and closed, so grandchildren still holding them cannot make
the call hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from collections.abc import Sequence
from typing import Literal

from offload._fdread import read_chunk, read_once

from ._kill import end_group
from ._result import StoppedBy
from ._start import Started

__all__ = ["Collector"]

_READ_SIZE = 256 * 1024
_WRITE_SIZE = 256 * 1024
_EOF_RETRIES = 20

Overflow = Literal["kill", "truncate"]


class Collector:
    """Reads the parent-side pipes of ``programs``, feeds ``input``, stops on request."""

    def __init__(
        self,
        programs: Sequence[Started],
        out_fds: dict[str, int],
        stdin_fd: int | None,
        input_data: bytes | None,
        *,
        max_output: int | None,
        on_overflow: Overflow,
        kill_after: float,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._programs = list(programs)
        self.max_output = max_output
        self._on_overflow = on_overflow
        self.kill_after = kill_after
        self.chunks: dict[str, list[bytes]] = {name: [] for name in out_fds}
        self._sizes: dict[str, int] = dict.fromkeys(out_fds, 0)
        self._open: dict[str, int] = dict(out_fds)
        self.truncated = False
        self.stopped_by: StoppedBy = None
        self.finished_at = 0.0
        self.done: asyncio.Future[None] = self._loop.create_future()
        self._stopping: asyncio.Task[None] | None = None
        self._exited = 0
        for name, fd in out_fds.items():
            self._loop.add_reader(fd, self._readable, name)
        self._stdin_fd = stdin_fd
        self._input = memoryview(input_data or b"")
        if stdin_fd is not None:
            self._write_input()
        for program in self._programs:
            program.on_exit(self._one_exited)
        if not self._open:
            for program in self._programs:
                program.watch()

    # -- output ---------------------------------------------------------------------

    def _readable(self, name: str) -> None:
        keep, at_eof = functools.partial(self._keep, name), functools.partial(self._at_eof, name)
        read_once(self._open.get(name), _READ_SIZE, keep, at_eof)

    def _at_eof(self, name: str) -> None:
        self._close_stream(name)
        # A program that ends closes its descriptors one after the other within
        # microseconds: waiting that out here (bounded, and only while the other
        # streams stay silent) saves a loop iteration per run.
        for _ in range(_EOF_RETRIES):
            if not self._open or self._read_ready_now():
                break
            os.sched_yield()
        if not self._open:
            for program in self._programs:
                program.reap_or_watch()
        self._maybe_done()

    def _read_ready_now(self) -> bool:
        """Read the open streams once without waiting; close those at end of file.

        Returns whether any of them had data (then the program is not ending yet).
        """
        got = False
        for name, fd in list(self._open.items()):
            data = read_chunk(fd, _READ_SIZE)
            if data is None:
                continue
            if data:
                got = True
                self._keep(name, data)
            else:
                self._close_stream(name)
        return got

    def _keep(self, name: str, data: bytes) -> None:
        limit = self.max_output
        size = self._sizes[name]
        if limit is not None and size + len(data) > limit:
            if size < limit:
                self.chunks[name].append(data[: limit - size])
                self._sizes[name] = limit
            self.truncated = True
            if self._on_overflow == "kill":
                self.stop("output")
            return
        self.chunks[name].append(data)
        self._sizes[name] = size + len(data)

    def _close_stream(self, name: str) -> None:
        fd = self._open.pop(name, None)
        if fd is not None:
            self._loop.remove_reader(fd)
            os.close(fd)

    def _drain_and_close_all(self) -> None:
        """Read what is already in the pipes, without waiting, then close them."""
        if not self._open:
            return
        for name in list(self._open):
            fd = self._open[name]
            with contextlib.suppress(OSError):
                for _ in range(64):
                    data = os.read(fd, _READ_SIZE)
                    if not data:
                        break
                    self._keep(name, data)
            self._close_stream(name)

    # -- input ----------------------------------------------------------------------

    def _write_input(self) -> None:
        fd = self._stdin_fd
        if fd is None:
            return
        try:
            while self._input:
                written = os.write(fd, self._input[:_WRITE_SIZE])
                self._input = self._input[written:]
        except BlockingIOError:
            self._loop.add_writer(fd, self._write_more)
            return
        except OSError:
            pass  # the program closed its stdin: it does not want the rest
        self._close_stdin()

    def _write_more(self) -> None:
        if self._stdin_fd is not None:
            self._loop.remove_writer(self._stdin_fd)
        self._write_input()

    def _close_stdin(self) -> None:
        fd, self._stdin_fd = self._stdin_fd, None
        if fd is not None:
            self._loop.remove_writer(fd)
            os.close(fd)

    # -- ending ---------------------------------------------------------------------

    def _one_exited(self) -> None:
        self._exited += 1
        if self._exited == len(self._programs) and not self.finished_at:
            self.finished_at = time.perf_counter()
        self._maybe_done()

    def _maybe_done(self) -> None:
        if self._exited == len(self._programs) and not self._open and not self.done.done():
            self._close_stdin()
            self.done.set_result(None)

    def stop(self, reason: StoppedBy) -> None:
        """Stop the programs (SIGTERM, grace, SIGKILL) and finish without waiting for EOF."""
        if self._stopping is not None or (self.done.done() and not self.done.cancelled()):
            return
        self.stopped_by = reason
        self._stopping = self._loop.create_task(self._stop())

    async def _stop(self) -> None:
        try:
            await end_group(self._programs[0], self.kill_after, members=self._programs[1:])
        finally:
            self._drain_and_close_all()
            self._close_stdin()
            self._maybe_done()

    async def stopped(self) -> None:
        """Wait until a :meth:`stop` finished (at once if there was none)."""
        if self._stopping is not None:
            await self._stopping

    def close(self) -> None:
        """Release every fd (only after the programs were reaped)."""
        self._drain_and_close_all()
        self._close_stdin()

    def output(self, name: str) -> bytes | None:
        if name not in self.chunks:
            return None
        chunks = self.chunks[name]
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
