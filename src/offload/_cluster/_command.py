"""The ``offload cluster`` subcommand: serve an app, or ask a running cluster."""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from collections.abc import Callable

from offload._cli._args import non_negative_int, positive_int, seconds, size

from ._options import Options

__all__ = ["add_arguments", "run"]

_DEFAULT = " (default: %(default)s)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``offload cluster`` to its subparser: one per keyword of
    :func:`offload.serve`, with the defaults of :class:`Options` (never a second copy)."""
    parser.add_argument(
        "target",
        metavar="MODULE:APP|status|reload",
        help="the ASGI app to serve, or `status` / `reload` for a running cluster",
    )
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="worker processes (default: CPUs)"
    )
    where = parser.add_argument_group("address")
    where.add_argument("--host", default=Options.host, help="address (default: %(default)s)")
    where.add_argument(
        "--port", type=int, default=Options.port, help="TCP port; 0 picks a free one" + _DEFAULT
    )
    where.add_argument("--uds", default=None, help="listen on this Unix socket path instead")
    where.add_argument(
        "--control", default=None, help="control socket path (default: derived from the port)"
    )
    parser.add_argument(
        "--factory", action="store_true", help="APP is a function that returns the app"
    )
    timeouts = parser.add_argument_group("timeouts (seconds)")
    for flag, default, what in (
        ("--timeout", Options.timeout, "kill a worker whose event loop is blocked this long"),
        (
            "--graceful-timeout",
            Options.graceful_timeout,
            "on stop, let requests finish for this long",
        ),
        ("--ready-timeout", Options.ready_timeout, "a new worker must be serving within this time"),
    ):
        timeouts.add_argument(
            flag,
            type=seconds,
            default=default,
            metavar="SECONDS",
            help=what + " (default: %(default)g)",
        )
    recycle = parser.add_argument_group("recycling healthy workers")
    recycle.add_argument(
        "--max-memory",
        type=size,
        metavar="SIZE",
        help="when its RSS exceeds this (bytes, or 300M, 2G)",
    )
    recycle.add_argument("--max-requests", type=positive_int, help="after this many requests")
    recycle.add_argument(
        "--max-requests-jitter",
        type=non_negative_int,
        default=Options.max_requests_jitter,
        help="add up to this many to each worker's --max-requests" + _DEFAULT,
    )
    uvicorn = parser.add_argument_group("uvicorn in the workers")
    uvicorn.add_argument(
        "--log-level",
        default=Options.log_level,
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level" + _DEFAULT,
    )
    uvicorn.add_argument("--access-log", action="store_true", help="log every request")


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
        # Every keyword of serve() is an option above, under the same name.
        options = {name: getattr(args, name) for name in _serve_keywords(serve)}
        return serve(args.target, **options)
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


def _serve_keywords(serve: Callable[..., int]) -> list[str]:
    """The keyword-only parameters of ``serve``: the options it takes."""
    parameters = inspect.signature(serve).parameters.values()
    return [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
