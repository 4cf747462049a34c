"""Starting a program: argv checks, stdio, its own process group, exit notification.

Every program offload starts goes through :func:`start`. The common case (no ``cwd``,
no limits, no extra descriptors) uses :func:`os.posix_spawn`, which libc implements
with a vfork-like clone and which skips :class:`subprocess.Popen`'s Python-level
bookkeeping; the other cases use Popen without a ``preexec_fn`` (unless limits are asked
for), so CPython still takes its vfork fast path. Either way the child starts in a new
process group (its pid is the group id) so that a group kill reaches grandchildren.

Exit is noticed through a pidfd watched by the event loop (no child watcher thread),
or, when the child's output pipes reach end of file first, by reaping it right away;
kernels without ``pidfd_open`` fall back to one waiting thread per child.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import resource
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal, Protocol

from offload import _reaper
from offload._errors import ProcessError, ProgramNotFound
from offload._loop import call_in_loop

from ._limits import Limits

__all__ = ["Plan", "Started", "StdSpec", "normalize_argv", "start", "start_error"]

StdSpec = Literal["pipe", "inherit", "devnull", "stdout"] | int | IO[Any] | None
_PIPE_SIZE = 1 << 20
_REAP_RETRIES = 20
_F_SETPIPE_SZ = 1031


def normalize_argv(argv: object, shell: bool, caller: str) -> list[str]:
    """Check argv and turn it into a list of strings (``/bin/sh -c`` for ``shell=True``)."""
    if shell:
        if not isinstance(argv, str):
            raise TypeError(
                f"{caller}(shell=True) takes the command line as one string, "
                f"not {type(argv).__name__}"
            )
        return ["/bin/sh", "-c", argv]
    if isinstance(argv, str | bytes):
        raise TypeError(
            f"{caller}() takes argv as a list of strings, not one string: use "
            f"shlex.split({argv!r}) to split a command line, or pass shell=True to run it "
            "through /bin/sh (only with trusted input)"
        )
    if not isinstance(argv, Sequence | tuple | list):
        raise TypeError(f"{caller}() takes argv as a list of strings, not {type(argv).__name__}")
    items: list[str] = []
    for item in argv:
        if isinstance(item, bytes):
            items.append(os.fsdecode(item))
        elif isinstance(item, str | os.PathLike):
            items.append(os.fspath(item))
        else:
            raise TypeError(
                f"{caller}(): every argv item must be a str, bytes or path, "
                f"got {type(item).__name__} {item!r}"
            )
    if not items:
        raise ValueError(f"{caller}() got an empty argv: name the program to run")
    return items


def _child_env(env: Mapping[str, str] | None, inherit_env: bool) -> dict[str, str] | None:
    if env is None:
        return None if inherit_env else {}
    merged = dict(os.environ) if inherit_env else {}
    for key, value in env.items():
        merged[_env_text(key, "name", key)] = _env_text(value, "value", key)
    return merged


def _env_text(item: object, what: str, key: object) -> str:
    """An environment name or value as str; anything but str, bytes or a path is refused."""
    if isinstance(item, str):
        return item
    if isinstance(item, bytes | os.PathLike):
        return os.fsdecode(item)
    hint = (
        "; to leave a variable out of an inherited environment, pass inherit_env=False "
        "with the variables to keep"
        if item is None
        else f"; pass str({item!r}) if that is meant"
    )
    raise TypeError(
        f"env {what}s must be str, bytes or a path, got {type(item).__name__} for {key!r}{hint}"
    )


class _Stdio:
    """Resolves the stdin/stdout/stderr specs into Popen arguments and parent-side fds."""

    def __init__(self) -> None:
        self.close_after_start: list[int] = []
        self.parent_fds: dict[str, int] = {}

    def resolve(self, name: str, spec: StdSpec, pipe_size: bool) -> Any:
        if spec == "pipe":
            read_end, write_end = os.pipe()
            if name == "stdin":
                child_end, parent_end = read_end, write_end
            else:
                child_end, parent_end = write_end, read_end
                if pipe_size:
                    # Big reads mean fewer wake-ups of the loop when output streams.
                    with contextlib.suppress(OSError):
                        import fcntl

                        fcntl.fcntl(write_end, _F_SETPIPE_SZ, _PIPE_SIZE)
            os.set_blocking(parent_end, False)
            self.close_after_start.append(child_end)
            self.parent_fds[name] = parent_end
            return child_end
        if spec == "inherit":
            return None
        if spec == "devnull" or spec is None:
            return subprocess.DEVNULL
        if spec == "stdout":
            if name != "stderr":
                raise ValueError(f'{name}="stdout" only makes sense for stderr')
            return subprocess.STDOUT
        if isinstance(spec, int) or hasattr(spec, "fileno"):
            return spec
        raise ValueError(
            f'{name} must be "pipe", "inherit", "devnull", a file descriptor or a file, '
            f"not {spec!r}"
        )

    def close_all(self) -> None:
        for fd in [*self.close_after_start, *self.parent_fds.values()]:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.close_after_start.clear()
        self.parent_fds.clear()


class _Child(Protocol):
    """What :class:`Started` needs of a child: :class:`subprocess.Popen` or :class:`_Spawned`."""

    pid: int

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...

    def wait(self) -> int: ...

    def send_signal(self, sig: int) -> None: ...


class _Spawned:
    """A child started with :func:`os.posix_spawn`: the part of Popen's API we use."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def _reap(self, flags: int) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, flags)
            except ChildProcessError:
                # Someone else reaped it (a SIGCHLD handler set to SIG_IGN, os.wait()):
                # the status is lost; say "failed" rather than invent a success.
                self.returncode = 255
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        return self._reap(os.WNOHANG)

    def wait(self) -> int:
        code = self._reap(0)
        assert code is not None
        return code

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)


