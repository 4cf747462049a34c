"""The ``offload worker`` subcommand: run the jobs of one queue until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys

from offload._cli._args import non_negative_int, positive_int, seconds_or_zero

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``offload worker`` to its subparser."""
    parser.add_argument("url", help="AMQP URL of the broker, e.g. amqp://guest:guest@localhost/")
    parser.add_argument("--queue", required=True, help="the JobQueue's name")
    parser.add_argument(
        "--app",
        required=True,
        help="module that defines the JobQueue and registers its jobs (module or module:attr)",
    )
    parser.add_argument(
        "--concurrency", type=positive_int, default=None, help="jobs at once (default: CPU count)"
    )
    parser.add_argument("--kind", choices=("process", "thread"), default="process")
    parser.add_argument(
        "--buffer",
        type=non_negative_int,
        default=0,
        help="deliveries held beyond the free slots (default 0: no job waits behind a "
        "running one; more: more throughput for short jobs)",
    )
    parser.add_argument(
        "--stop-grace",
        type=seconds_or_zero,
        default=30.0,
        help="seconds running jobs get to finish on SIGTERM before they go back to the queue",
    )


def find_queue(app: str, name: str) -> object:
    """The JobQueue named ``name`` in module ``app`` (``module`` or ``module:attribute``)."""
    from ._queue import JobQueue

    module_name, _, attribute = app.partition(":")
    sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    if attribute:
        found = getattr(module, attribute, None)
        if not isinstance(found, JobQueue):
            raise LookupError(f"{app} is not a JobQueue")
        return found
    queues = [v for v in vars(module).values() if isinstance(v, JobQueue) and v.name == name]
    if not queues:
        raise LookupError(f"module {module_name} defines no JobQueue named {name!r}")
    return queues[0]


def run(args: argparse.Namespace) -> int:
    """Run ``offload worker`` with parsed ``args``; return the exit status."""
    from ._queue import JobQueue

    try:
        queue = find_queue(args.app, args.queue)
    except (ImportError, LookupError) as exc:
        print(f"offload worker: {exc}", file=sys.stderr)
        return 2
    assert isinstance(queue, JobQueue)
    if queue.name != args.queue:
        print(f"offload worker: {args.app} is queue {queue.name!r}, not {args.queue!r}")
        return 2
    queue.url = queue.link.url = args.url
    try:
        asyncio.run(_serve(queue, args))
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        print(f"offload worker: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(queue: object, args: argparse.Namespace) -> None:
    from ._queue import JobQueue

    assert isinstance(queue, JobQueue)
    loop = asyncio.get_running_loop()
    async with queue:
        worker = queue.worker(
            concurrency=args.concurrency,
            kind=args.kind,
            stop_grace=args.stop_grace,
            buffer=args.buffer,
        )
        await worker.start()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, lambda: loop.create_task(worker.stop()))
        print(
            f"offload worker: queue {queue.name!r}, {worker.concurrency} {args.kind} workers, "
            f"jobs: {', '.join(sorted(queue.registered)) or '(none)'}",
            flush=True,
        )
        await worker.wait()
