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
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from offload import _reaper, _serialize, _shm
from offload._fdread import read_available, read_chunk, read_once
from offload._loop import call_in_loop
from offload._wire import frame, split_frames

from . import _kind_process_messages as w
from . import _kind_process_start as starter
from ._backend import Backend, BackendOptions, NoWorkerProcess, Worker
from ._events import WorkerEnd, WorkerEvents
from ._functions import FunctionCache
from ._task import Task
from ._task_errors import load_error

__all__ = ["ProcessBackend", "ProcessWorker"]

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_FRAMES_PER_TURN = 64
_READ_SIZE = 1 << 18
_TEMPLATE_MODULE = "offload._pool._kind_process_template"
# Seconds a close waits for a template start in flight (its Popen) to return.
_START_WAIT = 10.0


class ProcessWorker(Worker):
    """A worker process forked by the template; talks over a non-blocking socket."""

    #: the name of its control page's memfd (seen in /proc/PID/fd)
    page_name = "offload-worker"

    def __init__(self, backend: ProcessBackend, worker_id: int) -> None:
        super().__init__(worker_id)
        self.backend = backend
        self.events = backend.events
        self.loop = backend.loop
        self.reported = False  # its exit was reported to the scheduler
        self.start_error: BaseException | None = None  # what its initializer raised
        self.last_answered = 0  # the seq of the last task it answered
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            page_fd = os.memfd_create(self.page_name, os.MFD_CLOEXEC)
        except OSError:
            parent_sock.close()
            child_sock.close()
            raise
        try:
            os.ftruncate(page_fd, w.PAGE)
            self.page = mmap.mmap(page_fd, w.PAGE)
            try:
                self.start(child_sock, page_fd)
            except BaseException:
                self.page.close()
                raise
        except BaseException:
            parent_sock.close()
            raise
        finally:
            os.close(page_fd)
            child_sock.close()
        # The template this worker was forked from: when it dies, so does the worker.
        self.generation = backend.generation
        self.running_at_exit: int | None = None
        self.fd = parent_sock.detach()
        backend.held.fds.add(self.fd)
        os.set_blocking(self.fd, False)
        self.inbuf = bytearray()
        self.continuing = False  # a call_soon will process more of inbuf
        self.outbuf = bytearray()
        self.writing = False
        self.known_functions: set[int] = set()
        self.eof = False
        self.exit_status: int | None = None
        self.exit_timer: asyncio.TimerHandle | None = None
        self.loop.add_reader(self.fd, self.on_readable)

    def start(self, child_sock: socket.socket, page_fd: int) -> None:
        """Start the worker's other side with its socket end and control page (both
        closed here afterwards: keep duplicates). Here: the template forks it."""
        self.backend.control(w.CTL_SPAWN + w.CTL_ID.pack(self.id), [child_sock.fileno(), page_fd])

    # -- sending -------------------------------------------------------------------

    def send(self, tasks: list[Task]) -> None:
        parts = []
        functions = self.backend.functions
        known = self.known_functions
        # Warm result segments of this worker, read by now, go back in front of the
        # first frame (all of them: none is read between two frames of one batch).
        returns: int | None = self.pid
        for task in tasks:
            payload = task.payload  # starts with the function head (see _functions)
            fn_id = w.TASK_HEAD.unpack_from(payload)[0]
            if fn_id and fn_id not in known:
                # This worker's first task of a cached callable: its pickle goes along.
                known.add(fn_id)
                fn_bytes = functions.pickle_of(fn_id)
                payload = (
                    w.TASK_HEAD.pack(fn_id, len(fn_bytes)) + fn_bytes + payload[w.TASK_HEAD.size :]
                )
            oob = task.oob
            if returns is not None:
                oob = _shm.add_returns(oob, returns)
                returns = None
            parts.append(frame(w.TASK, payload, task.seq, oob))
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

    def on_readable(self) -> None:
        read_once(self.fd, _READ_SIZE, self._received, self._on_eof)

    def poll(self) -> None:
        """Take in, without waiting, what the worker answered (not its end: that is left
        to the loop's reader, which sees it again)."""
        if self.fd < 0 or self.eof:
            return
        data = read_chunk(self.fd, _READ_SIZE)
        if data:
            self.inbuf += data
        if self.inbuf:  # with what a pending _continue has not processed yet
            self._dispatch_frames()

    def _received(self, data: bytes) -> None:
        self.inbuf += data
        if not self.continuing:
            self._dispatch_frames()

    def _dispatch_frames(self, limit: int | None = _FRAMES_PER_TURN) -> None:
        self.continuing = False
        events = self.events
        frames = split_frames(self.inbuf) if limit is None else split_frames(self.inbuf, limit)
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
                    exc, _text = load_error(body)
                    self.start_error = exc
                    continue
                self.last_answered = seq
                try:
                    if kind == w.OK:
                        result = _shm.decode(body, oob, loads=_serialize.loads, sender=self.pid)
                        events.on_done(self, seq, True, result, run_time)
                    else:
                        exc, _ = load_error(body)
                        events.on_done(self, seq, False, exc, run_time)
                except Exception as exc:  # a result that cannot be unpickled here
                    events.on_done(self, seq, False, exc, run_time)
            elif kind == w.SKIPPED:
                self.last_answered = seq
                events.on_done(self, seq, False, None, 0.0)
            elif kind == w.REPORT:
                with contextlib.suppress(Exception):
                    events.on_report(self, seq, _serialize.loads(payload))
            elif kind == w.LOG:
                with contextlib.suppress(Exception):
                    events.on_log(self, seq, _serialize.loads(payload))
            elif kind == w.HELLO:
                self.pid = int(payload.decode())
                events.on_ready(self)
            elif kind == w.RETIRE:
                events.on_retire(self)

    def _continue(self) -> None:
        if self.continuing:
            self._dispatch_frames()

    def _on_eof(self) -> None:
        if self.eof:
            return
        self._dispatch_frames(None)  # whatever is still buffered comes first
        self._hang_up()

    def _hang_up(self) -> None:
        """Close our end; finish now if the exit status is known, else when it comes."""
        self.eof = True
        self.close_fd()
        if self.exit_status is not None or self.template_gone():
            self.finish()
        else:
            # The template's exit report carries the status; it comes within
            # milliseconds, but never wait forever for it.
            self.exit_timer = self.loop.call_later(2.0, self.finish)

    def template_gone(self) -> bool:
        """No exit report will come: the template that forked this worker is gone."""
        return self.backend.dead or self.generation != self.backend.generation

    def on_exit_status(self, status: int) -> None:
        self.exit_status = status
        if not self.eof:
            # Everything the worker wrote before dying is in the socket: read it first.
            if self.fd >= 0:
                for data in read_available(self.fd, _READ_SIZE):
                    self.inbuf += data
            self._dispatch_frames(None)
            self.eof = True
            self.close_fd()
        self.finish()

    def finish(self) -> None:
        if self.reported:
            return
        self.reported = True
        if self.exit_timer is not None:
            self.exit_timer.cancel()
            self.exit_timer = None
        self.close_fd()
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
            self.backend.forget_pid(self.pid)
        with contextlib.suppress(ValueError, BufferError):
            # The task it was running when it ended (0: none), read before the page goes.
            self.running_at_exit = w.RUNNING.unpack_from(self.page, 0)[0]
            self.page.close()
        self.events.on_exited(self, WorkerEnd(exitcode, signum, self.start_error))

    def has_started(self, task: Task) -> bool:
        """True if ``task`` was running: the worker marks it in the page before it starts
        and clears it only after its answer is written."""
        running = self.running_at_exit
        if running is None and not self.page.closed:
            running = w.RUNNING.unpack_from(self.page, 0)[0]
        return running is None or running == task.seq

    def close_fd(self) -> None:
        if self.fd >= 0:
            # The loop may be closed (a pool released from another loop or by the GC).
            with contextlib.suppress(RuntimeError, ValueError):
                self.loop.remove_reader(self.fd)
                if self.writing:
                    self.loop.remove_writer(self.fd)
            self.writing = False
            self.backend.held.fds.discard(self.fd)
            os.close(self.fd)
            self.fd = -1

    # -- control -------------------------------------------------------------------

    def request_cancel(self, task: Task) -> None:
        if self.reported or self.page.closed:
            return
        slot = w.RUNNING.size + (task.seq % w.CANCEL_SLOTS) * w.SLOT.size
        w.SLOT.pack_into(self.page, slot, task.seq)

    def kill_if_running(self, task: Task) -> bool:
        pid = self.pid
        if pid is None or self.reported or self.page.closed:
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
                _kill_group(pid)
                return True
            return False
        except ProcessLookupError:
            return False
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def retire(self) -> None:
        if self.fd >= 0 and not self.eof:
            self._hang_up()  # the signal: the worker reads EOF and exits

    def kill(self) -> None:
        if self.pid is not None:
            _kill_group(self.pid)
        else:
            self.retire()


