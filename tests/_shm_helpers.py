"""Shared by the shared-memory tests: an application killed while it holds segments."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

from offload import _shm


@contextlib.contextmanager
def killed_app(source: str) -> Iterator[subprocess.Popen[str]]:
    """Run ``source`` as an application that prints "ready" once it holds segments; the
    block looks at it, then it is killed with SIGKILL (no clean-up of its own)."""
    app = subprocess.Popen([sys.executable, "-c", source], stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout is not None
        assert app.stdout.readline().strip() == "ready"
        yield app
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait(30)
        if app.stdout is not None:
            app.stdout.close()


def assert_segments_removed(pid: int) -> None:
    """Within 20 s no segment of application ``pid`` is left."""
    deadline = time.monotonic() + 20
    while _shm.list_segments(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _shm.list_segments(pid) == []
