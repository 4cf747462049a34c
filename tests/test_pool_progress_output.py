"""``map(progress=True)`` output: plain lines when stderr is not a terminal."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent(
    """
    import asyncio, offload

    def square(x):
        return x * x

    async def main():
        async with offload.Pool("thread", max_workers=2) as pool:
            got = [r async for r in pool.map(square, range(50), progress=True)]
        assert got == [i * i for i in range(50)]

    asyncio.run(main())
    """
)


def test_progress_on_a_pipe_writes_plain_lines_without_carriage_returns() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    assert "\r" not in done.stderr
    assert "\x1b[" not in done.stderr  # no terminal escape codes either
    lines = done.stderr.splitlines()
    assert lines, "expected at least the final progress line"
    assert lines[-1].startswith("pool.map: 50/50 done")
