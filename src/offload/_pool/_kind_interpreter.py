"""Sub-interpreter workers, parent side: ``Pool(kind="interpreter")`` on CPython 3.13+.

Each worker is a thread of this process that runs its own sub-interpreter (own GIL, PEP
684), so CPU-bound tasks run in parallel without a process per worker. The
sub-interpreter runs the process workers' task loop (:mod:`._kind_interpreter_child`
calls :func:`._kind_process_child.serve`) over a socket pair, with the same control
page: a memfd mapped once here and once in the sub-interpreter, holding the seq of the
running task and the cancel flags that ``offload.current_token()`` reads. The parent
side is therefore :class:`._kind_process.ProcessWorker`'s (frames, callables cached per
worker, large arguments in shared memory); only starting and stopping differ::

    event loop thread                 worker thread (main interpreter)
    ─────────────────                 ─────────────────────────────────────────
    Scheduler ─▶ InterpreterWorker         create() ─▶ exec(boot) ─▶ destroy()
             │ TASK frames ──socket──▶   sub-interpreter: _serve() ─▶ fn(*args)
             │ ◀── OK / ERR / REPORT / LOG
             │ control page (memfd): running seq, cancel flags
             └ ◀── call_soon_threadsafe(exit status) when exec() returns

A thread cannot be killed. A task told to stop (timeout, cancel, force close) sees its
token cancelled and gets ``cancel_grace`` seconds to return (none at a force close); one
that is still running then has its worker *abandoned*: the pool closes its end of the
socket and treats the worker as gone (the caller already has its answer, a new worker
takes the next tasks); the sub-interpreter keeps running that one task, cannot send its
result (the socket is closed), and its thread destroys it once the task returns. At most
``max_workers`` abandoned interpreters exist at a time; past that, a task that ignores
its token keeps its worker busy until it returns (as with threads). Workers take one task
at a time, so an abandoned worker never holds a task it has not started.

``close()`` waits for every worker thread, abandoned ones included, for at most
``_CLOSE_WAIT`` seconds; a task still running then is left behind (its daemon thread
destroys its interpreter when it returns) and a warning names how many.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import platform
import socket
import sys
import threading
import time
from typing import Any

from offload import _reaper, _shm

from . import _kind_process_messages as w
from ._backend import BackendOptions
from ._events import WorkerEvents
from ._kind_process import ProcessBackend, ProcessWorker
from ._task import Task

__all__ = ["InterpreterBackend", "InterpreterWorker", "check_supported"]

_log = logging.getLogger("offload.pool")
_CLOSE_WAIT = 5.0

# Run in each new sub-interpreter, with the names below set in its __main__.
_BOOT = """\
import sys
sys.path[:] = sys_path
from offload._pool._kind_interpreter_child import main
main(sock_fd, page_fd, init)
"""


class _Runtime:
    """Create, run and destroy sub-interpreters: ``concurrent.interpreters`` (3.14+),
    else the private ``_interpreters`` module (3.13)."""

    def __init__(self) -> None:
        try:
            from concurrent import interpreters  # type: ignore[attr-defined,unused-ignore]
        except ImportError:
            interpreters = None
        self.public: Any = interpreters
        self.private: Any = None
        if interpreters is None:
            import _interpreters  # type: ignore[import-not-found,unused-ignore]

            self.private = _interpreters

    def create(self) -> Any:
        """A new isolated interpreter (its own GIL and memory allocator)."""
        if self.public is not None:
            return self.public.create()
        return self.private.create("isolated")

    def run(self, handle: Any, code: str, shared: dict[str, object]) -> tuple[str, str, str] | None:
        """Run ``code`` in ``handle``'s __main__ (blocking this thread); None, or the
        uncaught exception as (type name, message, formatted traceback)."""
        if self.public is not None:
            handle.prepare_main(shared)
            try:
                handle.exec(code)
            except self.public.ExecutionFailed as exc:
                info = exc.excinfo
                return (info.type.__name__, str(info.msg), str(info.errdisplay))
            return None
        failure = self.private.exec(handle, code, shared=shared)
        if failure is None:
            return None
        return (failure.type.__name__, str(failure.msg), str(failure.errdisplay))

    def destroy(self, handle: Any) -> None:
        if self.public is not None:
            handle.close()
        else:
            self.private.destroy(handle)


def check_supported(max_memory_per_worker: int | None) -> None:
    """Raise ValueError unless this Python can run ``Pool(kind="interpreter")``."""
    here = f"{platform.python_implementation()} {platform.python_version()}"
    version = tuple(sys.version_info[:2])  # a plain tuple: checked when it runs, not by mypy
    if platform.python_implementation() != "CPython" or version < (3, 13):
        raise ValueError(
            'Pool(kind="interpreter") needs CPython 3.13 or later (sub-interpreters with '
            f'their own GIL); this is {here}: use kind="process" for CPU-bound work'
        )
    try:
        _Runtime()
    except ImportError as exc:
        raise ValueError(
            f'Pool(kind="interpreter") needs sub-interpreter support, which {here} lacks '
            f'({exc}); use kind="process"'
        ) from exc
    if max_memory_per_worker is not None:
        raise ValueError(
            "max_memory_per_worker needs separate processes: interpreter workers share "
            'one process and its memory; use kind="process", or max_tasks_per_worker'
        )


class InterpreterWorker(ProcessWorker):
    """A thread running a sub-interpreter that serves tasks over a socket pair."""

    # The HELLO frame carries this process's pid, which is not the worker's own: nothing
    # that signals or cleans up after a worker pid (ProcessWorker's kill, segment
    # clean-up) may ever see it.
    @property
    def pid(self) -> int | None:
        return None

    @pid.setter
    def pid(self, value: int | None) -> None:
        pass

    page_name = "offload-interpreter"

    def __init__(self, backend: InterpreterBackend, worker_id: int) -> None:
        self.backend: InterpreterBackend = backend
        self.ended = False  # the thread has returned: exit_status is final
        self.abandoned = False
        self.stop_asked: tuple[int, float] | None = None  # (seq, when) told to stop
        self.grace_timer: asyncio.TimerHandle | None = None
        super().__init__(backend, worker_id)

    def start(self, child_sock: socket.socket, page_fd: int) -> None:
        """A thread of this process runs the sub-interpreter (not a fork)."""
        child_fd = os.dup(child_sock.fileno())  # the thread closes its copies
        page_copy = os.dup(page_fd)
        self.thread = threading.Thread(
            target=self._main,
            args=(child_fd, page_copy),
            name=f"{self.backend.options.name}-interpreter-{self.id}",
            daemon=True,
        )
        try:
            self.thread.start()
        except BaseException:
            os.close(child_fd)
            os.close(page_copy)
            raise
        self.backend.threads.add(self.thread)

    # -- the worker thread -----------------------------------------------------------

    def _main(self, sock_fd: int, page_fd: int) -> None:
        """Create the sub-interpreter, serve in it until the socket closes, destroy it."""
        runtime = self.backend.runtime
        status = 70 << 8  # a wait status, as ProcessWorker reads them: exit code 70
        handle: Any = None
        try:
            handle = runtime.create()
            failure = runtime.run(
                handle,
                _BOOT,
                {
                    "sys_path": tuple(sys.path),
                    "sock_fd": sock_fd,
                    "page_fd": page_fd,
                    "init": self.backend.boot_init,
                },
            )
            status = _wait_status(failure)
        except BaseException as exc:
            _log.error("interpreter worker %d could not run: %r", self.id, exc)
        finally:
            os.close(sock_fd)  # the pool reads EOF here if it has not closed its end
            os.close(page_fd)
            if handle is not None:
                try:
                    runtime.destroy(handle)
                except Exception as exc:  # threads a task left running, for one
                    _log.error("interpreter worker %d was not destroyed: %r", self.id, exc)
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self.loop.call_soon_threadsafe(self._thread_ended, status)

    def _thread_ended(self, status: int) -> None:
        self.thread.join()
        self.backend.threads.discard(self.thread)
        self.ended = True
        if self.grace_timer is not None:
            self.grace_timer.cancel()
            self.grace_timer = None
        if self.abandoned:
            self.backend.abandoned -= 1
        self.on_exit_status(status)

    def template_gone(self) -> bool:
        # No template here: the exit status comes from the thread, once it has ended.
        return self.ended

    # -- control -------------------------------------------------------------------

    def request_cancel(self, task: Task) -> None:
        super().request_cancel(task)
        if self.stop_asked is None or self.stop_asked[0] != task.seq:
            self.stop_asked = (task.seq, time.monotonic())

    def kill_if_running(self, task: Task) -> bool:
        """Abandon this worker if it runs ``task`` and ``cancel_grace`` has passed since
        the task was told to stop (later, by a timer, if it has not)."""
        if not self._runs(task):
            return False
        now = time.monotonic()
        asked = self.stop_asked[1] if self.stop_asked and self.stop_asked[0] == task.seq else now
        wait = asked + self.backend.options.cancel_grace - now
        if wait > 0:
            if self.grace_timer is None:
                self.grace_timer = self.loop.call_later(wait, self._grace_over, task)
            return True
        return self._abandon()

    def _grace_over(self, task: Task) -> None:
        self.grace_timer = None
        if self._runs(task):
            self._abandon()

    def _runs(self, task: Task) -> bool:
        if self.reported or self.page.closed or self.abandoned:
            return False
        # Running it, and not answered yet (the page is cleared only after the answer).
        running = w.RUNNING.unpack_from(self.page, 0)[0]
        return bool(running == task.seq and self.last_answered < task.seq)

    def _abandon(self) -> bool:
        backend = self.backend
        if backend.abandoned >= backend.options.max_workers:
            _log.warning(
                "%s: %d abandoned interpreters still run tasks that ignore their token; "
                "worker %d keeps its task until it returns",
                backend.options.name,
                backend.abandoned,
                self.id,
            )
            return False
        self.abandoned = True
        backend.abandoned += 1
        if self.grace_timer is not None:
            self.grace_timer.cancel()
            self.grace_timer = None
        # Its task can no longer answer; the pool learns now that the worker is gone.
        self.eof = True
        self.close_fd()
        self.finish()
        return True

    def retire(self) -> None:
        if self.fd >= 0 and not self.eof:
            # Closing our end is the signal: the task loop reads EOF and returns.
            self.eof = True
            self.close_fd()
            if self.ended:
                self.finish()

    def kill(self) -> None:
        running = 0 if self.page.closed else w.RUNNING.unpack_from(self.page, 0)[0]
        if not (running and not self.abandoned and self._abandon()):
            self.retire()


def _wait_status(failure: tuple[str, str, str] | None) -> int:
    """The exit status (as ``os.waitpid`` gives it) of a sub-interpreter run."""
    if failure is None:
        return 0
    kind, message, display = failure
    if kind == "SystemExit":
        with contextlib.suppress(ValueError):
            return (int(message) & 0xFF) << 8
    sys.stderr.write(display + "\n")
    return 70 << 8


class InterpreterBackend(ProcessBackend):
    """Sub-interpreters in threads of this process, fed like process workers."""

    max_depth = 1  # so an abandoned worker never holds a task it has not started
    can_kill = True  # "kill" abandons the worker's interpreter (module docstring)
    # An abandoned interpreter may still be reading its arguments: no warm segments.
    warm_arguments = False

    @classmethod
    def check_options(cls, options: BackendOptions) -> None:
        check_supported(options.max_memory)

    def __init__(
        self, events: WorkerEvents, loop: asyncio.AbstractEventLoop, options: BackendOptions
    ) -> None:
        super().__init__(events, loop, options)
        self.runtime = _Runtime()
        self.workers: dict[int, InterpreterWorker] = {}  # type: ignore[assignment]
        self.threads: set[threading.Thread] = set()
        self.abandoned = 0  # abandoned workers whose thread still runs
        self.boot_init = pickle.dumps(self.init, 5)
        # The reaper deletes segments the workers make if the application is killed
        # (the workers cannot start processes themselves, so it starts here).
        _reaper.remove_at_death(_shm.path_prefix())

    def new_worker(self, worker_id: int) -> InterpreterWorker:
        worker = InterpreterWorker(self, worker_id)
        self.workers[worker_id] = worker
        return worker

    def preload(self, task: Task) -> None:
        """Nothing to pre-import: each interpreter imports what its tasks need."""

    async def aclose(self) -> None:
        for worker in list(self.workers.values()):
            worker.retire()
        deadline = time.monotonic() + _CLOSE_WAIT
        while any(t.is_alive() for t in self.threads) and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        await asyncio.sleep(0)  # the threads' last callbacks
        self._warn_left_behind()
        for worker in list(self.workers.values()):
            worker.finish()
        self.held.release()

    def release_now(self) -> None:
        for worker in list(self.workers.values()):
            worker.eof = True
            worker.close_fd()
        deadline = time.monotonic() + _CLOSE_WAIT
        for thread in list(self.threads):
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        self._warn_left_behind()
        self.held.release()
        for worker in list(self.workers.values()):
            worker.finish()

    def _warn_left_behind(self) -> None:
        alive = [t for t in self.threads if t.is_alive()]
        if alive:
            _log.warning(
                "%s closed with %d interpreter(s) still running a task that ignored its "
                "token; each is destroyed when its task returns",
                self.options.name,
                len(alive),
            )
