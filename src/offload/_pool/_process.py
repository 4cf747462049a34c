"""Process workers, parent side: the template process, worker sockets, safe kills."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mmap
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offload import _serialize, _shm
from offload._errors import WorkerError

from . import _wire as w
from ._backend import GONE, Backend, Worker
from ._task import Task

if TYPE_CHECKING:
    from ._pool import Pool

__all__ = ["ProcessBackend", "ProcessWorker"]

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_FN_CACHE_SIZE = 512
_FRAMES_PER_TURN = 64


class ProcessWorker(Worker):
    """A worker process forked by the template; talks over a non-blocking socket."""

    def __init__(self, backend: ProcessBackend, worker_id: int) -> None:
        super().__init__(backend.pool, worker_id)
        self.backend = backend
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        page_fd = os.memfd_create("offload-worker", os.MFD_CLOEXEC)
        try:
            os.ftruncate(page_fd, w.PAGE)
            self.page = mmap.mmap(page_fd, w.PAGE)
            backend.control(w.CTL_SPAWN + w.CTL_ID.pack(worker_id), [child_sock.fileno(), page_fd])
        finally:
            os.close(page_fd)
            child_sock.close()
        self.fd = parent_sock.detach()
        os.set_blocking(self.fd, False)
        self.inbuf = bytearray()
        self.continuing = False  # a call_soon will process more of inbuf
        self.outbuf = bytearray()
        self.writing = False
        self.known_functions: set[int] = set()
        self.eof = False
        self.exit_status: int | None = None
        self.exit_timer: asyncio.TimerHandle | None = None
        self.loop = backend.loop
        self.loop.add_reader(self.fd, self._on_readable)

    # -- sending -------------------------------------------------------------------

    def send(self, tasks: list[Task]) -> None:
        parts = []
        backend = self.backend
        for task in tasks:
            fn_id, fn_bytes = backend.function_of(task)
            if fn_id in self.known_functions:
                fn_bytes = b""
            else:
                self.known_functions.add(fn_id)
            parts.append(
                w.frame(
                    w.TASK,
                    task.seq,
                    w.TASK_HEAD.pack(fn_id, len(fn_bytes)) + fn_bytes + task.payload,
                    task.oob,
                )
            )
        self.outbuf += b"".join(parts)
        if not self.writing:
            self._flush()

    def _flush(self) -> None:
        if self.fd < 0:
            self.outbuf.clear()
            return
        while self.outbuf:
            try:
                written = os.write(self.fd, self.outbuf)
            except BlockingIOError:
                break
            except OSError:  # the worker is gone; its exit report handles the rest
                self.outbuf.clear()
                break
            del self.outbuf[:written]
        if self.outbuf and not self.writing:
            self.writing = True
            self.loop.add_writer(self.fd, self._flush)
        elif not self.outbuf and self.writing:
            self.writing = False
            self.loop.remove_writer(self.fd)

    # -- receiving -----------------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            data = os.read(self.fd, 1 << 18)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._on_eof()
            return
        self.inbuf += data
        if not self.continuing:
            self._dispatch_frames()

    def _dispatch_frames(self, limit: int | None = _FRAMES_PER_TURN) -> None:
        self.continuing = False
        pool = self.pool
        frames = w.split_frames(self.inbuf) if limit is None else w.split_frames(self.inbuf, limit)
        if limit is not None and len(frames) == limit and self.inbuf:
            # Hand the loop back between batches of results: timers and other
            # callbacks must not wait behind thousands of answers.
            self.continuing = True
            self.loop.call_soon(self._continue)
        for kind, seq, oob, payload in frames:
            if kind == w.OK or kind == w.ERR:
                run_time = w.RUN_TIME.unpack_from(payload)[0]
                body = payload[w.RUN_TIME.size :]
                if seq == 0:  # the initializer failed
                    exc, _text = _load_error(body)
                    self.start_error = exc
                    continue
                try:
                    if kind == w.OK:
                        result = _shm.decode(body, oob, loads=_serialize.loads)
                        pool._task_done(self, seq, True, result, run_time)
                    else:
                        exc, _ = _load_error(body)
                        pool._task_done(self, seq, False, exc, run_time)
                except Exception as exc:  # a result that cannot be unpickled here
                    pool._task_done(self, seq, False, exc, run_time)
            elif kind == w.SKIPPED:
                pool._task_done(self, seq, False, None, 0.0)
            elif kind == w.REPORT:
                with contextlib.suppress(Exception):
                    pool._task_report(self, seq, _serialize.loads(payload))
            elif kind == w.LOG:
                with contextlib.suppress(Exception):
                    pool._worker_log(self, seq, _serialize.loads(payload))
            elif kind == w.HELLO:
                self.pid = int(payload.decode())
                pool._worker_ready(self)
            elif kind == w.RETIRE:
                pool._worker_retire(self)

    def _continue(self) -> None:
        if self.continuing:
            self._dispatch_frames()

    def _on_eof(self) -> None:
        if self.eof:
            return
        self._dispatch_frames(None)  # whatever is still buffered comes first
        self.eof = True
        self._close_fd()
        if self.exit_status is not None or self.backend.dead:
            self._finish()
        else:
            # The template's exit report carries the status; it comes within
            # milliseconds, but never wait forever for it.
            self.exit_timer = self.loop.call_later(2.0, self._finish)

    def on_exit_status(self, status: int) -> None:
        self.exit_status = status
        if not self.eof:
            # Everything the worker wrote before dying is in the socket: read it first.
            while not self.eof and self.fd >= 0:
                try:
                    data = os.read(self.fd, 1 << 18)
                except BlockingIOError:
                    break
                except OSError:
                    data = b""
                if not data:
                    break
                self.inbuf += data
            self._dispatch_frames(None)
            self.eof = True
            self._close_fd()
        self._finish()

    def _finish(self) -> None:
        if self.state == GONE:
            return
        if self.exit_timer is not None:
            self.exit_timer.cancel()
            self.exit_timer = None
        self._close_fd()
        exitcode: int | None = None
        signum: int | None = None
        if self.exit_status is not None:
            code = os.waitstatus_to_exitcode(self.exit_status)
            if code < 0:
                signum = -code
            else:
                exitcode = code
        self.backend.workers.pop(self.id, None)
        if self.pid is not None:  # result segments it made but never sent
            _shm.cleanup(_shm.root_pid(), self.pid)
        with contextlib.suppress(ValueError, BufferError):
            self.page.close()
        self.pool._worker_exited(self, exitcode, signum)

    def _close_fd(self) -> None:
        if self.fd >= 0:
            self.loop.remove_reader(self.fd)
            if self.writing:
                self.loop.remove_writer(self.fd)
                self.writing = False
            os.close(self.fd)
            self.fd = -1

    # -- control -------------------------------------------------------------------

    def request_cancel(self, task: Task) -> None:
        if self.state == GONE or self.page.closed:
            return
        slot = w.RUNNING.size + (task.seq % w.CANCEL_SLOTS) * w.SLOT.size
        w.SLOT.pack_into(self.page, slot, task.seq)

    def kill_if_running(self, task: Task) -> bool:
        pid = self.pid
        if pid is None or self.state == GONE or self.page.closed:
            return False
        # Freeze the worker, then read which task it runs: no race with it moving on to
        # the next task between the check and the kill.
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            return False
        try:
            _wait_stopped(pid)
            if w.RUNNING.unpack_from(self.page, 0)[0] == task.seq:
                os.kill(pid, signal.SIGKILL)
                self.retiring = True
                return True
            return False
        except ProcessLookupError:
            return False
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def retire(self) -> None:
        self.retiring = True
        if self.fd >= 0 and not self.eof:
            # Closing our end is the signal: the worker reads EOF and exits.
            self.eof = True
            self._close_fd()
            if self.exit_status is not None or self.backend.dead:
                self._finish()
            else:
                self.exit_timer = self.loop.call_later(2.0, self._finish)

    def kill(self) -> None:
        self.retiring = True
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        else:
            self.retire()


def _wait_stopped(pid: int) -> None:
    """Wait until ``pid`` is stopped (or gone), at most ~50 ms."""
    deadline = time.monotonic() + 0.05
    path = f"/proc/{pid}/stat"
    while True:
        try:
            with open(path, "rb") as f:
                stat = f.read()
        except FileNotFoundError:
            return
        state = stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3]
        if state in (b"T", b"t", b"Z", b"X") or time.monotonic() > deadline:
            return
        time.sleep(0)


def _load_error(body: bytes) -> tuple[BaseException, str]:
    try:
        exc, text = _serialize.loads(body)
    except Exception as err:
        return err, ""
    if isinstance(exc, BaseException):
        _attach_remote_traceback(exc, text)
        return exc, text
    return WorkerError(f"the worker sent an error it could not describe: {exc!r}"), text


class RemoteTraceback(Exception):
    """The worker-side traceback of an exception, attached as its ``__cause__``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f"\n\n--- traceback in the worker ---\n{self.text}---"


