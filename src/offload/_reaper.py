"""The reaper: what must still happen when the application dies, however it dies.

A process killed by SIGKILL (or by a signal it does not handle) runs no clean-up code.
Two things must happen anyway: the programs it started with ``offload.run``, ``spawn``,
``pipe`` and ``fork`` must end (each runs in its own process group, so a group kill also
reaches their children), and its shared-memory segments in ``/dev/shm`` must go. One
small helper process per application does both: its reaper, which ``ps`` shows as
``offload: reaper for pid N``::

    application ──pipe──> reaper    "+<pgid>" after a start, "-<pgid>" after reaping,
      │   │                         "f<path prefix>": files to delete at the end
      │   └─ keeper thread: waits for the reaper and starts a new one if it dies
      └── programs (own process groups)

    the application is gone → reaper: SIGTERM to every registered group, SIGKILL after
    a second of grace to what is left; deletes the files now and again 0.5, 2.5 and
    7.5 s later (pool workers may still be finishing a result); exits.

Costs, where it matters: registering a group is one ``write`` of a few bytes (the
reaper sleeps on the application's pidfd and empties the pipe twice a second, so the
write wakes no one). The reaper is started lazily by the first registration, from the
keeper thread, so the event loop never waits for a process start. It runs this file as
a script with ``python -I -S`` (no site, no offload import: about 20 ms of its own CPU,
none of the application's). A killed reaper is reaped by the keeper (no zombie) and
replaced within milliseconds, and the new one is told everything still registered.

On a normal interpreter exit :func:`_at_exit` ends the programs still running itself (the
same routine, with the same grace) and the reaper then only deletes the files.

This module also holds the one termination routine of offload, :func:`ending`: SIGTERM,
a grace period, SIGKILL, written once without its waiting so that the reaper and the
exit hook drive it with ``time.sleep`` and :func:`offload._process._kill.end_group` with
the event loop. It imports only the standard library, because the reaper runs it alone.
"""

from __future__ import annotations

import _thread
import atexit
import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable

__all__ = [
    "GRACE",
    "end_groups",
    "ending",
    "group_alive",
    "reaper_pid",
    "register",
    "remove_at_death",
    "start",
    "unregister",
]

GRACE = 1.0  # seconds from SIGTERM to SIGKILL when the application is gone
_POLL = 0.02  # how often a group is looked at during the grace period
_DRAIN_EVERY = 0.5  # how often the reaper empties its pipe while the application lives
_SWEEPS = (0.5, 2.5, 7.5)  # files are deleted again this long after the application died
_PIPE_BYTES = 1 << 20
_F_SETPIPE_SZ = 1031
_BACKOFF = (0.05, 5.0)  # restart delays of a reaper that keeps dying at once


# -- the termination routine ---------------------------------------------------------


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
    except OSError:
        return False
    return True


