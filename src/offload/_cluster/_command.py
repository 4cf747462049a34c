"""The ``offload cluster`` subcommand: serve an app, or ask a running cluster."""

from __future__ import annotations

import argparse
import sys
import time

from offload._cli._args import positive_int, seconds, size

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``offload cluster`` to its subparser."""
    parser.add_argument(
        "target",
        metavar="MODULE:APP|status|reload",
        help="the ASGI app to serve, or `status` / `reload` for a running cluster",
    )
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="worker processes (default: CPUs)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one")
    parser.add_argument("--uds", default=None, help="listen on this Unix socket path instead")
    parser.add_argument(
        "--factory", action="store_true", help="APP is a function that returns the app"
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=30.0,
        help="kill a worker whose event loop is blocked this long (default: 30)",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=seconds,
        default=30.0,
        help="on stop, let requests finish for this long (default: 30)",
    )
    parser.add_argument(
        "--ready-timeout",
        type=seconds,
        default=60.0,
        help="a new worker must be serving within this time (default: 60)",
    )
    parser.add_argument(
        "--max-memory",
        type=size,
        default=None,
        help="recycle a worker whose RSS exceeds this (bytes, or 300M, 2G)",
    )
    parser.add_argument(
        "--max-requests", type=positive_int, default=None, help="recycle after this many requests"
    )
    parser.add_argument(
        "--max-requests-jitter",
        type=int,
        default=0,
        help="add up to this many to each worker's --max-requests",
    )
    parser.add_argument(
        "--control", default=None, help="control socket path (default: derived from the port)"
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level in the workers (default: warning)",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")


def run(args: argparse.Namespace) -> int:
    """Run ``offload cluster`` with parsed ``args``; return the exit status."""
    if args.target in ("status", "reload"):
        return _ask(args)
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        print("offload cluster needs uvicorn: pip install 'offload[cluster]'", file=sys.stderr)
        return 2
    from offload._errors import WorkerStartFailed

    from ._serve import serve

    try:
        return serve(
            args.target,
            workers=args.workers,
            host=args.host,
            port=args.port,
            uds=args.uds,
            factory=args.factory,
            timeout=args.timeout,
            graceful_timeout=args.graceful_timeout,
            ready_timeout=args.ready_timeout,
            max_memory=args.max_memory,
            max_requests=args.max_requests,
            max_requests_jitter=args.max_requests_jitter,
            control=args.control,
            log_level=args.log_level,
            access_log=args.access_log,
        )
    except ValueError as exc:
        print(f"offload cluster: error: {exc}", file=sys.stderr)
        return 2
    except WorkerStartFailed as exc:
        print(f"offload cluster: {exc}", file=sys.stderr)
        return 1


def _ask(args: argparse.Namespace) -> int:
    from . import _control

    path = args.control or _control.default_path(args.port, args.uds)
    try:
        answer = _control.request(path, args.target)
    except OSError as exc:
        print(
            f"offload cluster {args.target}: no cluster answers on {path} ({exc.strerror or exc}); "
            "pass its --port, --uds or --control",
            file=sys.stderr,
        )
        return 2
    if args.target == "reload":
        print(f"reload {answer.get('reload', answer)}")
        return 0 if answer.get("reload") == "started" else 1
    print(format_status(answer))
    return 0


def format_status(answer: dict[str, object]) -> str:
    """The status table a person reads."""
    lines = [
        f"{answer.get('app')} on {answer.get('address')}  supervisor pid {answer.get('pid')}"
        f"{'  (reloading)' if answer.get('reloading') else ''}",
        f"{'id':<4} {'pid':>7} {'state':<9} {'uptime':>8} {'restarts':>8} {'rss':>8} "
        f"{'requests':>9} {'lag p99':>8}  last restart",
    ]
    workers = answer.get("workers")
    for w in workers if isinstance(workers, list) else []:
        lines.append(
            f"{w['id']:<4} {w['pid']:>7} {w['state']:<9} {_duration(w['uptime']):>8} "
            f"{w['restarts']:>8} {w['rss'] / 2**20:>6.0f} M {w['requests']:>9} "
            f"{w['lag_p99'] * 1e3:>5.1f} ms  {w['last_reason'] or '-'}"
        )
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return time.strftime("%H:%M:%S", time.gmtime(seconds))
