"""The guard: children never outlive the parent, even when it is killed with SIGKILL.

A parent killed by SIGKILL (or by SIGTERM without a handler) runs no clean-up code, and
``PR_SET_PDEATHSIG`` needs code in the child before exec, which costs the vfork fast
path (measured: about 2.5x the start time of ``/bin/true``). So offload starts, once per
parent process, a tiny guard process instead::

    parent ──pipe──> guard          "+<pgid>\\n" after a start, "-<pgid>\\n" after reaping
       │                            end of file: the parent is gone
       └── children (own process groups)
                                    guard: SIGTERM to every registered group, then
                                    SIGKILL after a short grace, then exit

The guard holds only the read end of one pipe; the parent writes a few bytes per start
and per exit. The guard sleeps on the parent's pidfd and empties the pipe twice a
second, so these writes wake no process. The guard runs in its own session, so Ctrl-C
in a terminal reaches the parent (whose clean-up then runs) but not the guard.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

__all__ = ["register", "start", "unregister"]

_GRACE = 1.0

_GUARD_CODE = """
import os, select, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
groups = {}
buf = b""
def drain():
    global buf
    while True:
        try:
            data = os.read(0, 1 << 20)
        except BlockingIOError:
            return True
        except InterruptedError:
            continue
        if not data:
            return False
        buf += data
        *lines, buf = buf.split(b"\\n")
        for line in lines:
            g = int(line[1:])
            groups[g] = groups.get(g, 0) + (1 if line[:1] == b"+" else -1)
            if groups[g] <= 0:
                del groups[g]
parent = int(sys.argv[1])
try:
    watch = os.pidfd_open(parent)
except (AttributeError, OSError):
    watch = None
if os.getppid() != parent:
    watch = None
if watch is None:
    while drain():
        select.select([0], [], [])
else:
    # Sleep on the parent's pidfd, not on the pipe: the parent's writes then wake no
    # one, and the pipe is emptied now and then (and at the end).
    os.set_blocking(0, False)
    while drain():
        if select.select([watch], [], [], 0.5)[0]:
            drain()
            break
def alive(g):
    try:
        os.killpg(g, 0)
        return True
    except OSError:
        return False
left = []
for g in groups:
    try:
        os.killpg(g, signal.SIGTERM)
        left.append(g)
    except OSError:
        pass
deadline = time.monotonic() + GRACE
while left and time.monotonic() < deadline:
    time.sleep(0.02)
    left = [g for g in left if alive(g)]
for g in left:
    try:
        os.killpg(g, signal.SIGKILL)
    except OSError:
        pass
""".replace("GRACE", repr(_GRACE))

_lock = threading.Lock()
_state: dict[str, object] = {}
_live: dict[int, int] = {}


def start() -> None:
    """Start the guard of this process if it is not running yet (idempotent)."""
    with _lock:
        _start_locked()


def _start_locked() -> int | None:
    if _state.get("pid_of_parent") == os.getpid():
        fd = _state.get("fd")
        return fd if isinstance(fd, int) else None
    # A fresh state after os.fork(): the parent's guard watches the parent, not us.
    inherited = _state.get("fd")
    if isinstance(inherited, int):
        with contextlib.suppress(OSError):
            os.close(inherited)
    _state.clear()
    _live.clear()
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    with contextlib.suppress(OSError):
        import fcntl

        fcntl.fcntl(write_end, 1031, 1 << 20)  # F_SETPIPE_SZ: room for many records
    try:
        guard = subprocess.Popen(
            [sys.executable, "-S", "-I", "-c", _GUARD_CODE, str(os.getpid())],
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        os.close(write_end)
        return None
    finally:
        os.close(read_end)
    _state.update(pid_of_parent=os.getpid(), fd=write_end, popen=guard)
    atexit.register(_at_exit)
    return write_end


def _send(line: bytes) -> None:
    with _lock:
        fd = _start_locked()
        if fd is None:
            return
        try:
            os.write(fd, line)
        except OSError:
            return  # a full pipe or a gone guard (contextlib.suppress costs a µs a call)


def register(pgid: int) -> None:
    """Have the guard kill process group ``pgid`` if this process dies first (counted)."""
    _live[pgid] = _live.get(pgid, 0) + 1
    _send(b"+%d\n" % pgid)


def unregister(pgid: int) -> None:
    """A member of group ``pgid`` was reaped: the guard forgets it after the last one."""
    if pgid in _live:
        _live[pgid] -= 1
        if _live[pgid] <= 0:
            del _live[pgid]
        _send(b"-%d\n" % pgid)


def _at_exit() -> None:
    """Normal interpreter exit: end the children still running, with a short grace."""
    if _state.get("pid_of_parent") != os.getpid():
        return
    groups = list(_live)
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + _GRACE
    while groups and time.monotonic() < deadline:
        time.sleep(0.01)
        groups = [g for g in groups if _group_alive(g)]
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
    fd = _state.get("fd")
    if isinstance(fd, int):
        with contextlib.suppress(OSError):
            os.close(fd)
    guard = _state.get("popen")
    if isinstance(guard, subprocess.Popen):
        with contextlib.suppress(subprocess.TimeoutExpired):
            guard.wait(timeout=_GRACE)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    # Our own unreaped children show up as alive zombies; reap what is ours.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(-pgid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    return True
