"""``offload.spawn``: a running program with streams, signals and a guaranteed end."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from offload._cancel import CancelToken
from offload._loop import call_in_loop

from ._handle import ChildHandle
from ._kill import DEFAULT_KILL_AFTER, end_group, to_the_end
from ._limits import Limits
from ._result import StoppedBy, StopReason
from ._run import DEFAULT_MAX_OUTPUT, Argv, prepare
from ._start import Started, StdSpec
from ._streams import InputStream, OutputStream

__all__ = ["Process", "spawn"]


class Process(ChildHandle, StopReason):
    """A program started by :func:`offload.spawn`: its streams, signals and exit.

    ``stdin`` / ``stdout`` / ``stderr`` are :class:`InputStream` / :class:`OutputStream`
    objects when piped, else None. Signals go to the program's whole process group.
    Leaving ``async with`` ends a program that still runs (SIGTERM, then SIGKILL after
    ``kill_after``) and closes the pipes. ``spawn`` raises
    :class:`offload.ProgramNotFound` for a missing program; ``await proc.wait()``
    returns the exit status rather than raising for a failed program.

    Example::

        async with offload.spawn(["sort"], stdin="pipe", text=True) as proc:
            await proc.stdin.write("b\na\n")
            proc.stdin.close()
            print(await proc.stdout.read())
    """

    def __init__(
        self,
        started: Started,
        *,
        text: bool,
        encoding: str,
        kill_after: float,
        max_output: int | None,
        buffer_size: int,
        timeout: float | None,
        token: CancelToken | None,
    ) -> None:
        self._started = started
        self._loop = asyncio.get_running_loop()
        self._kill_after = kill_after
        self._max_output = max_output
        self._stopping: asyncio.Task[None] | None = None
        self.stopped_by: StoppedBy = None
        """Why offload stopped the program: "timeout", "cancel", "output", or None."""
        fds = started.fds
        self.stdin = InputStream(fds["stdin"], encoding=encoding) if "stdin" in fds else None
        self.stdout = self._output(fds.get("stdout"), text, encoding, buffer_size)
        self.stderr = self._output(fds.get("stderr"), text, encoding, buffer_size)
        started.watch()
        self._timer = (
            self._loop.call_later(timeout, self._stop_for, "timeout")
            if timeout is not None
            else None
        )
        self._remove_token: Any = None
        if token is not None:
            loop = self._loop

            def on_cancel(_: CancelToken) -> None:
                call_in_loop(loop, self._stop_for, "cancel")

            self._remove_token = token.on_cancel(on_cancel)

    def _output(
        self, fd: int | None, text: bool, encoding: str, buffer_size: int
    ) -> OutputStream | None:
        if fd is None:
            return None
        return OutputStream(
            fd,
            text=text,
            encoding=encoding,
            high_water=buffer_size,
            on_overflow=lambda: self._stop_for("output"),
        )

    def __repr__(self) -> str:
        state = "running" if self.returncode is None else f"returncode={self.returncode}"
        return f"<offload.Process pid={self.pid} {self.argv!r} {state}>"

    @property
    def argv(self) -> tuple[str, ...]:
        """The command line that was started."""
        return tuple(self._started.argv)

    @property
    def returncode(self) -> int | None:
        """Exit status once the program exited (negative: killed by that signal)."""
        return self._started.returncode if self._started.exited.done() else None

    @property
    def signal(self) -> int | None:
        """The signal that ended the program, or None."""
        code = self.returncode
        return -code if code is not None and code < 0 else None

    def _finished(self) -> bool:
        streams = (self.stdout, self.stderr)
        return self._started.exited.done() and all(
            stream is None or stream.eof.done() for stream in streams
        )

    def _stop_for(self, reason: StoppedBy) -> None:
        # Also when the program exited but something in its group still holds a pipe.
        if self._stopping is None and not self._finished():
            self.stopped_by = reason
            self._stopping = self._loop.create_task(self._end(self._kill_after))

    async def _end(self, kill_after: float) -> None:
        try:
            await end_group(self._started, kill_after)
        finally:
            for stream in (self.stdout, self.stderr):
                if stream is not None:
                    stream.abandon()

    async def stop(self, kill_after: float | None = None) -> int:
        """End the program: SIGTERM to its group, SIGKILL after ``kill_after`` seconds.

        Returns the exit status; finishes even if the caller is cancelled meanwhile.

        Example::

            code = await proc.stop(kill_after=5)
        """
        if self._stopping is None:
            grace = self._kill_after if kill_after is None else kill_after
            self._stopping = self._loop.create_task(self._end(grace))
        await to_the_end(self._stopping)
        code = self._started.returncode
        assert code is not None
        return code

    async def wait(self) -> int:
        """Wait until the program exited *and* its stdout/stderr reached end of file.

        Output nobody read stays available (``await proc.stdout.read()``), so no tail is
        lost; while waiting, up to ``max_output`` bytes per stream are buffered instead
        of blocking the program. Returns the exit status (negative: a signal).
        """
        for stream in (self.stdout, self.stderr):
            if stream is not None:
                stream.unbound(self._max_output)
        await asyncio.shield(self._started.exited)
        for stream in (self.stdout, self.stderr):
            if stream is not None:
                await asyncio.shield(stream.eof)
        if self._stopping is not None:
            await to_the_end(self._stopping)
        code = self._started.returncode
        assert code is not None
        return code

    async def aclose(self) -> None:
        """End the program if it still runs, close every pipe. Idempotent."""
        try:
            if not self._started.exited.done():
                await self.stop()
            else:
                await to_the_end(self._started.exited)
        finally:
            if self._timer is not None:
                self._timer.cancel()
            if self._remove_token is not None:
                self._remove_token()
                self._remove_token = None
            if self.stdin is not None:
                self.stdin.close()
            for stream in (self.stdout, self.stderr):
                if stream is not None:
                    stream.close()


def spawn(
    argv: Argv,
    *,
    stdin: StdSpec = "pipe",
    stdout: StdSpec = "pipe",
    stderr: StdSpec = "pipe",
    timeout: float | None = None,
    kill_after: float = DEFAULT_KILL_AFTER,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    text: bool = False,
    encoding: str = "utf-8",
    max_output: int | None = DEFAULT_MAX_OUTPUT,
    buffer_size: int = 4 << 20,
    limits: Limits | Mapping[str, int] | None = None,
    token: CancelToken | None = None,
    shell: bool = False,
    detached: bool = False,
) -> Process:
    """Start a program and return a :class:`offload.Process` to stream to and from.

    Use it as ``async with offload.spawn([...]) as proc:``; leaving the block ends the
    program if it still runs. stdin/stdout/stderr are pipes by default (``"inherit"``,
    ``"devnull"``, a file or an fd also work; stderr may be ``"stdout"``). At most
    ``buffer_size`` bytes of unread output are buffered per stream before the program
    is made to wait. ``timeout`` and ``token`` stop it like :func:`offload.run` does.
    Children never outlive the parent unless ``detached=True``.

    Raises :class:`offload.ProgramNotFound`, ``TypeError`` for a string argv (see
    :func:`shlex.split`), :class:`offload.Cancelled` if ``token`` is already cancelled.

    Example::

        async with offload.spawn(["ping", "-c", "3", "localhost"], text=True) as proc:
            async for line in proc.stdout.lines():
                print(line)
            code = await proc.wait()
    """
    plan = prepare([argv], "offload.spawn", shell, token, cwd, env, inherit_env, limits)
    started = plan.start(
        0, stdin=stdin, stdout=stdout, stderr=stderr, detached=detached, big_pipes=True
    )
    return Process(
        started,
        text=text,
        encoding=encoding,
        kill_after=kill_after,
        max_output=max_output,
        buffer_size=buffer_size,
        timeout=timeout,
        token=token,
    )
