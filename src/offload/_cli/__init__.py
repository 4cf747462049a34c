"""The ``offload`` command line: one parser, one table of subcommands.

A subcommand is a module with ``add_arguments(parser)`` and ``run(args) -> int``,
registered by one line in :data:`COMMANDS`. Modules are imported when the parser is
built, so each may import its own dependencies lazily (inside ``run``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NamedTuple

__all__ = ["COMMANDS", "main"]


class Command(NamedTuple):
    module: str  # has add_arguments(parser) and run(args) -> int
    help: str
    description: str | None = None


COMMANDS: dict[str, Command] = {
    "tour": Command("offload._cli._tour", "run a short tour of offload's features"),
    "demo": Command(
        "offload._cli._demo._command",
        "serve the subset-sum demo with a live page, or compare strategies",
        "Serve subset-sum over HTTP with a live page of loop lag and pool load; --compare "
        "loads one server per strategy and prints a table.",
    ),
    "cluster": Command(
        "offload._cluster._command",
        "serve an ASGI app from supervised uvicorn worker processes",
        "Serve MODULE:APP from N uvicorn processes on one address: restarts with back-off, "
        "loop-aware liveness, rolling reload on SIGHUP; `status` and `reload` ask a running "
        "cluster.",
    ),
    "worker": Command(
        "offload._jobs._command",
        "run the jobs of a JobQueue from RabbitMQ",
        "Consume a JobQueue's jobs from RabbitMQ and run each in an offload.Pool; SIGTERM "
        "stops gracefully.",
    ),
}


def _build_parser() -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    parser = argparse.ArgumentParser(
        prog="offload",
        description="Keep the asyncio event loop free. Subcommands show offload at work.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules: dict[str, ModuleType] = {}
    for name, command in COMMANDS.items():
        module = importlib.import_module(command.module)
        module.add_arguments(
            sub.add_parser(name, help=command.help, description=command.description)
        )
        modules[name] = module
    return parser, modules


def _version() -> str:
    from offload import __version__

    return f"offload {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `offload` console script; returns the exit status."""
    parser, modules = _build_parser()
    args = parser.parse_args(argv)
    module = modules.get(args.command)
    if module is None:
        parser.print_help(sys.stderr)
        return 2
    status: int = module.run(args)
    return status