def _kill_group(pid: int, *, alive: bool = True) -> None:
    """SIGKILL a worker and its process group: whatever its tasks started goes with it.

    ``alive``: the worker is known to be unreaped (its template lives), so ``pid`` is
    still its own; only then is it also signalled alone if it has no group.
    """
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        if alive:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


class _Held:
    """What a process backend holds outside Python objects: released without the pool or
    its event loop when the pool is garbage-collected, or at interpreter exit."""

    def __init__(self) -> None:
        self.fds: set[int] = set()
        self.pids: set[int] = set()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ctl: socket.socket | None = None
        self.segments: _shm.Recycler | None = None
        # Templates being started on the starter thread; ``procs`` and ``released`` are
        # shared with it, under ``lock``.
        self.lock = threading.Lock()
        self.starting: set[_TemplateStart] = set()
        self.released = False

    def release(self) -> None:
        with self.lock:
            self.released = True  # a template started from now on is killed at once
            starting = list(self.starting)
        for start in starting:  # its Popen is returning: it kills and reaps the template
            start.done.wait(_START_WAIT)
        for pid in list(self.pids):
            _kill_group(pid, alive=False)
            _reaper.unregister(pid)
        self.pids.clear()
        if self.ctl is not None:  # the template sees EOF, kills its workers and exits
            self.ctl.close()
            self.ctl = None
        for proc in self.procs:
            with contextlib.suppress(OSError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5.0)
        self.prune()
        for fd in list(self.fds):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()
        if self.segments is not None:
            self.segments.clear()

    def prune(self) -> None:
        """Forget the templates that were reaped."""
        with self.lock:
            self.procs = [proc for proc in self.procs if proc.returncode is None]


