"""The ``offload demo`` subcommand: serve the demo app, or compare its strategies."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import Coroutine
from typing import Any

from offload._cli._args import positive_int, seconds

__all__ = ["add_arguments", "run"]

STRATEGY_NAMES = ("blocking", "interleave", "thread", "process")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``offload demo`` to its subparser."""
    parser.add_argument(
        "--strategy",
        choices=STRATEGY_NAMES,
        default="process",
        help="where the search runs (default: process)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=8000, help="port to listen on; 0 picks a free one"
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="pool workers for the thread and process strategies (default: CPU count)",
    )
    parser.add_argument(
        "--procs",
        type=positive_int,
        default=None,
        help="serve from this many supervised server processes (offload cluster)",
    )
    compare = parser.add_argument_group("comparison run")
    compare.add_argument(
        "--compare",
        action="store_true",
        help="start a server per strategy, load it with jobs while probing /ping, "
        "and print a table",
    )
    compare.add_argument(
        "--jobs", type=positive_int, default=None, help="concurrent jobs (default: workers)"
    )
    compare.add_argument(
        "--duration",
        type=seconds,
        default=3.0,
        help="seconds of load per strategy (default: 3)",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``offload demo`` with parsed ``args``; return the exit status."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        print(
            f"offload demo needs the demo extra ({exc.name} is missing): "
            "pip install 'offload[demo]'",
            file=sys.stderr,
        )
        return 2
    workers = args.workers or len(os.sched_getaffinity(0)) or 1
    if args.compare:
        from ._compare import compare

        return _run_loop(
            compare(
                workers=workers,
                jobs=args.jobs or workers,
                duration=args.duration,
                host=args.host,
            )
        )
    if args.procs:
        return _serve_cluster(args.strategy, args.host, args.port, workers, args.procs)
    return _run_loop(_serve(args.strategy, args.host, args.port, workers))


def _serve_cluster(strategy: str, host: str, port: int, workers: int, procs: int) -> int:
    from offload._cluster._serve import serve

    os.environ["OFFLOAD_DEMO_STRATEGY"] = strategy
    os.environ["OFFLOAD_DEMO_WORKERS"] = str(workers)
    print(f"offload demo: {procs} processes; `offload cluster status --port {port}` shows them")
    try:
        return serve(
            "offload._cli._demo._command:cluster_app",
            factory=True,
            workers=procs,
            host=host,
            port=port,
            graceful_timeout=2,
        )
    except ValueError as exc:
        print(f"offload demo: error: {exc}", file=sys.stderr)
        return 2


def cluster_app() -> Any:
    """The demo app of one cluster worker (strategy and pool size from the environment)."""
    from ._app import create_app

    strategy = os.environ.get("OFFLOAD_DEMO_STRATEGY", "process")
    return create_app(strategy, int(os.environ.get("OFFLOAD_DEMO_WORKERS", "2")))


def _run_loop(main: Coroutine[Any, Any, int]) -> int:
    # uvloop when it is installed: the demo is a server, and offload must work on it.
    try:
        import uvloop
    except ImportError:
        runner = asyncio.Runner()
    else:
        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    try:
        with runner:
            return runner.run(main)
    except KeyboardInterrupt:
        return 0


async def _serve(strategy: str, host: str, port: int, workers: int) -> int:
    import uvicorn

    from ._app import create_app

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and not self.should_exit:
                # The bound address: with --port 0 only the socket knows the port.
                bound = self.servers[0].sockets[0].getsockname()
                shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
                print(
                    f"offload demo: {strategy} strategy, {workers} workers\n"
                    f"  open http://{shown}:{bound[1]}/  (Ctrl-C stops)",
                    flush=True,
                )

    config = uvicorn.Config(
        create_app(strategy, workers),
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        # Streams still open at Ctrl-C are cut after this, which cancels their jobs.
        timeout_graceful_shutdown=2,
    )
    server = Server(config)
    with contextlib.suppress(SystemExit):  # uvicorn's way to say it could not start
        await server.serve()
    if not server.started:
        print("offload demo: the server did not start (see the error above)", file=sys.stderr)
        return 1
    return 0