def group_alive(pgid: int, *, reap: bool = False) -> bool:
    """True while any process of group ``pgid`` exists.

    ``reap=True`` first reaps this process's own exited children in the group (an
    unreaped child still counts as a member); only for callers that own no other
    record of those children's exit, such as the exit hook.
    """
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    if not reap:
        return True
    try:
        while os.waitpid(-pgid, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    return _signal_group(pgid, 0)


def ending(
    groups: Iterable[int],
    grace: float = GRACE,
    *,
    send: Callable[[int, int], bool] = _signal_group,
    alive: Callable[[int], bool] = group_alive,
) -> Generator[float, None, None]:
    """SIGTERM → grace → SIGKILL for process groups, without the waiting.

    SIGTERM goes to each group at once; the generator then yields how long to wait
    before it looks again (at most 20 ms) until every group is gone or ``grace``
    seconds have passed, and sends SIGKILL to what is left. The caller waits in its own
    way: ``time.sleep`` (:func:`end_groups`) or the event loop (``end_group``).
    ``send(pgid, sig)`` returns False when nothing was left to signal.
    """
    deadline = time.monotonic() + max(0.0, grace)
    left = [pgid for pgid in groups if send(pgid, signal.SIGTERM)]
    while left:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        yield min(_POLL, remaining)
        left = [pgid for pgid in left if alive(pgid)]
    for pgid in left:
        send(pgid, signal.SIGKILL)


def end_groups(groups: Iterable[int], grace: float = GRACE, *, reap: bool = False) -> None:
    """Run :func:`ending` to the end, blocking (for the reaper and the exit hook)."""
    for delay in ending(groups, grace, alive=lambda pgid: group_alive(pgid, reap=reap)):
        time.sleep(delay)


# -- the application's side ----------------------------------------------------------

_lock = _thread.allocate_lock()
_owner = 0  # the pid whose reaper the state below describes (0: none started)
_fd = -1  # write end of the pipe to the current reaper (-1 while there is none)
_live: dict[int, int] = {}  # registered process groups, with how many members each
_prefixes: set[str] = set()  # files to delete at the end
_exiting = False
_reaper: int | None = None  # pid of the running reaper


def start() -> None:
    """Make sure this process has a reaper (cheap when it has; never blocks for a start)."""
    if _owner != os.getpid():
        with _lock:
            _start_locked()


def _start_locked() -> None:
    global _owner
    if _owner == os.getpid():
        return
    keeper = threading.Thread(target=_keep, name="offload-reaper-keeper", daemon=True)
    try:
        keeper.start()
    except RuntimeError:  # no thread can be started now: try again at the next start
        return
    _owner = os.getpid()


def register(pgid: int) -> None:
    """Have the reaper end process group ``pgid`` if this process dies first (counted)."""
    if _owner != os.getpid():
        start()
    with _lock:
        _live[pgid] = _live.get(pgid, 0) + 1
        _write(b"+%d\n" % pgid)


def unregister(pgid: int) -> None:
    """A member of group ``pgid`` was reaped: the reaper forgets it after the last one."""
    with _lock:
        count = _live.get(pgid)
        if count is None:
            return
        if count <= 1:
            del _live[pgid]
        else:
            _live[pgid] = count - 1
        _write(b"-%d\n" % pgid)


def remove_at_death(path_prefix: str) -> None:
    """Have the reaper delete every file whose path starts with ``path_prefix`` once
    this process is gone (shared-memory segments: ``/dev/shm/offload-<pid>-``)."""
    if _owner == os.getpid() and path_prefix in _prefixes:
        return
    start()
    with _lock:
        if path_prefix not in _prefixes:
            _prefixes.add(path_prefix)
            _write(b"f" + os.fsencode(path_prefix) + b"\n")


def share_parents(path_prefix: str) -> None:
    """In a sub-interpreter: this process's reaper, started by the main interpreter, is
    already told to delete files starting with ``path_prefix``. A sub-interpreter cannot
    start processes: its own copy of this module must never try to start another."""
    global _owner
    _owner = os.getpid()
    _prefixes.add(path_prefix)


def reaper_pid() -> int | None:
    """The pid of this process's reaper while one runs (for tests and diagnostics)."""
    return _reaper if _owner == os.getpid() else None


def _write(record: bytes) -> None:
    if _fd >= 0:
        try:  # noqa: SIM105 (contextlib.suppress costs a microsecond a call)
            os.write(_fd, record)
        except OSError:
            pass  # a full pipe, or a dead reaper: the next one gets a fresh snapshot


def _snapshot(groups: dict[int, int], prefixes: Iterable[str]) -> bytes:
    """The records that tell a new reaper everything registered so far."""
    records = [b"f" + os.fsencode(prefix) + b"\n" for prefix in prefixes]
    for pgid, count in groups.items():
        records.extend([b"+%d\n" % pgid] * count)
    return b"".join(records)


def _renew_locked() -> int:
    """A fresh pipe holding everything registered; return its read end (-1 on failure)."""
    global _fd
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return -1
    os.set_blocking(write_end, False)
    with contextlib.suppress(OSError):
        import fcntl

        fcntl.fcntl(write_end, _F_SETPIPE_SZ, _PIPE_BYTES)  # room for many records
    old, _fd = _fd, write_end
    if old >= 0:
        os.close(old)
    _write(_snapshot(_live, _prefixes))
    return read_end


def _keep() -> None:
    """The keeper thread: start the reaper, wait for it, start a new one if it dies."""
    global _reaper
    me = os.getpid()
    delay = 0.0
    while True:
        if delay:
            time.sleep(delay)
        with _lock:
            if _exiting or _owner != me:
                return
            read_end = _renew_locked()
        began = time.monotonic()
        reaper = _launch(read_end, me) if read_end >= 0 else None
        if reaper is not None:
            _reaper = reaper
            # Reaps it: a dead reaper never stays behind as a zombie.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(reaper, 0)
            _reaper = None
        if time.monotonic() - began > 1.0:
            delay = 0.0
        else:  # it could not start, or died at once: try again, less and less often
            delay = min(max(2 * delay, _BACKOFF[0]), _BACKOFF[1])


def _launch(read_end: int, me: int) -> int | None:
    """Start a reaper reading ``read_end``; its pid, or None if it could not start.

    posix_spawn rather than Popen: it holds the GIL a fraction as long, so the event
    loop's thread hardly notices the start.
    """
    argv = [sys.executable, "-I", "-S", os.path.abspath(__file__), str(me), _title_path()]
    try:
        return os.posix_spawn(
            sys.executable,
            argv,
            os.environ,  # what the interpreter may need to start (LD_LIBRARY_PATH, say)
            file_actions=[
                (os.POSIX_SPAWN_DUP2, read_end, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,  # Ctrl-C in a terminal reaches the application only
        )
    except (OSError, ValueError):
        return None
    finally:
        os.close(read_end)


_title_dir: str | None = None


def _title_path() -> str:
    """Where setproctitle lives, for the reaper (which runs without site-packages)."""
    global _title_dir
    if _title_dir is None:
        _title_dir = ""
        try:
            import importlib.util

            spec = importlib.util.find_spec("setproctitle")
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            _title_dir = os.path.dirname(os.path.dirname(spec.origin))
    return _title_dir


def _at_exit() -> None:
    """Normal interpreter exit: end the programs still running (SIGTERM, grace, SIGKILL);
    the reaper stays until this process is gone, then deletes the registered files."""
    global _exiting, _fd
    if _owner != os.getpid():
        return
    with _lock:
        _exiting = True
        groups = list(_live)
    end_groups(groups, reap=True)
    with _lock:
        if _fd >= 0:
            os.close(_fd)
            _fd = -1


def _after_fork_in_child() -> None:
    """A child made by os.fork(): the parent's reaper watches the parent, not this one."""
    global _lock, _owner, _fd, _reaper, _exiting
    _lock = _thread.allocate_lock()
    if _fd >= 0:
        with contextlib.suppress(OSError):
            os.close(_fd)
    _owner, _fd, _reaper, _exiting = 0, -1, None, False
    _live.clear()
    _prefixes.clear()


# -- the reaper process --------------------------------------------------------------


class _Records:
    """What the application registered, read from the pipe on standard input."""

    def __init__(self) -> None:
        self.groups: dict[int, int] = {}
        self.prefixes: set[str] = set()
        self.open = True
        self._buf = b""

    def drain(self) -> None:
        """Read what is in the pipe now; ``open`` turns False at end of file."""
        while self.open:
            try:
                data = os.read(0, _PIPE_BYTES)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError:
                data = b""
            if not data:
                self.open = False
                return
            *lines, self._buf = (self._buf + data).split(b"\n")
            for line in lines:
                self._apply(line)

    def _apply(self, line: bytes) -> None:
        kind, rest = line[:1], line[1:]
        if kind == b"f":
            self.prefixes.add(os.fsdecode(rest))
            return
        try:
            pgid = int(rest)
        except ValueError:
            return
        count = self.groups.get(pgid, 0) + (1 if kind == b"+" else -1)
        if count > 0:
            self.groups[pgid] = count
        else:
            self.groups.pop(pgid, None)


def _remove_files(prefixes: Iterable[str]) -> None:
    for prefix in prefixes:
        directory, start_of_name = os.path.split(prefix)
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if name.startswith(start_of_name):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, name))


def _wait_for_death(app: int, records: _Records) -> None:
    """Return once ``app`` is gone, emptying the pipe meanwhile."""
    try:
        watch: int | None = os.pidfd_open(app)
    except (AttributeError, OSError):
        watch = None  # no pidfd: being re-parented tells that the application is gone
    os.set_blocking(0, False)
    while os.getppid() == app:
        records.drain()
        if watch is not None and select.select([watch], [], [], _DRAIN_EVERY)[0]:
            break
        if watch is None:
            time.sleep(_DRAIN_EVERY / 5)
    records.drain()


def _serve(app: int, title_dir: str) -> None:
    os.chdir("/")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _set_title(f"offload: reaper for pid {app}", title_dir)
    records = _Records()
    _wait_for_death(app, records)
    died = time.monotonic()
    _remove_files(records.prefixes)
    end_groups(list(records.groups))
    if records.prefixes:
        for after in _SWEEPS:
            time.sleep(max(0.0, died + after - time.monotonic()))
            _remove_files(records.prefixes)


def _set_title(text: str, title_dir: str) -> None:
    """Load offload's title helper from beside this file (offload itself is not imported)."""
    import importlib

    here = os.path.dirname(os.path.abspath(__file__))
    if title_dir:
        sys.path.append(title_dir)
    sys.path.insert(0, here)
    try:
        proctitle = importlib.import_module("_proctitle")
    except ImportError:
        return
    finally:
        sys.path.remove(here)
    proctitle.set_title(text)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "")
else:
    atexit.register(_at_exit)
    os.register_at_fork(after_in_child=_after_fork_in_child)
