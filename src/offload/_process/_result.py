"""The result of a finished program, and the ProcessFailed raised from it."""

from __future__ import annotations

import shlex
import signal as _signal
from dataclasses import dataclass, field
from typing import Any, AnyStr, Generic, Literal

from offload._errors import ProcessFailed

__all__ = ["ProcessResult", "StopReason", "StoppedBy", "signal_name"]

StoppedBy = Literal["timeout", "cancel", "output"] | None
_TAIL_LINES = 20
_TAIL_CHARS = 4000


def signal_name(number: int) -> str:
    """``SIGKILL`` for 9; the bare number for unknown signals."""
    try:
        return _signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class StopReason:
    """``timed_out`` and ``cancelled``, read from ``stopped_by``: why offload stopped a
    program (a finished one's :class:`ProcessResult`, or a running :class:`Process`)."""

    __slots__ = ()

    stopped_by: StoppedBy

    @property
    def timed_out(self) -> bool:
        """True when offload stopped the program because ``timeout`` passed."""
        return self.stopped_by == "timeout"

    @property
    def cancelled(self) -> bool:
        """True when offload stopped the program because its ``token`` was cancelled."""
        return self.stopped_by == "cancel"


@dataclass(frozen=True, slots=True)
class ProcessResult(StopReason, Generic[AnyStr]):
    """What a finished program did: returned by :func:`offload.run` and :func:`offload.pipe`.

    ``returncode`` is negative when a signal ended the program (as in :mod:`subprocess`);
    ``signal`` is that signal's number, else None. ``stopped_by`` says why offload
    stopped it (``"timeout"``, ``"cancel"``, ``"output"``) or is None; ``timed_out`` and
    ``cancelled`` are shorthands. ``stdout``/``stderr`` are bytes
    (``ProcessResult[bytes]``; str and ``ProcessResult[str]`` with ``text=True``) or None
    when not captured. ``limit`` names, in words, a resource
    limit that stopped the program. :meth:`check` raises :class:`offload.ProcessFailed`.

    Example::

        result = await offload.run(["git", "rev-parse", "HEAD"], text=True)
        print(result.stdout.strip(), result.duration)
    """

    argv: tuple[str, ...]
    pid: int
    returncode: int
    stdout: AnyStr | None
    stderr: AnyStr | None
    duration: float
    stopped_by: StoppedBy = None
    output_truncated: bool = False
    limit: str | None = None
    timeout: float | None = field(default=None, repr=False)
    kill_after: float | None = field(default=None, repr=False)
    max_output: int | None = field(default=None, repr=False)

    @property
    def signal(self) -> int | None:
        """The number of the signal that ended the program, or None."""
        return -self.returncode if self.returncode < 0 else None

    @property
    def ok(self) -> bool:
        """True when the program exited with status 0 and was not stopped by offload."""
        return self.returncode == 0 and self.stopped_by is None

    def describe(self) -> str:
        """One sentence saying how the program ended."""
        command = shlex.join(self.argv)
        if self.timed_out:
            what = f"timed out after {self.timeout} s and was stopped"
        elif self.cancelled:
            what = "was cancelled and stopped"
        elif self.stopped_by == "output":
            what = f"wrote more than max_output={self.max_output} bytes and was stopped"
        elif self.limit is not None:
            what = f"was stopped: {self.limit}"
        elif self.signal is not None:
            what = f"was killed by {signal_name(self.signal)}"
        else:
            what = f"exited with status {self.returncode}"
        if self.stopped_by is not None and self.signal:
            what += f" ({signal_name(self.signal)})"
        return f"command {command!r} (pid {self.pid}) {what}"

    def check(self) -> ProcessResult[AnyStr]:
        """Return self if :attr:`ok`, else raise :class:`offload.ProcessFailed`.

        Example::

            result = (await offload.run(["make"], check=False)).check()
        """
        if self.ok:
            return self
        raise ProcessFailed(
            self.describe() + _hint(self) + _stderr_tail(self.stderr),
            argv=self.argv,
            pid=self.pid,
            returncode=self.returncode,
            signal=self.signal,
            stdout=self.stdout,
            stderr=self.stderr,
            duration=self.duration,
            timed_out=self.timed_out,
            cancelled=self.cancelled,
            output_truncated=self.output_truncated,
            limit=self.limit,
        )


def _hint(result: ProcessResult[Any]) -> str:
    if result.timed_out:
        return "; raise timeout= if it needs longer"
    if result.stopped_by == "output":
        return '; raise max_output= or pass on_overflow="truncate"'
    if result.limit is not None:
        return "; raise limits= if the program needs more"
    return ""


def _stderr_tail(stderr: bytes | str | None) -> str:
    if not stderr:
        return ""
    text = stderr if isinstance(stderr, str) else stderr.decode("utf-8", "replace")
    lines = text.rstrip("\n").splitlines()[-_TAIL_LINES:]
    tail = "\n".join(lines)[-_TAIL_CHARS:]
    return f"\nstderr (last {len(lines)} lines):\n{tail}"