class _TemplateStart:
    """One start of a template: made on the loop, its Popen runs on the starter thread,
    whose result the loop learns through ``call_soon_threadsafe``."""

    def __init__(
        self,
        held: _Held,
        child_end: socket.socket,
        env: dict[str, str],
        loop: asyncio.AbstractEventLoop,
        on_done: Callable[[_TemplateStart], None],
    ) -> None:
        self.held = held
        self.child_end = child_end  # open until Popen returns: messages queue in it
        self.env = env
        self.loop = loop
        self.on_done: Callable[[_TemplateStart], None] | None = on_done
        self.generation = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.error: BaseException | None = None
        self.abandoned = False
        self.done = threading.Event()  # the Popen returned; the template is held or reaped

    def run(self) -> None:
        """On the starter thread: start the template, then hand it to the loop."""
        proc: subprocess.Popen[bytes] | None = None
        try:
            proc = _launch_template(self.child_end.fileno(), self.env)
        except BaseException as exc:  # out of fds, memory, processes: told to the loop
            self.error = exc
        finally:
            self.child_end.close()
        held = self.held
        with held.lock:
            self.proc = proc
            keep = proc is not None and not self.abandoned and not held.released
            if keep:
                assert proc is not None
                held.procs.append(proc)
        if proc is not None and not keep:  # the pool closed meanwhile
            _end_template(proc)
        with held.lock:
            held.starting.discard(self)
        self.done.set()
        on_done, self.on_done = self.on_done, None
        if on_done is not None and (keep or self.error is not None):
            call_in_loop(self.loop, on_done, self)  # a closed loop: release() kills it

    def abandon(self) -> None:
        """On the loop: the pool no longer wants this template (closed, or its control
        socket failed); it is killed as soon as it exists."""
        self.on_done = None
        with self.held.lock:
            self.abandoned = True
            proc = self.proc  # returned already: held, reaped with the others
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()


