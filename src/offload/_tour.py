"""A short tour: each landed feature, working, in a few lines each."""

from __future__ import annotations

import asyncio

from ._cancel import CancelToken


async def _cancel_token() -> None:
    token = CancelToken.after(0.05)
    reason = await token.wait()
    print(f"CancelToken.after(0.05) fired: {reason!r}")


async def _subset_sum() -> None:
    import offload
    from offload._demo._subset_sum import report_matches

    # What `offload demo` serves over HTTP: a search in a worker, matches streamed back.
    async with offload.Pool("process", max_workers=1) as pool:
        handle = pool.submit(report_matches, [3, -1, 4, 1, 5], 4, 10)
        found = [match async for match in handle.progress()]
        print(f"subset-sum in a worker process: {found}, {await handle} matches")
    print("`offload demo` serves it with a live page; `offload demo --compare` measures it")


async def _tour() -> None:
    await _cancel_token()
    await _subset_sum()


def main() -> int:
    """Run every section of the tour; return the exit status."""
    asyncio.run(_tour())
    return 0
