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
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from offload._reaper import ending, group_alive

from ._start import Started

__all__ = ["DEFAULT_KILL_AFTER", "end_group", "signal_group", "to_the_end"]

DEFAULT_KILL_AFTER = 2.0

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


async def end_group(
    started: Started, kill_after: float = DEFAULT_KILL_AFTER, *, members: Sequence[Started] = ()
) -> None:
    """SIGTERM the group, SIGKILL it after ``kill_after`` s, return once the child is reaped.

    ``members``: other programs started into the same group (a pipeline); they are
    waited for as well. The steps are offload's one termination routine
    (:func:`offload._reaper.ending`); this drives it with the event loop, waking as soon
    as the programs exit rather than at the next look.
    """
    everyone = [started, *members]
    for member in everyone:
        member.watch()
    exited = asyncio.gather(*(m.exited for m in everyone))

    def send(_pgid: int, sig: int) -> bool:
        return signal_group(started, sig)

    def alive(pgid: int) -> bool:
        # Until the programs are reaped they count as members of their group; once
        # they are, grandchildren left in the group get the rest of the grace period.
        return not exited.done() or group_alive(pgid)

    for delay in ending([started.pgid], kill_after, send=send, alive=alive):
        if exited.done():
            await asyncio.sleep(delay)
        else:
            await asyncio.wait([exited], timeout=delay)
    await asyncio.shield(exited)


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
