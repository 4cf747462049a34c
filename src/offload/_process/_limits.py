"""Resource limits for a program: memory, CPU seconds, open files, nice.

Limits are applied in the child between fork and exec (``setrlimit`` and ``nice`` in a
``preexec_fn``), so they hold from the program's first instruction. That costs the
vfork fast path of :mod:`subprocess` (roughly 1 ms more per start on a small parent),
which is why it is done only when limits are asked for.
"""

from __future__ import annotations

import os
import resource
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

__all__ = ["Limits", "as_limits", "describe_limit_stop"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits for a program started by :func:`offload.run` / :func:`offload.spawn`.

    ``memory``: bytes of address space (``RLIMIT_AS``); ``cpu_seconds``: CPU time, after
    which the program gets SIGXCPU (``RLIMIT_CPU``); ``open_files``: file descriptors
    (``RLIMIT_NOFILE``); ``nice``: niceness added to the program's priority.
    A plain dict with the same keys works too. Raises ``ValueError`` for negative values.

    Example::

        await offload.run(["convert", "big.png", "out.jpg"],
                          limits=offload.Limits(memory=512 * 2**20, cpu_seconds=30))
    """

    memory: int | None = None
    cpu_seconds: int | None = None
    open_files: int | None = None
    nice: int | None = None

    def __post_init__(self) -> None:
        for name in ("memory", "cpu_seconds", "open_files"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"Limits.{name} must be a non-negative int, got {value!r}")
        if self.nice is not None and not isinstance(self.nice, int):
            raise ValueError(f"Limits.nice must be an int, got {self.nice!r}")

    def preexec(self) -> Callable[[], None]:
        """The function run in the child before exec that applies the limits."""
        settings: list[tuple[int, int]] = []
        if self.memory is not None:
            settings.append((resource.RLIMIT_AS, self.memory))
        if self.open_files is not None:
            settings.append((resource.RLIMIT_NOFILE, self.open_files))
        cpu = self.cpu_seconds
        nice = self.nice

        def apply() -> None:
            for which, value in settings:
                resource.setrlimit(which, (value, value))
            if cpu is not None:
                # The soft limit sends SIGXCPU (reported in words); the hard limit one
                # second later is the SIGKILL backstop for programs that ignore it.
                resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            if nice:
                os.nice(nice)

        return apply


def as_limits(limits: Limits | Mapping[str, int] | None) -> Limits | None:
    """Accept a :class:`Limits`, a dict with its field names, or None."""
    if limits is None or isinstance(limits, Limits):
        return limits
    if isinstance(limits, Mapping):
        known = {f.name for f in fields(Limits)}
        unknown = set(limits) - known
        if unknown:
            raise TypeError(f"unknown limits {sorted(unknown)}; known: {sorted(known)}")
        return Limits(**limits)
    raise TypeError(f"limits must be offload.Limits or a dict, not {type(limits).__name__}")


_MEMORY_SIGNS = (b"MemoryError", b"Cannot allocate memory", b"out of memory", b"bad_alloc")


def describe_limit_stop(
    limits: Limits | None, returncode: int | None, stderr_tail: bytes
) -> str | None:
    """Say in words which limit stopped the program, or None if none did."""
    if returncode is None or returncode == 0:
        return None
    sig = -returncode if returncode < 0 else None
    if sig == signal.SIGXCPU or (
        sig == signal.SIGKILL and limits is not None and limits.cpu_seconds is not None
    ):
        if limits is not None and limits.cpu_seconds is not None:
            return f"CPU time limit exceeded ({limits.cpu_seconds} s)"
        return "CPU time limit exceeded"
    if sig == signal.SIGXFSZ:
        return "file size limit exceeded"
    if limits is not None and limits.memory is not None:
        crashed = sig in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGKILL)
        if crashed or any(sign in stderr_tail for sign in _MEMORY_SIGNS):
            return f"memory limit exceeded ({limits.memory} bytes of address space)"
    return None
