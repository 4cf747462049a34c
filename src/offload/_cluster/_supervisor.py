"""The supervisor: one loop that owns every decision about the workers.

::

    signals ──tiny handlers──► queue + wake-up pipe ─┐
    worker channels ("ready", "beat", "block", "error") ├─► select() ─► one decision loop
    worker output pipes (prefixed, copied to stderr)  │        │
    control socket ("status", "reload") ──────────────┘        ├─ reap exits: restart with
                                                               │  back-off, or give up on a
                                                               │  crash loop at start
                                                               ├─ no beat for --timeout:
                                                               │  kill, log the loop's stack
                                                               ├─ memory / request limits:
                                                               │  replace gracefully
                                                               └─ reload: one slot at a time,
                                                                  new ready before old stops

Each worker slot (``w1`` .. ``wN``) holds the serving worker and, while it is being
replaced, its candidate. A replacement (reload, recycling) starts the candidate, waits
until it is ready (lifespan started, accepting), and only then sends the old worker
SIGTERM; uvicorn then stops accepting and finishes the requests it has. A candidate
that fails to become ready is dropped and the old worker keeps serving.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from offload._errors import WorkerStartFailed

from . import _control, _messages, _recycle, _socket, _worker
from ._backoff import Backoff
from ._options import Options
from ._output import Output, stderr_sink

__all__ = ["Supervisor"]

logger = logging.getLogger("offload.cluster")

_TICK = 0.1
# A worker silent for --timeout whose blocking stack has not arrived yet is given this
# much longer for it (its watchdog sends it within half the timeout, or a second).
_STACK_GRACE = 1.0
_HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)


@dataclass(eq=False)
class _Worker:
    slot: int
    pid: int
    channel: socket.socket
    output: Output
    started: float
    state: str = "starting"  # starting, serving, stopping
    ready_at: float = 0.0
    last_beat: float = 0.0
    requests: int = 0
    lag_p99: float = 0.0
    rss: int = 0
    request_limit: int | None = None
    error: str | None = None
    config_error: bool = False
    block: str | None = None  # the stack of the block in progress, if any
    stack_wait: float = 0.0  # silent too long: killed at this time if no stack came
    kill_at: float = 0.0
    killed_for: str | None = None
    purpose: str = "start"  # start, restart, reload, recycle

    @property
    def name(self) -> str:
        return f"w{self.slot} (pid {self.pid})"


@dataclass(eq=False)
class _Slot:
    id: int
    current: _Worker | None = None
    candidate: _Worker | None = None
    restarts: int = 0
    last_reason: str = ""
    restart_at: float | None = None
    replace_after: float = 0.0
    backoff: Backoff = field(default_factory=Backoff)


class Supervisor:
    """Runs the cluster described by ``options`` until it is stopped; see ``offload.serve``."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self._slots = [_Slot(i + 1) for i in range(options.workers)]
        self._signals: deque[int] = deque()
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._control: socket.socket | None = None
        self._control_path: str | None = None
        self._wake_r = self._wake_w = -1
        self._stopping = False
        self._fatal: BaseException | None = None
        self._reload: deque[int] = deque()
        self._reload_slot: int | None = None
        self._retiring: list[_Worker] = []  # replaced, finishing their requests
        self._next_memory_check = 0.0
        self._started = time.monotonic()
        self._sink = stderr_sink()
        self.address = ""

    # -- life cycle -------------------------------------------------------------------

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; 0 after a clean stop.

        Raises ``ValueError`` for a bad address or app, ``WorkerStartFailed`` when workers
        keep failing to start.
        """
        import uvicorn
        import uvicorn.lifespan.on
        import uvicorn.protocols.http.h11_impl  # noqa: F401

        opts = self.options
        self._check_module()
        self._listener = _socket.bind(
            opts.host, opts.port, opts.uds, reuseport=opts.socket_model == "reuseport"
        )
        try:
            self.address = _socket.address_text(self._listener)
            port = self._listener.getsockname()[1] if opts.uds is None else 0
            self._control_path = opts.control or _control.default_path(port, opts.uds)
            self._control = _control.bind(self._control_path)
            self._selector.register(self._control, selectors.EVENT_READ, self._on_control)
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            os.set_blocking(self._wake_w, False)
            self._selector.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
            old_handlers = {sig: signal.signal(sig, self._on_signal) for sig in _HANDLED}
            old_wakeup = signal.set_wakeup_fd(self._wake_w)
            try:
                logger.warning(
                    "serving %s on %s with %d workers (supervisor pid %d, control %s)",
                    opts.app,
                    self.address,
                    opts.workers,
                    os.getpid(),
                    self._control_path,
                )
                for slot in self._slots:
                    self._start(slot, "start")
                self._loop()
            finally:
                signal.set_wakeup_fd(old_wakeup)
                for sig, handler in old_handlers.items():
                    signal.signal(sig, handler)
        finally:
            self._close()
        if self._fatal is not None:
            self._sink.drain()
            raise self._fatal
        logger.warning("stopped")
        self._sink.drain()
        return 0

    def _check_module(self) -> None:
        import importlib.util
        import sys

        module = self.options.app.partition(":")[0]
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            found = None
        if found is None:
            raise ValueError(
                f"no module named {module!r} (app {self.options.app!r}); run from the "
                "directory that holds it, or check the spelling"
            )

    def _close(self) -> None:
        for worker in self._workers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(worker.pid, 0)
            self._forget(worker)
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        if self._control is not None:
            self._control.close()
            if self._control_path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self._control_path)
        if self._listener is not None:
            self._listener.close()
            if self.options.uds is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self.options.uds)
        self._selector.close()

    def _loop(self) -> None:
        while True:
            self._sink.flush()
            for key, _ in self._selector.select(_TICK):
                callback: Callable[[Any], None] = key.data
                callback(key.fileobj)
            while self._signals:
                self._handle_signal(self._signals.popleft())
            self._reap()
            if self._stopping:
                self._tick_stopping()
                if not any(True for _ in self._workers()):
                    return
            else:
                self._tick()

    # -- events -----------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signals.append(signum)  # acted on by the loop, never here

    def _on_wake(self, fd: Any) -> None:
        with contextlib.suppress(OSError):
            while os.read(self._wake_r, 4096):
                pass

    def _handle_signal(self, signum: int) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            if self._stopping:
                logger.warning("second stop signal: killing the workers now")
                for worker in self._workers():
                    worker.state = "stopping"
                    worker.kill_at = 0.0
                return
            self._stop_all(signal.Signals(signum).name)
        elif signum == signal.SIGHUP:
            self.reload()

    def _on_channel(self, sock: Any) -> None:
        worker = self._by_channel(sock)
        try:
            data = sock.recv(_messages.MAX_TEXT * 4)
        except OSError:
            data = b""
        if not data:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(sock)
            return
        if worker is None:
            return
        message = _messages.decode(data)
        kind = message.get("t")
        now = time.monotonic()
        if kind == "beat":
            worker.last_beat = now
            worker.block = None  # the loop ran: any block reported before has ended
            worker.stack_wait = 0.0
            worker.requests = int(message.get("requests", 0))
            worker.lag_p99 = float(message.get("lag_p99", 0.0))
        elif kind == "ready":
            worker.last_beat = now
            self._on_ready(worker, now)
        elif kind == "block":
            worker.block = str(message.get("text", ""))
        elif kind == "error":
            worker.error = str(message.get("text", ""))
            worker.config_error = bool(message.get("config", False))

    def _on_output(self, fd: Any) -> None:
        for worker in self._workers():
            if worker.output.fd == fd:
                if not worker.output.read():
                    with contextlib.suppress(KeyError, ValueError):
                        self._selector.unregister(fd)
                return

    def _on_control(self, sock: Any) -> None:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        command = _control.read_command(conn)
        if command == "status":
            _control.reply(conn, self.status())
        elif command == "reload":
            started = self.reload()
            _control.reply(conn, {"reload": "started" if started else "refused"})
        else:
            _control.reply(conn, {"error": f"unknown command {command!r}"})

    # -- decisions --------------------------------------------------------------------

    def reload(self) -> bool:
        """Start a rolling reload (False when stopping or one is already running)."""
        if self._stopping:
            return False
        if self._reload or self._reload_slot is not None:
            logger.warning("reload requested while one is running: ignored")
            return False
        self._reload.extend(slot.id for slot in self._slots)
        logger.warning("reload: replacing %d workers one at a time", len(self._slots))
        return True

    def _on_ready(self, worker: _Worker, now: float) -> None:
        if worker.state == "stopping":
            # Told to stop while it was starting: it stays stopping (and is killed at
            # its deadline if it does not stop by itself).
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGTERM)
            return
        worker.state = "serving"
        worker.ready_at = now
        slot = self._slots[worker.slot - 1]
        if slot.candidate is worker:
            old = slot.current
            slot.candidate = None
            slot.current = worker
            slot.restarts += 1
            reason = slot.last_reason
            if old is not None:
                self._retiring.append(old)
                self._stop(old, reason)
            logger.warning("%s ready, replaced %s (%s)", worker.name, _name(old), reason)
            if self._reload_slot == slot.id:
                self._reload_slot = None
                if not self._reload:
                    logger.warning("reload done: every worker runs the new version")
        else:
            logger.info("%s ready", worker.name)

    def _tick(self) -> None:
        now = time.monotonic()
        opts = self.options
        for slot in self._slots:
            for worker in (slot.current, slot.candidate):
                if worker is None:
                    continue
                if worker.state == "starting" and now - worker.started > opts.ready_timeout:
                    self._kill(worker, f"not ready within {opts.ready_timeout:g} s")
                elif worker.state == "serving" and now - worker.last_beat > opts.timeout:
                    if worker.block is None and worker.stack_wait == 0.0:
                        worker.stack_wait = now + _STACK_GRACE
                    if worker.block is None and now < worker.stack_wait:
                        continue  # its watchdog's stack is on the way
                    stack = worker.block or "(no stack was reported before the timeout)"
                    self._kill(
                        worker,
                        f"event loop blocked for {now - worker.last_beat:.1f} s "
                        f"(--timeout {opts.timeout:g})",
                        detail=stack,
                    )
                elif worker.state == "serving":
                    slot.backoff.succeeded(now - worker.ready_at)
            if slot.current is None and slot.restart_at is not None and now >= slot.restart_at:
                slot.restart_at = None
                self._start(slot, "restart")
        self._tick_stopping()
        if now >= self._next_memory_check:
            self._next_memory_check = now + _recycle.MEMORY_CHECK_EVERY
            for slot in self._slots:
                if slot.current is not None and slot.current.state == "serving":
                    slot.current.rss = _recycle.rss(slot.current.pid)
        for slot in self._slots:
            worker = slot.current
            if worker is None or worker.state != "serving" or slot.candidate is not None:
                continue
            why = _recycle.reason(
                worker.rss, worker.requests, opts.max_memory, worker.request_limit
            )
            if why is not None and now >= slot.replace_after:
                self._replace(slot, f"recycled: {why}", "recycle")
        if self._reload and self._reload_slot is None:
            slot = self._slots[self._reload.popleft() - 1]
            if slot.candidate is None and slot.current is not None:
                self._reload_slot = slot.id
                self._replace(slot, "reload", "reload")
            else:
                self._reload.appendleft(slot.id)  # busy being replaced: wait for it

    def _tick_stopping(self) -> None:
        now = time.monotonic()
        for worker in self._workers():
            if worker.state == "stopping" and now >= worker.kill_at:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGKILL)
                worker.kill_at = float("inf")

    def _reap(self) -> None:
        for worker in list(self._workers()):
            try:
                pid, status = os.waitpid(worker.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = worker.pid, 0
            if pid == 0:
                continue
            self._forget(worker)
            self._on_exit(worker, _describe(status))

    def _on_exit(self, worker: _Worker, how: str) -> None:
        slot = self._slots[worker.slot - 1]
        now = time.monotonic()
        was_candidate = slot.candidate is worker
        was_current = slot.current is worker
        if was_candidate:
            slot.candidate = None
        if was_current:
            slot.current = None
        if worker in self._retiring:
            self._retiring.remove(worker)
        if worker.state == "stopping" and worker.killed_for is None:
            logger.info("%s stopped (%s)", worker.name, how)
            return
        if was_candidate:
            error = worker.killed_for or _error_text(worker, how)
            if worker.purpose == "reload":
                self._reload.clear()
                self._reload_slot = None
                logger.error(
                    "reload aborted (rolled back): the new w%d did not become ready: %s\n"
                    "the running workers keep serving their version",
                    slot.id,
                    error,
                )
            else:
                delay = slot.backoff.failed(0.0)
                slot.replace_after = now + max(delay, 1.0)
                logger.error("%s failed to start as a replacement: %s", worker.name, error)
            if slot.current is None and not self._stopping:
                slot.restart_at = now + slot.backoff.failed(0.0)
            return
        if not was_current:
            return
        if self._stopping:
            return
        reason = worker.killed_for or f"crashed ({how})"
        if worker.ready_at == 0.0:
            self._start_failed(slot, worker, how)
            return
        slot.restarts += 1
        slot.last_reason = reason
        delay = slot.backoff.failed(now - worker.ready_at)
        logger.error(
            "%s %s; restarting %s", worker.name, reason, f"in {delay:.2f} s" if delay else "now"
        )
        if slot.candidate is None:
            slot.restart_at = now + delay

    def _start_failed(self, slot: _Slot, worker: _Worker, how: str) -> None:
        error = worker.killed_for or _error_text(worker, how)
        serving = any(s.current is not None and s.current.state == "serving" for s in self._slots)
        if worker.config_error and not serving:
            self._fatal = ValueError(error)
            self._stop_all("the app could not be found")
            return
        delay = slot.backoff.failed(0.0)
        slot.last_reason = f"failed to start: {how}"
        if slot.backoff.failures >= self.options.start_tries and not serving:
            self._fatal = WorkerStartFailed(
                f"workers failed to start {slot.backoff.failures} times in a row; the last "
                f"error ({worker.name}, {how}):\n{error}"
            )
            logger.error("giving up: %s", self._fatal)
            self._stop_all("crash loop at start")
            return
        logger.error(
            "%s failed to start (%s); retry %d in %.2f s:\n%s",
            worker.name,
            how,
            slot.backoff.failures,
            delay,
            error,
        )
        slot.restart_at = time.monotonic() + delay

    def _replace(self, slot: _Slot, reason: str, purpose: str) -> None:
        slot.last_reason = reason
        logger.warning("w%d: %s: starting its replacement", slot.id, reason)
        self._start(slot, purpose)

    def _stop_all(self, why: str) -> None:
        self._stopping = True
        self._reload.clear()
        logger.warning(
            "stopping (%s): workers finish their requests (up to %g s)",
            why,
            self.options.graceful_timeout,
        )
        for worker in list(self._workers()):
            self._stop(worker, why)

    def _stop(self, worker: _Worker, reason: str) -> None:
        if worker.state == "stopping":
            return
        worker.state = "stopping"
        worker.kill_at = time.monotonic() + self.options.graceful_timeout + 2.0
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGTERM)

    def _kill(self, worker: _Worker, reason: str, detail: str = "") -> None:
        worker.killed_for = reason
        logger.error("%s killed: %s%s", worker.name, reason, f"\n{detail}" if detail else "")
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGKILL)
        worker.state = "stopping"
        worker.kill_at = float("inf")

    # -- processes --------------------------------------------------------------------

    def _start(self, slot: _Slot, purpose: str) -> None:
        opts = self.options
        assert self._listener is not None
        spec = _worker.WorkerSpec(
            slot=slot.id,
            app=opts.app,
            factory=opts.factory,
            supervisor=os.getpid(),
            beat=opts.beat,
            graceful_timeout=opts.graceful_timeout,
            log_level=opts.log_level,
            access_log=opts.access_log,
            timeout=opts.timeout,
            reuseport=opts.socket_model == "reuseport",
        )
        mine, theirs = _messages.pair()
        out_r, out_w = os.pipe()
        # Signals stay blocked across the fork: a SIGTERM sent to a worker just forked
        # must not reach the supervisor's handler copied into it (it would be lost and the
        # worker would serve on); the worker unblocks them once its own handlers are set.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _HANDLED)
        try:
            pid = os.fork()
            if pid == 0:  # the child: never returns
                mine.close()
                os.close(out_r)
                # The common convention for "how many server processes share this
                # machine", so the app can size its pool (docs/guides/sizing.md).
                os.environ["WEB_CONCURRENCY"] = str(opts.workers)
                _worker.run(spec, self._listener, theirs, out_w, self._close_in_child)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        theirs.close()
        os.close(out_w)
        now = time.monotonic()
        worker = _Worker(
            slot=slot.id,
            pid=pid,
            channel=mine,
            output=Output(out_r, f"[w{slot.id} {pid}]", self._sink),
            started=now,
            purpose=purpose,
            request_limit=_recycle.request_limit(opts.max_requests, opts.max_requests_jitter),
        )
        mine.setblocking(False)
        self._selector.register(mine, selectors.EVENT_READ, self._on_channel)
        self._selector.register(out_r, selectors.EVENT_READ, self._on_output)
        if purpose in ("reload", "recycle"):
            slot.candidate = worker
        else:
            slot.current = worker

    def _close_in_child(self) -> None:
        # Close the supervisor's objects in the fork, so their numbers are free and
        # never closed twice; the listener stays (the worker serves it).
        self._selector.close()
        self._sink.detach()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self._control is not None:
            self._control.close()
        for worker in self._workers():
            worker.channel.close()
            with contextlib.suppress(OSError):
                os.close(worker.output.fd)

    def _forget(self, worker: _Worker) -> None:
        for obj in (worker.channel, worker.output.fd):
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(obj)
        while True:  # the last messages (an error) may still be queued
            try:
                data = worker.channel.recv(_messages.MAX_TEXT * 4)
            except OSError:
                break
            if not data:
                break
            message = _messages.decode(data)
            if message.get("t") == "error":
                worker.error = str(message.get("text", ""))
                worker.config_error = bool(message.get("config", False))
            elif message.get("t") == "block":
                worker.block = str(message.get("text", ""))
        worker.channel.close()
        worker.output.close()

    def _workers(self) -> list[_Worker]:
        found: list[_Worker] = []
        for slot in self._slots:
            found.extend(w for w in (slot.current, slot.candidate) if w is not None)
        found.extend(self._retiring)
        return found

    def _by_channel(self, sock: object) -> _Worker | None:
        for worker in self._workers():
            if worker.channel is sock:
                return worker
        return None

    # -- status -----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What ``offload cluster status`` shows."""
        now = time.monotonic()
        workers = []
        for slot in self._slots:
            for worker in (slot.current, slot.candidate):
                if worker is None:
                    continue
                workers.append(
                    {
                        "id": f"w{slot.id}",
                        "pid": worker.pid,
                        "state": worker.state,
                        "uptime": now - worker.started,
                        "restarts": slot.restarts,
                        "rss": worker.rss or _recycle.rss(worker.pid),
                        "requests": worker.requests,
                        "lag_p99": worker.lag_p99,
                        "last_reason": slot.last_reason,
                    }
                )
        return {
            "pid": os.getpid(),
            "app": self.options.app,
            "address": self.address,
            "uptime": now - self._started,
            "reloading": bool(self._reload) or self._reload_slot is not None,
            "workers": workers,
        }


def _name(worker: _Worker | None) -> str:
    return "nothing" if worker is None else worker.name


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            return f"killed by {signal.Signals(sig).name}"
        except ValueError:
            return f"killed by signal {sig}"
    return f"exit code {os.WEXITSTATUS(status)}"


def _error_text(worker: _Worker, how: str) -> str:
    if worker.error:
        return worker.error.rstrip()
    if worker.output.tail:
        return "\n".join(worker.output.tail)
    return f"it exited ({how}) without output"
