"""Children never outlive the parent: normal exit, SIGTERM and SIGKILL of the parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from _pids import gone

PY = sys.executable

PARENT = """
import asyncio, os, sys, time
import offload

async def main():
    detached = sys.argv[2] == "detached"
    proc = offload.spawn(["sleep", "60"], detached=detached)
    child = offload.fork(time.sleep, 60)
    print(proc.pid, child.pid, flush=True)
    if sys.argv[1] == "exit":
        return
    await asyncio.sleep(60)

asyncio.run(main())
"""


def _wait_gone(pids: list[int], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(gone(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


def _start_parent(mode: str, detached: str = "attached") -> tuple[subprocess.Popen[str], list[int]]:
    parent = subprocess.Popen([PY, "-c", PARENT, mode, detached], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pids = [int(pid) for pid in parent.stdout.readline().split()]
    parent.stdout.close()
    assert len(pids) == 2
    return parent, pids


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_children_die_with_a_killed_parent(sig: int, no_leaks: None) -> None:
    parent, pids = _start_parent("wait")
    time.sleep(0.3)  # let the fork child finish starting
    parent.send_signal(sig)
    parent.wait(timeout=30)
    assert _wait_gone(pids), [p for p in pids if not gone(p)]


def test_children_die_when_the_parent_exits_normally(no_leaks: None) -> None:
    parent, pids = _start_parent("exit")
    assert parent.wait(timeout=30) == 0
    assert _wait_gone(pids)


def test_a_detached_program_survives_the_parent(no_leaks: None) -> None:
    parent, (detached, forked) = _start_parent("wait", "detached")
    time.sleep(0.3)
    parent.kill()
    parent.wait(timeout=30)
    try:
        assert _wait_gone([forked])
        time.sleep(1.5)  # longer than the reaper's grace period
        assert not gone(detached)
    finally:
        os.kill(detached, signal.SIGKILL)
    assert _wait_gone([detached])
