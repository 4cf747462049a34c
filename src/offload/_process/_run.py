"""``offload.run``: run a program to completion and get its output, with a timeout that kills."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypedDict, Unpack, overload

from offload._cancel import CancelToken
from offload._errors import Cancelled
from offload._loop import call_in_loop

from ._collect import Collector, Overflow
from ._kill import DEFAULT_KILL_AFTER, to_the_end
from ._limits import Limits, as_limits, describe_limit_stop
from ._result import ProcessResult
from ._start import Plan, Started, StdSpec, normalize_argv

__all__ = ["DEFAULT_MAX_OUTPUT", "PipeOptions", "RunOptions", "finish", "prepare", "run"]

DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024

Argv = Sequence[str | bytes | os.PathLike[str]] | str


class PipeOptions(TypedDict, total=False):
    """The keyword arguments of :func:`offload.pipe` other than ``text``."""

    input: bytes | str | None
    timeout: float | None
    kill_after: float
    check: bool
    cwd: str | os.PathLike[str] | None
    env: Mapping[str, str] | None
    inherit_env: bool
    max_output: int | None
    on_overflow: Overflow
    encoding: str
    limits: Limits | Mapping[str, int] | None
    token: CancelToken | None


class RunOptions(PipeOptions, total=False):
    """The keyword arguments of :func:`offload.run` other than ``text``: those of a
    pipeline plus the ones that only make sense for one program."""

    stdout: StdSpec
    stderr: StdSpec
    shell: bool
    detached: bool


@overload
async def run(
    argv: Argv, *, text: Literal[False] = False, **options: Unpack[RunOptions]
) -> ProcessResult[bytes]: ...


@overload
async def run(
    argv: Argv, *, text: Literal[True], **options: Unpack[RunOptions]
) -> ProcessResult[str]: ...


@overload
async def run(argv: Argv, *, text: bool, **options: Unpack[RunOptions]) -> ProcessResult[Any]: ...


async def run(
    argv: Argv,
    *,
    input: bytes | str | None = None,
    timeout: float | None = None,
    kill_after: float = DEFAULT_KILL_AFTER,
    check: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    max_output: int | None = DEFAULT_MAX_OUTPUT,
    on_overflow: Overflow = "kill",
    text: bool = False,
    encoding: str = "utf-8",
    stdout: StdSpec = "pipe",
    stderr: StdSpec = "pipe",
    limits: Limits | Mapping[str, int] | None = None,
    token: CancelToken | None = None,
    shell: bool = False,
    detached: bool = False,
) -> ProcessResult[Any]:
    """Run a program to completion and return its :class:`offload.ProcessResult`.

    ``argv`` is a list (``["grep", "-n", word, path]``): no shell, no injection. A
    string is refused (use :func:`shlex.split`) unless ``shell=True``. stdout and
    stderr are captured concurrently (never deadlocks), each up to ``max_output`` bytes
    (default 64 MiB): past that the program is stopped (``on_overflow="kill"``) or the
    rest is discarded (``"truncate"``). ``text=True`` decodes with ``errors="replace"``.
    ``env`` adds to the parent's environment (``inherit_env=False``: replaces it).

    ``timeout`` (seconds) or a cancelled ``token`` stops the program: SIGTERM to its
    whole process group, SIGKILL ``kill_after`` seconds later; the call returns once the
    program is gone. Cancelling the awaiting task does the same and re-raises.

    Raises :class:`offload.ProcessFailed` (``check=True``) on a non-zero exit, a signal,
    a timeout, a cancelled token or an output overflow; :class:`offload.ProgramNotFound`
    if the program is missing or not executable; :class:`offload.Cancelled` if
    ``token`` was cancelled before the start; ``TypeError`` for a string argv.

    Example::

        result = await offload.run(["git", "status", "--short"], timeout=10, text=True)
        for line in result.stdout.splitlines():
            ...
    """
    plan = prepare([argv], "offload.run", shell, token, cwd, env, inherit_env, limits)
    if isinstance(input, str):
        input = input.encode(encoding)
    started = plan.start(
        0,
        stdin="pipe" if input is not None else "devnull",
        stdout=stdout,
        stderr=stderr,
        detached=detached,
    )
    fds = started.fds
    collector = Collector(
        [started],
        {name: fds[name] for name in ("stdout", "stderr") if name in fds},
        fds.get("stdin"),
        input,
        max_output=max_output,
        on_overflow=on_overflow,
        kill_after=kill_after,
    )
    result = await finish(
        [started], collector, timeout=timeout, token=token, text=text, encoding=encoding
    )
    return result.check() if check else result


def prepare(
    argvs: Sequence[Argv],
    caller: str,
    shell: bool,
    token: CancelToken | None,
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
    inherit_env: bool,
    limits: Limits | Mapping[str, int] | None,
) -> Plan:
    """Check what ``caller`` (``"offload.run"``) was asked to start, the argv lists and
    the limits, and return the plan that starts them; raises Cancelled, starting
    nothing, when ``token`` is already cancelled."""
    commands = [normalize_argv(argv, shell, caller) for argv in argvs]
    plan = Plan(commands, cwd, env, inherit_env, as_limits(limits))
    if token is not None and token.cancelled:
        raise Cancelled(token.reason)
    return plan


async def finish(
    programs: list[Started],
    collector: Collector,
    *,
    timeout: float | None,
    token: CancelToken | None,
    text: bool,
    encoding: str,
    report: Callable[[], Started] | None = None,
) -> ProcessResult[Any]:
    """Wait for ``collector`` (stopping on timeout/token/cancellation) and build the result.

    ``report``: picks the program the result describes, once all ended (default: the
    last one).
    """
    loop = asyncio.get_running_loop()
    timer = loop.call_later(timeout, collector.stop, "timeout") if timeout is not None else None
    remove: Any = None
    if token is not None:

        def on_cancel(_: CancelToken) -> None:
            call_in_loop(loop, collector.stop, "cancel")

        remove = token.on_cancel(on_cancel)
    try:
        await collector.done
    except BaseException:
        # The awaiting task was cancelled (or the loop is going away): the programs
        # must still end and be reaped before the cancellation goes on.
        collector.stop(collector.stopped_by or "cancel")
        await to_the_end(collector.stopped())
        raise
    finally:
        if timer is not None:
            timer.cancel()
        if remove is not None:
            remove()
        collector.close()
    first = programs[0]
    last = report() if report is not None else programs[-1]
    code = last.returncode
    assert code is not None
    stdout: Any = collector.output("stdout")
    stderr: Any = collector.output("stderr")
    ended = collector.finished_at or time.perf_counter()
    result: ProcessResult[Any] = ProcessResult(
        argv=tuple(last.argv),
        pid=last.pid,
        returncode=code,
        stdout=stdout.decode(encoding, "replace") if text and stdout is not None else stdout,
        stderr=stderr.decode(encoding, "replace") if text and stderr is not None else stderr,
        duration=ended - first.started_at,
        stopped_by=collector.stopped_by,
        output_truncated=collector.truncated,
        limit=describe_limit_stop(last.limits, code, (stderr or b"")[-4096:]),
        timeout=timeout,
        kill_after=collector.kill_after,
        max_output=collector.max_output,
    )
    return result
