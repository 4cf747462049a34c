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
    parser.print_help(sys.stderr)
    return 2