class Started:
    """A started child: pid, process group, parent-side pipe fds and an exit future."""

    def __init__(
        self,
        argv: list[str],
        popen: _Child,
        fds: dict[str, int],
        pgid: int,
        detached: bool,
        limits: Limits | None,
        started_at: float,
    ) -> None:
        self.argv = argv
        self.popen = popen
        self.pid = popen.pid
        self.pgid = pgid
        self.fds = fds
        self.detached = detached
        self.limits = limits
        self.started_at = started_at
        self.exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._watching = False
        self._on_exit: list[Callable[[], None]] = []

    @property
    def returncode(self) -> int | None:
        """The exit status once reaped (negative: killed by that signal), else None."""
        return self.popen.returncode

    def watch(self) -> None:
        """Resolve :attr:`exited` when the child exits (idempotent).

        Callers that will see the child's pipes close first call :meth:`reap_or_watch`
        then instead: a child that closed its output has usually exited already, and
        then no pidfd is needed at all.
        """
        if self._watching or self.exited.done():
            return
        self._watching = True
        loop = self.exited.get_loop()
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self._watch_with_thread(loop)
            return

        def ready() -> None:
            if self.popen.poll() is None:
                return
            loop.remove_reader(pidfd)
            os.close(pidfd)
            self._reaped()

        loop.add_reader(pidfd, ready)

    def reap_or_watch(self) -> None:
        """Reap the child now if it has exited, else start watching for its exit."""
        if self.exited.done():
            return
        # A child that closed its output is almost always a few microseconds from
        # being reapable (the kernel closes files just before it reports the exit):
        # a short bounded retry saves the pidfd and a loop iteration per run.
        for _ in range(_REAP_RETRIES):
            if self.popen.poll() is not None:
                self._reaped()
                return
            os.sched_yield()
        self.watch()

    def _watch_with_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        def wait() -> None:
            self.popen.wait()
            call_in_loop(loop, self._reaped)  # a closed loop: nobody is left to tell

        threading.Thread(target=wait, name=f"offload-wait-{self.pid}", daemon=True).start()

    def on_exit(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` right when the child is reaped (no extra loop iteration)."""
        self._on_exit.append(callback)

    def _reaped(self) -> None:
        if not self.detached:
            _reaper.unregister(self.pgid)
        if not self.exited.done():
            assert self.popen.returncode is not None
            self.exited.set_result(self.popen.returncode)
            callbacks, self._on_exit = self._on_exit, []
            for callback in callbacks:
                callback()


_HAVE_POSIX_SPAWN = hasattr(os, "posix_spawn")
# Stdio specs the posix_spawn path handles: our own pipe ends are plain fds >= 3 too.
_SIMPLE_SPECS = (None, subprocess.DEVNULL, subprocess.STDOUT)


class _SimpleSpecs:
    def __contains__(self, spec: object) -> bool:
        return spec in _SIMPLE_SPECS or (isinstance(spec, int) and spec >= 3)


_SIMPLE = _SimpleSpecs()
_DEFAULT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name)
)


def _posix_spawn(
    argv: list[str], stdio: tuple[Any, Any, Any], env: dict[str, str] | None, pgroup: int | None
) -> _Spawned:
    """Start with posix_spawn (vfork-like in libc, no Python between fork and exec)."""
    actions: list[tuple[Any, ...]] = []
    for target, spec in enumerate(stdio):
        if spec == subprocess.DEVNULL:
            flags = os.O_RDONLY if target == 0 else os.O_WRONLY
            actions.append((os.POSIX_SPAWN_OPEN, target, os.devnull, flags, 0))
        elif spec == subprocess.STDOUT:
            actions.append((os.POSIX_SPAWN_DUP2, 1, 2))
        elif spec is not None:
            actions.append((os.POSIX_SPAWN_DUP2, spec, target))
    program = argv[0]
    # os.environ as a mapping is converted item by item in Python on every call; its
    # backing dict of bytes (kept current by os.environ itself) is read in C.
    environment: Mapping[Any, Any] = (
        getattr(os.environ, "_data", os.environ) if env is None else env
    )
    kwargs: dict[str, Any] = {
        "file_actions": actions,
        "setsigdef": _DEFAULT_SIGNALS,
    }
    if pgroup is None:
        kwargs["setsid"] = True
    else:
        kwargs["setpgroup"] = pgroup
    if os.sep in program:
        pid = os.posix_spawn(program, argv, environment, **kwargs)
    elif env is None or env.get("PATH") == os.environ.get("PATH"):
        pid = os.posix_spawnp(program, argv, environment, **kwargs)
    else:
        found = shutil.which(program, path=env.get("PATH", os.defpath))
        if found is None:
            raise FileNotFoundError(2, "No such file or directory", program)
        pid = os.posix_spawn(found, argv, environment, **kwargs)
    return _Spawned(pid)


def _popen(
    argv: list[str],
    stdio: tuple[Any, Any, Any],
    cwd: str | os.PathLike[str] | None,
    env: dict[str, str] | None,
    pass_fds: Sequence[int],
    pgroup: int | None,
    limits: Limits | None,
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        stdin=stdio[0],
        stdout=stdio[1],
        stderr=stdio[2],
        cwd=cwd,
        env=env,
        pass_fds=tuple(pass_fds),
        close_fds=True,
        process_group=pgroup,
        start_new_session=pgroup is None,
        preexec_fn=limits.preexec() if limits is not None else None,
    )


def start_error(program: str, exc: OSError) -> ProcessError:
    """The error for a start that failed for want of a resource (or for another reason)."""
    what = f"cannot start {program!r}"
    if exc.errno == errno.EMFILE:
        try:
            limit = f" (the limit is {resource.getrlimit(resource.RLIMIT_NOFILE)[0]})"
        except (OSError, ValueError):
            limit = ""
        return ProcessError(
            f"{what}: this process has no file descriptors left{limit}, and each running "
            "program holds up to three pipes; run fewer programs at once (for example "
            "behind an asyncio.Semaphore) or raise the limit (ulimit -n, or "
            "resource.setrlimit(resource.RLIMIT_NOFILE, ...))"
        )
    if exc.errno == errno.ENFILE:
        return ProcessError(
            f"{what}: the system has no file descriptors left (sysctl fs.file-max); run "
            "fewer programs at once or raise the system's limit"
        )
    if exc.errno == errno.EAGAIN:
        return ProcessError(
            f"{what}: the system refused a new process (too many processes for this user, "
            "ulimit -u, or for the system); run fewer programs at once"
        )
    if exc.errno == errno.ENOMEM:
        return ProcessError(
            f"{what}: not enough memory to start a process; run fewer programs at once"
        )
    return ProcessError(f"{what}: {exc.strerror or exc}; check argv and the system")


def start(
    argv: list[str],
    *,
    stdin: StdSpec,
    stdout: StdSpec,
    stderr: StdSpec,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    pass_fds: Sequence[int] = (),
    limits: Limits | None = None,
    detached: bool = False,
    process_group: int = 0,
    big_pipes: bool = False,
) -> Started:
    """Start ``argv`` in its own process group; raise ProgramNotFound if it cannot run."""
    stdio = _Stdio()
    try:
        try:
            popen_stdin = stdio.resolve("stdin", stdin, big_pipes)
            popen_stdout = stdio.resolve("stdout", stdout, big_pipes)
            popen_stderr = stdio.resolve("stderr", stderr, big_pipes)
        except OSError as exc:  # no descriptors left for the pipes
            raise start_error(argv[0], exc) from exc
        started_at = time.perf_counter()
        fast = (
            _HAVE_POSIX_SPAWN
            and cwd is None
            and limits is None
            and not pass_fds
            and all(spec in _SIMPLE for spec in (popen_stdin, popen_stdout, popen_stderr))
        )
        try:
            if fast:
                popen: _Child = _posix_spawn(
                    argv,
                    (popen_stdin, popen_stdout, popen_stderr),
                    _child_env(env, inherit_env),
                    None if detached else process_group,
                )
            else:
                popen = _popen(
                    argv,
                    (popen_stdin, popen_stdout, popen_stderr),
                    cwd,
                    _child_env(env, inherit_env),
                    pass_fds,
                    None if detached else process_group,
                    limits,
                )
        except (FileNotFoundError, PermissionError, NotADirectoryError, IsADirectoryError) as exc:
            if cwd is not None and exc.filename is not None and os.fspath(cwd) == exc.filename:
                raise ProcessError(
                    f"cannot run {argv[0]!r}: working directory {os.fspath(cwd)!r} "
                    f"is not usable ({exc.strerror}); check cwd="
                ) from exc
            raise ProgramNotFound(
                f"program {argv[0]!r} was not found or is not executable ({exc.strerror}); "
                "check the name, PATH and file permissions"
            ) from exc
        except subprocess.SubprocessError as exc:
            raise ProcessError(f"cannot start {argv[0]!r}: {exc}; check limits=") from exc
        except OSError as exc:
            raise start_error(argv[0], exc) from exc
    except BaseException:
        stdio.close_all()
        raise
    for fd in stdio.close_after_start:
        os.close(fd)
    pgid = process_group if process_group and not detached else popen.pid
    if not detached:
        _reaper.register(pgid)
    return Started(argv, popen, stdio.parent_fds, pgid, detached, limits, started_at)


@dataclass(frozen=True, slots=True)
class Plan:
    """Programs checked before any of them starts, and where they run (the same place
    for each: a pipeline's programs share it)."""

    commands: list[list[str]]
    cwd: str | os.PathLike[str] | None = None
    env: Mapping[str, str] | None = None
    inherit_env: bool = True
    limits: Limits | None = None

    def start(
        self,
        index: int,
        *,
        stdin: StdSpec,
        stdout: StdSpec,
        stderr: StdSpec,
        detached: bool = False,
        process_group: int = 0,
        big_pipes: bool = False,
    ) -> Started:
        """Start program ``index`` of the plan; see :func:`start`."""
        return start(
            self.commands[index],
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=self.cwd,
            env=self.env,
            inherit_env=self.inherit_env,
            limits=self.limits,
            detached=detached,
            process_group=process_group,
            big_pipes=big_pipes,
        )
