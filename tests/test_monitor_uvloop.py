"""offload.monitor under uvloop (no fd leak check: uvloop keeps process-wide fds)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import offload


async def blocking_handler() -> None:
    time.sleep(0.2)


def test_blocks_are_caught_under_uvloop_too() -> None:
    uvloop = pytest.importorskip("uvloop")
    found: list[str] = []

    async def main() -> None:
        async with offload.monitor.watch(threshold=0.05, log=False) as m:
            await asyncio.sleep(0.02)
            await blocking_handler()
            await asyncio.sleep(0.02)
        found.extend(b.function for b in m.blocks if b.frames)

    # A fresh thread so uvloop gets its own loop, away from the test's loop.
    thread = threading.Thread(target=uvloop.run, args=(main(),))
    thread.start()
    thread.join(30)
    assert [f for f in found if f.startswith("blocking_handler")]
    assert not [t for t in threading.enumerate() if t.name == "offload-monitor"]
