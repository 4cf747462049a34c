"""A worker process: one uvicorn server on the inherited socket, reporting to its supervisor.

Forked by the supervisor (which has imported uvicorn but never the app, so each worker,
and each worker of a reload, imports the app's current code)::

    fork ─► own process group, dies with the supervisor (PR_SET_PDEATHSIG)
         ─► stdout/stderr into the supervisor's pipe (it prefixes the worker id)
         ─► import MODULE:APP ─► uvicorn startup (lifespan) ─► "ready"
         ─► every `beat` s, from the event loop: "beat" {requests, lag_p99}
            offload.monitor's watchdog: a block in progress ─► "block" {stack}
         ─► SIGTERM: uvicorn stops accepting, finishes requests, runs lifespan shutdown

The heartbeat is sent by a callback on the event loop, not by a thread, so a blocked
loop goes quiet and the supervisor sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import math
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, NoReturn

from offload._monitor import BlockReport, LoopWatch

from . import _messages

__all__ = ["AppNotFound", "WorkerSpec", "load_app", "run"]

# Exit status of a worker that could not even find its app (bad MODULE:APP).
EXIT_CONFIG = 3
# A block this long is reported by offload.monitor.
_BLOCK_THRESHOLD = 0.1
# A block still going after this long (capped by half the --timeout) is sent to the
# supervisor while it lasts, with its stack, so the stack is known before the kill.
_HUNG_AFTER = 1.0
# How long a stopping worker waits for the first request of a just-accepted connection.
_FRESH_CONNECTION_WAIT = 1.0

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class AppNotFound(Exception):
    """MODULE:APP does not name an importable attribute."""


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to know; built by the supervisor before it forks."""

    slot: int
    app: str
    factory: bool
    supervisor: int
    beat: float
    graceful_timeout: float
    log_level: str
    access_log: bool
    timeout: float = 30.0
    reuseport: bool = False  # listen on an own SO_REUSEPORT socket (bench only)


def load_app(spec: str, factory: bool = False) -> Any:
    """Import ``MODULE:ATTR`` (call it when ``factory``); raises AppNotFound when absent."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise AppNotFound(f"{spec!r} is not MODULE:APP (for example main:app)")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise AppNotFound(f"no module named {module_name!r} (app {spec!r})") from exc
        raise
    app: Any = module
    for part in attr.split("."):
        try:
            app = getattr(app, part)
        except AttributeError:
            raise AppNotFound(
                f"module {module_name!r} has no attribute {attr!r} (app {spec!r})"
            ) from None
    return app() if factory else app


def run(
    spec: WorkerSpec,
    listener: socket.socket,
    channel: socket.socket,
    output: int,
    close_inherited: Callable[[], None],
) -> NoReturn:
    """The forked child's whole life; never returns to the supervisor's code."""
    # Imported here: importing offload must not import the pool's template module
    # (it runs as ``python -m``).
    from offload._pool._kind_process_template import set_parent_death_signal

    code = 1
    try:
        close_inherited()
        signal.set_wakeup_fd(-1)
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)
        for sig in handled:
            signal.signal(sig, signal.SIG_DFL)
        # Blocked by the supervisor across the fork; one sent meanwhile acts now.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, handled)
        os.setpgid(0, 0)  # Ctrl-C in a terminal reaches the supervisor only
        set_parent_death_signal(signal.SIGKILL)
        if os.getppid() != spec.supervisor:  # it died before prctl took effect
            os._exit(1)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        with contextlib.suppress(AttributeError, ValueError):
            sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        code = _serve(spec, listener, channel)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _serve(spec: WorkerSpec, listener: socket.socket, channel: socket.socket) -> int:
    import uvicorn

    try:
        app = load_app(spec.app, spec.factory)
    except AppNotFound as exc:
        _messages.send(channel, "error", text=str(exc), config=True)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except BaseException:
        text = traceback.format_exc()
        _messages.send(channel, "error", text=text, config=False)
        sys.stderr.write(text)
        return 1
    if spec.reuseport:  # joins the address's group now that the app is loaded
        from ._socket import listen_reuseport

        holder, listener = listener, listen_reuseport(listener)
        holder.close()
    counted = _Counted(app)
    config = uvicorn.Config(
        counted,
        log_level=spec.log_level,
        access_log=spec.access_log,
        timeout_graceful_shutdown=math.ceil(spec.graceful_timeout),
    )
    server = _Server(config, spec, channel, counted)
    with contextlib.suppress(SystemExit):  # uvicorn's way to say startup failed
        server.run(sockets=[listener])
    if not server.started:
        if counted.startup_error is not None:
            _messages.send(channel, "error", text=counted.startup_error, config=False)
        return 1
    return 0


class _Counted:
    """The app, counting finished HTTP requests and keeping a lifespan startup error."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0
        self.startup_error: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                await self.app(scope, receive, send)
            finally:
                self.requests += 1
            return
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def watch_send(message: dict[str, Any]) -> None:
            if message.get("type") == "lifespan.startup.failed":
                self.startup_error = str(message.get("message") or "lifespan startup failed")
            await send(message)

        try:
            await self.app(scope, receive, watch_send)
        except BaseException:
            if self.startup_error is None or "Traceback" not in self.startup_error:
                self.startup_error = traceback.format_exc()
            raise


class _Server:  # a uvicorn.Server, built lazily so this module imports without uvicorn
    def __new__(
        cls, config: Any, spec: WorkerSpec, channel: socket.socket, counted: _Counted
    ) -> Any:
        import uvicorn

        class Server(uvicorn.Server):
            _beat_handle: asyncio.TimerHandle | None = None

            @contextlib.contextmanager
            def capture_signals(self) -> Generator[None, None, None]:
                # Like uvicorn's, without raising the signal again at the end: the
                # worker then exits normally and flushes its output.
                old = {
                    sig: signal.signal(sig, self.handle_exit)
                    for sig in (signal.SIGINT, signal.SIGTERM)
                }
                try:
                    yield
                finally:
                    for sig, handler in old.items():
                        signal.signal(sig, handler)

            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets=sockets)
                if not self.started or self.should_exit:
                    return
                watch = LoopWatch(
                    threshold=_BLOCK_THRESHOLD,
                    hung_after=min(_HUNG_AFTER, spec.timeout / 2),
                    on_hung=lambda report: _send_block(channel, report),
                )
                watch.start()
                loop = asyncio.get_running_loop()

                def beat() -> None:
                    stats = watch.stats()
                    _messages.send(
                        channel, "beat", requests=counted.requests, lag_p99=stats.lag_p99
                    )
                    self._beat_handle = loop.call_later(spec.beat, beat)

                _messages.send(channel, "ready")
                beat()

            async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
                # Stop accepting first, then let connections accepted a moment ago
                # deliver their request: uvicorn's shutdown closes a connection that
                # has not sent one yet, and the client would see a reset.
                for server in self.servers:
                    server.close()
                loop = asyncio.get_running_loop()
                deadline = loop.time() + _FRESH_CONNECTION_WAIT
                while loop.time() < deadline and any(
                    getattr(c, "cycle", True) is None for c in self.server_state.connections
                ):
                    await asyncio.sleep(0.005)
                await super().shutdown(sockets=sockets)

        return Server(config)


def _send_block(channel: socket.socket, report: BlockReport) -> None:
    """Tell the supervisor where the loop is blocked (called on the watchdog thread)."""
    _messages.send(
        channel,
        "block",
        text=f"event loop blocked for {report.duration:.1f} s so far, "
        f"still in {report.function}\n{report.stack}",
    )
