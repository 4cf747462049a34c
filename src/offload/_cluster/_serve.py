"""``offload.serve``: the Python entry point of the cluster."""

from __future__ import annotations

import logging

from offload._loghandler import SendHandler

from ._options import Options, default_workers
from ._output import stderr_sink
from ._supervisor import Supervisor

__all__ = ["serve"]


def serve(
    app: str,
    *,
    workers: int | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    uds: str | None = None,
    factory: bool = False,
    timeout: float = 30.0,
    graceful_timeout: float = 30.0,
    ready_timeout: float = 60.0,
    max_memory: int | None = None,
    max_requests: int | None = None,
    max_requests_jitter: int = 0,
    control: str | None = None,
    log_level: str = "warning",
    access_log: bool = False,
) -> int:
    """Serve the ASGI app ``app`` ("MODULE:APP") from ``workers`` uvicorn processes.

    All workers serve one socket bound here (``host:port``, or the Unix socket ``uds``).
    Crashed workers restart with back-off; a worker whose event loop does not beat for
    ``timeout`` seconds is killed (its blocking stack is logged) and replaced; SIGHUP
    reloads one worker at a time, each new worker ready before the old one stops;
    ``max_memory`` (bytes of RSS) and ``max_requests`` recycle workers gracefully;
    SIGTERM/SIGINT stop, letting requests finish for up to ``graceful_timeout``.
    ``factory``: APP is a function returning the app. Blocks until stopped and returns
    0. Call it from the main thread of a program without other threads (it forks).

    Raises ``ValueError`` for bad options, an unknown module or app, or an address in
    use; ``offload.WorkerStartFailed`` (with the worker's error) when workers keep
    failing to start.

    Example::

        if __name__ == "__main__":
            offload.serve("myapp:app", workers=4, port=8000)
    """
    options = Options(
        app=app,
        workers=default_workers() if workers is None else workers,
        host=host,
        port=port,
        uds=uds,
        factory=factory,
        timeout=timeout,
        graceful_timeout=graceful_timeout,
        ready_timeout=ready_timeout,
        max_memory=max_memory,
        max_requests=max_requests,
        max_requests_jitter=max_requests_jitter,
        control=control,
        log_level=log_level,
        access_log=access_log,
    )
    log = logging.getLogger("offload.cluster")
    if not log.handlers and not logging.getLogger().handlers:
        handler = SendHandler.lines(stderr_sink().write)
        handler.setFormatter(logging.Formatter("[cluster] %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return Supervisor(options).run()
