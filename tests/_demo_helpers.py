"""Demo servers whose jobs last exactly as long as a test needs, however busy the machine.

``python -c "from tests._demo_helpers import serve; serve()" --port 0 --workers 1`` is
``offload demo`` (same options, same code) except that each ``/subset-sum`` job reports
one match and then waits for its token instead of searching (in a worker, or on the
loop for ``interleave``): a job is provably still running until the server cancels it.
``serve_gated`` runs the real search, then holds the worker until the test opens the
gate (releases its lock on the file named by ``GATE``). ``serve_in_child`` runs either
like ``offload._cli._demo._compare``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import offload
from offload._cli._demo._compare import START_TIMEOUT, ChildServer, _read_url, _stop
from offload._cli._demo._subset_sum import report_matches

GATE = "OFFLOAD_TEST_DEMO_GATE"  # the environment variable naming the gate's lock file
ROOT = Path(__file__).resolve().parents[1]

STARTED = [0]  # the match a job reports once it runs in a worker


def until_cancelled(data: Sequence[int], total: int, max_reported: int) -> int:
    """Pool task in place of the search: report STARTED, then run until cancelled."""
    token = offload.current_token()
    offload.report(STARTED)
    while not token.cancelled:  # a process task's token is a flag the task reads
        time.sleep(0.005)
    token.raise_if_cancelled()
    return 0


def steps_until_cancelled(data: Sequence[int], total: int) -> Iterator[tuple[int, ...] | None]:
    """The interleave strategy's steps in place of the search: STARTED, then ticks forever
    (``offload.interleave`` ends it when the job's token is cancelled)."""
    yield tuple(STARTED)
    while True:
        yield None


def serve() -> None:
    """Run ``offload demo`` with ``sys.argv[1:]``, its jobs replaced by until_cancelled
    (steps_until_cancelled for the interleave strategy)."""
    from offload._cli import main
    from offload._cli._demo import _strategies

    _strategies.report_matches = until_cancelled
    _strategies.search_steps = steps_until_cancelled
    sys.exit(main(["demo", *sys.argv[1:]]))


def search_then_wait_for_the_gate(data: Sequence[int], total: int, max_reported: int) -> int:
    """Pool task in place of the search: search, then wait until the test opens the gate."""
    count = report_matches(data, total, max_reported)
    with open(os.environ[GATE]) as gate:
        fcntl.flock(gate, fcntl.LOCK_SH)  # the test holds LOCK_EX until it opens the gate
    return count


def serve_gated() -> None:
    """Run ``offload demo`` with ``sys.argv[1:]``, each job held until the gate opens."""
    from offload._cli import main
    from offload._cli._demo import _strategies

    _strategies.report_matches = search_then_wait_for_the_gate
    sys.exit(main(["demo", *sys.argv[1:]]))


@contextlib.asynccontextmanager
async def serve_in_child(
    entry: str, strategy: str, workers: int, env: dict[str, str] | None = None
) -> AsyncIterator[ChildServer]:
    """Run this module's ``entry`` (serve or serve_gated) in a child until the block ends."""
    code = f"from tests._demo_helpers import {entry}; {entry}()"
    argv = [sys.executable, "-c", code, "--strategy", strategy, "--host", "127.0.0.1"]
    argv += ["--port", "0", "--workers", str(workers)]
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {}), "PYTHONPATH": path},
    )
    try:
        url = await asyncio.wait_for(_read_url(proc), START_TIMEOUT)
        assert url is not None, f"the demo server did not start (exit status {proc.returncode})"
        yield ChildServer(url, proc.pid)
    finally:
        await _stop(proc)