def _attach_remote_traceback(exc: BaseException, text: str) -> None:
    if text:
        exc.__cause__ = RemoteTraceback(text)


class ProcessBackend(Backend):
    """Forks workers from one pre-imported template process per pool."""

    max_depth = w.MAX_DEPTH
    can_kill = True

    def __init__(
        self,
        pool: Pool,
        loop: asyncio.AbstractEventLoop,
        *,
        initializer: Callable[..., object] | None,
        initargs: tuple[Any, ...],
        context_vars: list[ContextVar[Any]],
        max_memory: int | None,
    ) -> None:
        self.pool = pool
        self.loop = loop
        self.workers: dict[int, ProcessWorker] = {}
        self.by_pid: dict[int, ProcessWorker] = {}
        self.functions: dict[Any, tuple[int, bytes]] = {}
        self.imported: set[str] = set()
        self.context_refs = [_locate(var) for var in context_vars]
        self.init = {
            "sys_path": list(sys.path),
            "initializer": _serialize.dumps_function(initializer) if initializer else b"",
            "initargs": _serialize.dumps(initargs, what="initargs"),
            "context_vars": self.context_refs,
            "log_level": logging.getLogger().getEffectiveLevel(),
            "max_memory": max_memory,
            "preload": ["offload._pool._worker"],
            "shm_root": _shm.root_pid(),
            "authkey": _authkey(),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.ctl: socket.socket | None = None
        self.dead = True
        self.ctl_buffer: list[tuple[bytes, list[int]]] = []

    # -- template ------------------------------------------------------------------

    def _start_template(self) -> None:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [_PACKAGE_ROOT, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        )
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "offload._pool._template", str(child_end.fileno())],
                pass_fds=[child_end.fileno()],
                stdin=subprocess.DEVNULL,
                env=env,
                close_fds=True,
            )
        finally:
            child_end.close()
        self.ctl = parent_end
        self.dead = False
        parent_end.sendall(w.CTL_INIT + pickle.dumps(self.init, 5))
        parent_end.setblocking(False)
        self.loop.add_reader(parent_end.fileno(), self._on_control)
        for name in self.imported:
            self.control(w.CTL_IMPORT + name.encode(), [])

    def control(self, message: bytes, fds: list[int]) -> None:
        if self.dead:
            self._start_template()
        assert self.ctl is not None
        self.ctl.setblocking(True)
        try:
            socket.send_fds(self.ctl, [message], fds)
        finally:
            self.ctl.setblocking(False)

    def _on_control(self) -> None:
        assert self.ctl is not None
        while True:
            try:
                msg = self.ctl.recv(64)
            except BlockingIOError:
                return
            except OSError:
                msg = b""
            if not msg:
                self._template_died()
                return
            kind = msg[:1]
            if kind == w.CTL_SPAWNED:
                wid, pid = w.CTL_PAIR.unpack_from(msg, 1)
                worker = self.workers.get(wid)
                if worker is not None:
                    worker.pid = pid
                    self.by_pid[pid] = worker
            elif kind == w.CTL_EXITED:
                pid, status = w.CTL_PAIR.unpack_from(msg, 1)
                worker = self.by_pid.pop(pid, None)
                if worker is not None:
                    worker.on_exit_status(status)

    def _template_died(self) -> None:
        self._close_control()
        for worker in list(self.workers.values()):
            if worker.eof:
                worker._finish()
            elif worker.pid is not None:  # normally gone already (parent-death signal)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGKILL)

    def _close_control(self) -> None:
        self.dead = True
        if self.ctl is not None:
            self.loop.remove_reader(self.ctl.fileno())
            self.ctl.close()
            self.ctl = None

    # -- backend interface ---------------------------------------------------------

    def new_worker(self, worker_id: int) -> ProcessWorker:
        worker = ProcessWorker(self, worker_id)
        self.workers[worker_id] = worker
        return worker

    def function_of(self, task: Task) -> tuple[int, bytes]:
        fn = task.fn
        try:
            return self.functions[fn]
        except KeyError:
            pass
        except TypeError:  # unhashable callable: pickled with every task
            return 0, _serialize.dumps_function(fn)
        entry = (len(self.functions) + 1, _serialize.dumps_function(fn))
        if len(self.functions) >= _FN_CACHE_SIZE:
            self.functions.clear()
        self.functions[fn] = entry
        return entry

    def prepare(self, task: Task) -> None:
        self.function_of(task)
        ctx = task.ctx if isinstance(task.ctx, tuple) else ()
        what = f"argument to {task.fn_name}()"
        if not ctx and all(_is_small(arg) for arg in task.args):
            # Nothing shared memory could carry better: skip the codec's walk.
            task.payload = _serialize.dumps((task.args, ctx), what=what)
        else:
            encoded = _shm.encode((task.args, ctx), dumps=lambda v: _serialize.dumps(v, what=what))
            task.payload, task.oob = encoded.data, encoded.descriptors
            task.release_oob = encoded.release
        task.args = ()

    def preload(self, task: Task) -> None:
        module = getattr(task.fn, "__module__", None)
        if (
            isinstance(module, str)
            and module not in self.imported
            and module != "__main__"
            and not module.startswith("offload")
        ):
            self.imported.add(module)
            if not self.dead:
                self.control(w.CTL_IMPORT + module.encode(), [])

    async def aclose(self) -> None:
        for worker in list(self.workers.values()):
            worker.retire()
        proc = self.proc
        self._close_control()  # the template kills what is left and exits
        if proc is not None:
            deadline = time.monotonic() + 5.0
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    break
                await asyncio.sleep(0.002)
        for worker in list(self.workers.values()):
            worker._finish()


_SCALARS = frozenset({int, float, bool, complex, type(None)})
_SMALL_LIMIT = 1 << 16


def _is_small(value: object) -> bool:
    """A plain scalar, or a short str/bytes: never worth shared memory."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    return (kind is str or kind is bytes) and len(value) < _SMALL_LIMIT  # type: ignore[arg-type]


def _locate(var: ContextVar[Any]) -> tuple[str, str]:
    """Find the module-level name of a ContextVar so the worker can look it up."""
    for name, module in list(sys.modules.items()):
        namespace = getattr(module, "__dict__", None)
        if not namespace or name == "__main__":
            continue
        for attr, value in list(namespace.items()):
            if value is var:
                return name, attr
    raise ValueError(
        f"context variable {var.name!r} must be a module-level global of an importable "
        "module (not __main__) so workers can find it"
    )


def _authkey() -> bytes | None:
    """This process's multiprocessing authkey, if it uses multiprocessing: workers share
    it, so multiprocessing.Manager proxies passed to tasks can connect."""
    process = sys.modules.get("multiprocessing.process")
    return None if process is None else bytes(process.current_process().authkey)
