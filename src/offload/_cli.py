"""The `offload` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="offload",
        description="Keep the asyncio event loop free. Subcommands show offload at work.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("tour", help="run a short tour of offload's features")
    from ._demo._command import add_arguments as add_demo_arguments

    add_demo_arguments(
        sub.add_parser(
            "demo",
            help="serve the subset-sum demo with a live page, or compare strategies",
            description="Serve subset-sum over HTTP with a live page of loop lag and pool "
            "load; --compare loads one server per strategy and prints a table.",
        )
    )
    from ._cluster._command import add_arguments as add_cluster_arguments

    add_cluster_arguments(
        sub.add_parser(
            "cluster",
            help="serve an ASGI app from supervised uvicorn worker processes",
            description="Serve MODULE:APP from N uvicorn processes on one address: "
            "restarts with back-off, loop-aware liveness, rolling reload on SIGHUP; "
            "`status` and `reload` ask a running cluster.",
        )
    )
    from ._jobs._command import add_arguments as add_worker_arguments

    add_worker_arguments(
        sub.add_parser(
            "worker",
            help="run the jobs of a JobQueue from RabbitMQ",
            description="Consume a JobQueue's jobs from RabbitMQ and run each in an "
            "offload.Pool; SIGTERM stops gracefully.",
        )
    )
    return parser


def _version() -> str:
    from . import __version__

    return f"offload {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `offload` console script; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "tour":
        from ._tour import main as tour

        return tour()
    if args.command == "demo":
        from ._demo._command import run as demo

        return demo(args)
    if args.command == "cluster":
        from ._cluster._command import run as cluster

        return cluster(args)
    if args.command == "worker":
        from ._jobs._command import run as worker

        return worker(args)
    parser.print_help(sys.stderr)
    return 2
