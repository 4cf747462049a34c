"""Ending a program: the one termination routine everything uses.

SIGTERM to the whole process group, wait up to ``kill_after`` seconds for the program
to exit and for its group to empty, then SIGKILL to the group, then wait until the
program is reaped. It runs to the end even if the awaiting task is cancelled meanwhile
(the cancellation is re-raised afterwards), so a cancelled caller never leaves a child
behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from ._start import Started

__all__ = ["DEFAULT_KILL_AFTER", "end_group", "signal_group", "to_the_end"]

DEFAULT_KILL_AFTER = 2.0
_POLL = 0.02

T = TypeVar("T")


def signal_group(started: Started, sig: int) -> bool:
    """Send ``sig`` to the program's process group; False if nothing was left to signal."""
    try:
        os.killpg(started.pgid, sig)
    except (ProcessLookupError, PermissionError):
        # PermissionError: a member changed its credentials (setuid); signal the leader.
        if started.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                started.popen.send_signal(sig)
                return True
        return False
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    return True


async def end_group(
    started: Started, kill_after: float = DEFAULT_KILL_AFTER, *, members: Sequence[Started] = ()
) -> None:
    """SIGTERM the group, SIGKILL it after ``kill_after`` s, return once the child is reaped.

    ``members``: other programs started into the same group (a pipeline); they are
    waited for as well.
    """
    loop = asyncio.get_running_loop()
    everyone = [started, *members]
    deadline = loop.time() + max(0.0, kill_after)

    for member in everyone:
        member.watch()

    def all_exited() -> bool:
        return all(m.exited.done() for m in everyone)

    if not signal_group(started, signal.SIGTERM) and all_exited():
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            asyncio.shield(asyncio.gather(*(m.exited for m in everyone))),
            max(0.0, kill_after),
        )
    # The programs are gone; give grandchildren in the group the rest of the grace period.
    while all_exited() and loop.time() < deadline and _group_alive(started.pgid):
        await asyncio.sleep(_POLL)
    if not all_exited() or _group_alive(started.pgid):
        signal_group(started, signal.SIGKILL)
    await asyncio.gather(*(m.exited for m in everyone))


async def to_the_end(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` to completion even if cancelled meanwhile; then re-raise that."""
    task = asyncio.ensure_future(awaitable)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
            continue
        if cancelled:
            raise asyncio.CancelledError
        return result
