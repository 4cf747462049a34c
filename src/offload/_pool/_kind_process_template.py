"""The template process: imported once, forks workers on request, reports their exits.

Started by the parent as ``python -m offload._pool._kind_process_template FD`` where FD is
its end of a SOCK_SEQPACKET control socket. It never runs tasks; it only forks (fast,
from a clean single-threaded process that already imported offload, cloudpickle and the
user's modules), reaps children and tells the parent how each one ended. When the control socket
hits EOF (the parent exited or was killed) it kills every worker and exits.

Every worker leads its own process group; whenever a worker ends (reaped here, or at
the template's exit) the group is killed too, so processes a task started never
outlive its worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import mmap
import os
import pickle
import selectors
import signal
import socket
import sys
from typing import Any

from offload._proctitle import set_title

from . import _kind_process_messages as w

__all__ = ["set_parent_death_signal"]

_PR_SET_PDEATHSIG = 1


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def _main(ctl_fd: int) -> None:
    parent = os.getppid()
    set_parent_death_signal()
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    ctl = socket.socket(fileno=ctl_fd)
    message = ctl.recv(1 << 24)
    if not message:
        os._exit(0)
    init: dict[str, Any] = pickle.loads(message[1:])
    set_title(f"offload: pool template ({_pool_of(init, parent)})")
    sys.path[:] = init["sys_path"]
    if init.get("authkey") is not None:
        import multiprocessing.process

        multiprocessing.process.current_process().authkey = init["authkey"]
    for name in init.get("preload", ()):
        with contextlib.suppress(BaseException):
            importlib.import_module(name)
    from ._kind_process_child import load_settings  # preloaded above

    worker_init = load_settings(init)

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    ctl.send(w.CTL_READY + w.CTL_ID.pack(os.getpid()))

    children: set[int] = set()
    selector = selectors.DefaultSelector()
    selector.register(ctl, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    try:
        while True:
            for key, _ in selector.select():
                if key.fileobj is ctl:
                    try:
                        msg, fds, _flags, _addr = socket.recv_fds(ctl, 1 << 16, 4)
                    except OSError:
                        msg, fds = b"", []
                    if not msg:
                        return
                    kind = msg[:1]
                    if kind == w.CTL_SPAWN:
                        (wid,) = w.CTL_ID.unpack_from(msg, 1)
                        pid = os.fork()
                        if pid == 0:
                            set_title(f"offload: worker {wid} ({_pool_of(init, parent)})")
                            selector.close()
                            ctl.close()
                            _child(fds, worker_init, wake_r, wake_w)
                        # Each worker leads its own process group, so a kill of the group
                        # takes whatever its tasks started. Set here as well as in the
                        # child: the group exists before anyone learns the pid.
                        with contextlib.suppress(OSError):
                            os.setpgid(pid, pid)
                        for fd in fds:
                            os.close(fd)
                        children.add(pid)
                        ctl.send(w.CTL_SPAWNED + w.CTL_PAIR.pack(wid, pid))
                    elif kind == w.CTL_IMPORT:
                        with contextlib.suppress(BaseException):
                            importlib.import_module(msg[1:].decode())
                else:
                    with contextlib.suppress(OSError):
                        while os.read(wake_r, 4096):
                            pass
                    _reap(ctl, children)
    finally:
        for pid in children:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for pid in list(children):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        os._exit(0)


def _pool_of(init: dict[str, Any], parent: int) -> str:
    """Which pool a title names: "pool web of pid 1234" (the application's pid)."""
    return f"pool {init['name']} of pid {parent}" if init.get("name") else f"a pool of pid {parent}"


def _reap(ctl: socket.socket, children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        # What the worker's tasks started dies with it (the group id stays reserved
        # while any member lives, so this never reaches another group).
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            ctl.send(w.CTL_EXITED + w.CTL_PAIR.pack(pid, status))


def _child(fds: list[int], init: dict[str, Any], wake_r: int, wake_w: int) -> None:
    try:
        template = os.getppid()
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.close(wake_r)
        os.close(wake_w)
        set_parent_death_signal()
        if os.getppid() != template:  # the template was killed: so is this worker
            os.kill(os.getpid(), signal.SIGKILL)
        sock_fd, page_fd = fds
        page = mmap.mmap(page_fd, w.PAGE)
        os.close(page_fd)
        from ._kind_process_child import worker_main

        worker_main(sock_fd, page, init)
    finally:
        os._exit(71)


if __name__ == "__main__":
    try:
        _main(int(sys.argv[1]))
    except (OSError, KeyboardInterrupt):  # the parent went away while we started
        os._exit(0)