def _launch_template(fd: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a template process with its end of the control socket (blocks until the
    child has exec'd: called on the starter thread)."""
    return subprocess.Popen(
        [sys.executable, "-m", _TEMPLATE_MODULE, str(fd)],
        pass_fds=[fd],
        stdin=subprocess.DEVNULL,
        env=env,
        close_fds=True,
    )


def _end_template(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5.0)


def _start_failure(exc: BaseException) -> NoWorkerProcess:
    """What the scheduler is told when Popen raised: an OSError that says so."""
    what = f"the pool's template process ({sys.executable}) could not start"
    if isinstance(exc, OSError) and exc.errno is not None:
        error = NoWorkerProcess(exc.errno, f"{what}: {exc.strerror}")
    else:
        error = NoWorkerProcess(f"{what}: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


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


class ProcessBackend(Backend):
    """Forks workers from one pre-imported template process per pool."""

    max_depth = w.MAX_DEPTH
    can_kill = True
    # Arguments may go through warm segments: a task is released only once its worker
    # answered, never started it, or is dead, so no receiver reads a segment given back.
    warm_arguments = True

    @classmethod
    def on_pool_made(cls, options: BackendOptions) -> None:
        # Templates start from the starter thread: start it now, while the caller's
        # thread runs (at interpreter exit CPython 3.12.0-3.12.1 start no thread).
        with contextlib.suppress(RuntimeError):
            starter.ensure_running()

    def __init__(
        self, events: WorkerEvents, loop: asyncio.AbstractEventLoop, options: BackendOptions
    ) -> None:
        super().__init__(events, loop, options)
        initializer = options.initializer
        self.workers: dict[int, ProcessWorker] = {}
        self.by_pid: dict[int, ProcessWorker] = {}
        self.functions = FunctionCache()
        self.imported: set[str] = set()
        self.context_vars = options.context
        self.context_refs = [_locate(var) for var in options.context]
        self.init = {
            "sys_path": list(sys.path),
            "initializer": _serialize.dumps_function(initializer) if initializer else b"",
            "initargs": _serialize.dumps(options.initargs, what="initargs"),
            "context_vars": self.context_refs,
            "log_level": logging.getLogger().getEffectiveLevel(),
            "max_memory": options.max_memory,
            "preload": ["offload._pool._kind_process_child"],
            "shm_root": _shm.root_pid(),
            "name": options.name,  # for the process titles: offload: worker 2 (pool web ...)
            "authkey": _authkey(),
        }
        # The template, once its Popen returned (None before, and while one starts).
        self.proc: subprocess.Popen[bytes] | None = None
        self.starting: _TemplateStart | None = None  # its Popen runs on the starter thread
        self._start_error: OSError | None = None  # a start that just failed (see above)
        self.ctl: socket.socket | None = None
        self.dead = True
        self.generation = 0  # counts template starts
        self.held = _Held()
        # Warm segments lent for arguments (see offload._shm._codec), freed with the rest.
        self.segments = self.held.segments = _shm.Recycler() if self.warm_arguments else None

    # -- template ------------------------------------------------------------------

    def _start_template(self) -> None:
        """Start a template without waiting for it: the control socket is made here and
        what is sent to it queues there until the template reads it; only the Popen runs
        on the starter thread (see ``_kind_process_start``). ``self.proc`` stays None
        until it returns.

        Raises the OSError of a start that just failed (Popen raised), so that the
        scheduler fails queued work with the reason instead of starting again.
        """
        if self._start_error is not None:
            raise self._start_error
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [_PACKAGE_ROOT, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        )
        start = _TemplateStart(self.held, child_end, env, self.loop, self._template_started)
        with self.held.lock:
            self.held.starting.add(start)
        try:
            starter.submit(start.run)
        except BaseException:  # no thread can start (the interpreter is exiting)
            with self.held.lock:
                self.held.starting.discard(start)
            parent_end.close()
            child_end.close()
            raise
        self.proc = None
        self.starting = start
        self.ctl = self.held.ctl = parent_end
        self.dead = False
        self.generation += 1
        start.generation = self.generation
        self.loop.add_reader(parent_end.fileno(), self._on_control)
        self._send(w.CTL_INIT + pickle.dumps(self.init, 5), [])
        for name in self.imported:
            self._send(w.CTL_IMPORT + name.encode(), [])

    def _template_started(self, start: _TemplateStart) -> None:
        """On the loop: the Popen of ``start`` returned (or raised)."""
        if start is not self.starting:  # abandoned meanwhile: it killed the template
            return
        if start.error is None:
            self.starting = None
            self.proc = start.proc
            return
        self._start_failed(start)

    def _start_failed(self, start: _TemplateStart) -> None:
        """``start``'s Popen raised: there is no template. The workers waiting for it
        never started, for a reason that is no fault of theirs but will not go away by
        itself (no descriptors, memory, processes, or no interpreter): each counts as a
        start failure with the reason, and a start asked for before the scheduler has
        seen them raises it, so that queued work fails with it at once."""
        assert start.error is not None
        error = _start_failure(start.error)
        self._start_error = error
        waiting = [
            worker
            for worker in self.workers.values()
            if worker.generation == start.generation and worker.pid is None
        ]
        for worker in waiting:  # whichever way its end is seen, this is why
            worker.start_error = error
        self._close_control()
        # Reported from a callback of their own: this may run inside a worker's start.
        self.loop.call_soon(self._report_start_failure, waiting, error)

    def _report_start_failure(self, waiting: list[ProcessWorker], error: OSError) -> None:
        for worker in waiting:
            # Its socket may have seen EOF already (what was queued for the template
            # went when the socket closed): either way its exit is reported now.
            worker.retire()
            worker.finish()
        self.loop.call_soon(self._forget_start_error, error)

    def _forget_start_error(self, error: OSError) -> None:
        if self._start_error is error:
            self._start_error = None  # later work tries again

    def control(self, message: bytes, fds: list[int]) -> None:
        """Send one message to the template, starting it first if it is not running.

        Raises ConnectionError if the template dies meanwhile (killed from outside):
        the caller may try again, which starts a new template.
        """
        if self.dead:
            self._start_template()
        self._send(message, fds)

    def _send(self, message: bytes, fds: list[int]) -> None:
        ctl = self.ctl
        if ctl is None:
            raise ConnectionResetError("the template process is gone")
        ctl.setblocking(True)
        try:
            socket.send_fds(ctl, [message], fds)
        except OSError as exc:
            self._template_died()
            error = self._start_error
            if error is not None:  # it never started: not a kill
                raise error from error.__cause__  # what Popen raised
            raise ConnectionResetError(f"the template process is gone ({exc})") from exc
        finally:
            if ctl.fileno() >= 0:
                ctl.setblocking(False)

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
                    # Its process group dies with the application, even by SIGKILL.
                    self.held.pids.add(pid)
                    _reaper.register(pid)
            elif kind == w.CTL_EXITED:
                pid, status = w.CTL_PAIR.unpack_from(msg, 1)
                worker = self.by_pid.pop(pid, None)
                if worker is not None:
                    worker.on_exit_status(status)

    def _template_died(self) -> None:
        """The template is gone (killed from outside): its workers die with it (parent
        death signal); end their process groups, and start a new template on demand."""
        if self.dead:
            return
        start = self.starting
        if start is not None and start.error is not None:  # its Popen raised: no template
            self._start_failed(start)
            return
        self._close_control()
        self._reap_templates()
        for worker in list(self.workers.values()):
            if worker.pid is not None:  # normally gone already (parent-death signal)
                _kill_group(worker.pid, alive=False)
            if worker.eof:
                worker.finish()

    def _reap_templates(self) -> None:
        with self.held.lock:
            procs = list(self.held.procs)
        for proc in procs:
            if proc is not self.proc or self.dead:
                with contextlib.suppress(OSError):
                    proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.5)
        self.held.prune()

    def forget_pid(self, pid: int) -> None:
        self.by_pid.pop(pid, None)
        if pid in self.held.pids:
            self.held.pids.discard(pid)
            _reaper.unregister(pid)

    def _close_control(self) -> None:
        self.dead = True
        start, self.starting = self.starting, None
        if start is not None:  # no one will use the template it starts: killed at once
            start.abandon()
        ctl = self.ctl
        if ctl is not None:
            self.ctl = self.held.ctl = None
            with contextlib.suppress(RuntimeError, ValueError):
                self.loop.remove_reader(ctl.fileno())
            ctl.close()

    # -- backend interface ---------------------------------------------------------

    def new_worker(self, worker_id: int) -> ProcessWorker:
        worker = ProcessWorker(self, worker_id)
        self.workers[worker_id] = worker
        return worker

    def prepare(self, task: Task) -> None:
        # The callable is pickled now, at submit time, unless it is a cached name.
        head = self.functions.head(task.fn)
        # The values of the pool's context variables travel with the task.
        context_vars = self.context_vars
        ctx = tuple(var.get(None) for var in context_vars) if context_vars else ()
        if not ctx and _all_small(task.args):
            # Nothing shared memory could carry better: skip the codec's walk.
            data = _serialize.stdlib_or_none((task.args, ctx))
            if data is None:
                what = f"argument to {task.fn_name}()"
                data = _serialize.dumps_by_value((task.args, ctx), what=what)
            task.payload = head + data
        else:
            what = f"argument to {task.fn_name}()"
            encoded = _shm.encode(
                (task.args, ctx),
                dumps=lambda v: _serialize.dumps(v, what=what),
                recycler=self.segments,
            )
            task.payload, task.oob = head + encoded.data, encoded.descriptors
            task.release_oob = encoded.release
        task.args = ()

    def poll(self) -> None:
        for worker in list(self.workers.values()):
            worker.poll()

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
                # A template that died meanwhile imports it when it starts again.
                with contextlib.suppress(OSError):  # gone, or failed to start
                    self.control(w.CTL_IMPORT + module.encode(), [])

    async def aclose(self) -> None:
        for worker in list(self.workers.values()):
            worker.retire()
        self._close_control()  # the template kills what is left and exits
        # A template still starting is killed and reaped by the starter thread as soon as
        # its Popen returns: wait for that (bounded; release() below waits again).
        deadline = time.monotonic() + _START_WAIT
        while self.held.starting and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        deadline = time.monotonic() + 5.0
        with self.held.lock:
            procs = list(self.held.procs)
        for proc in procs:
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    break
                await asyncio.sleep(0.002)
        self.held.prune()
        for worker in list(self.workers.values()):
            worker.finish()
        self.held.release()  # process groups of workers whose exit was never reported

    def release_now(self) -> None:
        for worker in list(self.workers.values()):
            if worker.pid is not None:
                _kill_group(worker.pid)
            worker.eof = True
            worker.close_fd()
        self._close_control()  # the template kills workers not yet known by pid, and exits
        self.held.release()
        for worker in list(self.workers.values()):
            worker.finish()

    def leftovers(self) -> Callable[[], None]:
        return self.held.release


_SCALARS = frozenset({int, float, bool, complex, type(None)})
_SMALL_LIMIT = 1 << 16


def _all_small(args: tuple[Any, ...]) -> bool:
    """Every argument is a plain scalar, or a short str/bytes: never worth shared
    memory (most calls pass one or two)."""
    for arg in args:  # no generator object, and no call per argument, on every submit
        kind = type(arg)
        if kind in _SCALARS:
            continue
        if (kind is str or kind is bytes) and len(arg) < _SMALL_LIMIT:
            continue
        return False
    return True


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
