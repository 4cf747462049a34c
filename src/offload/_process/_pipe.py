"""``offload.pipe``: programs connected stdout to stdin at the file descriptor level.

::

    input ─> argv1 ─os.pipe─> argv2 ─os.pipe─> ... ─> argvN ─> result.stdout
                 └──────────── stderr of all ─────────────────> result.stderr

The data never passes through Python between the programs. All programs share one
process group (the first one's), so a timeout or cancellation ends the whole pipeline
at once. The exit status follows a shell's ``pipefail``: the rightmost program that
failed decides, except that a program killed by SIGPIPE because a later one stopped
reading (``yes | head -1``) is not a failure.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from typing import Any, Literal, Unpack, overload

from offload._cancel import CancelToken

from ._collect import Collector, Overflow
from ._kill import DEFAULT_KILL_AFTER, end_group, to_the_end
from ._limits import Limits
from ._result import ProcessResult
from ._run import DEFAULT_MAX_OUTPUT, Argv, PipeOptions, finish, prepare
from ._start import Started

__all__ = ["pipe"]


@overload
async def pipe(
    *argvs: Argv, text: Literal[False] = False, **options: Unpack[PipeOptions]
) -> ProcessResult[bytes]: ...


@overload
async def pipe(
    *argvs: Argv, text: Literal[True], **options: Unpack[PipeOptions]
) -> ProcessResult[str]: ...


@overload
async def pipe(*argvs: Argv, text: bool, **options: Unpack[PipeOptions]) -> ProcessResult[Any]: ...


async def pipe(
    *argvs: Argv,
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
    limits: Limits | Mapping[str, int] | None = None,
    token: CancelToken | None = None,
) -> ProcessResult[Any]:
    """Run programs as a pipeline (``argv1 | argv2 | ...``) and return the result.

    Each program's stdout feeds the next one's stdin through an OS pipe. The result
    has the last program's stdout and every program's stderr; its ``argv``, ``pid``
    and ``returncode`` are those of the program that failed (pipefail: the rightmost
    failure; a SIGPIPE death upstream is not one), else of the last program. Timeout,
    token, ``max_output``, ``limits`` (applied to each program) work as in
    :func:`offload.run`, for the whole pipeline.

    Raises :class:`offload.ProcessFailed` (with ``check=True``),
    :class:`offload.ProgramNotFound` (nothing keeps running), ``TypeError`` for a
    string argv, ``ValueError`` without programs.

    Example::

        result = await offload.pipe(["git", "log", "--oneline"], ["grep", "fix"],
                                    ["wc", "-l"], text=True)
        print(int(result.stdout))
    """
    if not argvs:
        raise ValueError("offload.pipe() needs at least one program")
    plan = prepare(argvs, "offload.pipe", False, token, cwd, env, inherit_env, limits)
    if isinstance(input, str):
        input = input.encode(encoding)
    err_read, err_write = os.pipe()
    os.set_blocking(err_read, False)
    programs: list[Started] = []
    upstream: int | None = None
    try:
        for index in range(len(plan.commands)):
            last = index == len(plan.commands) - 1
            if last:
                downstream_read, downstream_write = None, None
            else:
                downstream_read, downstream_write = os.pipe()
            try:
                programs.append(
                    plan.start(
                        index,
                        stdin=upstream
                        if upstream is not None
                        else ("pipe" if input is not None else "devnull"),
                        stdout="pipe" if last else downstream_write,
                        stderr=err_write,
                        process_group=programs[0].pgid if programs else 0,
                    )
                )
            except BaseException:
                if downstream_read is not None:
                    os.close(downstream_read)
                raise
            finally:
                if downstream_write is not None:
                    os.close(downstream_write)
                if upstream is not None:
                    os.close(upstream)
                upstream = downstream_read
    except BaseException:
        os.close(err_read)
        os.close(err_write)
        for program in programs:
            for fd in program.fds.values():
                os.close(fd)
        if programs:
            await to_the_end(end_group(programs[0], kill_after, members=programs[1:]))
        raise
    os.close(err_write)
    collector = Collector(
        programs,
        {"stdout": programs[-1].fds["stdout"], "stderr": err_read},
        programs[0].fds.get("stdin"),
        input,
        max_output=max_output,
        on_overflow=on_overflow,
        kill_after=kill_after,
    )

    def failing() -> Started:
        for program in reversed(programs):
            code = program.returncode
            upstream_sigpipe = program is not programs[-1] and code == -signal.SIGPIPE
            if code and not upstream_sigpipe:
                return program
        return programs[-1]

    result = await finish(
        programs,
        collector,
        timeout=timeout,
        token=token,
        text=text,
        encoding=encoding,
        report=failing,
    )
    return result.check() if check else result
