"""A short tour: each landed feature, working, in a few lines each."""

from __future__ import annotations

import asyncio

from ._cancel import CancelToken


async def _cancel_token() -> None:
    token = CancelToken.after(0.05)
    reason = await token.wait()
    print(f"CancelToken.after(0.05) fired: {reason!r}")


async def _tour() -> None:
    await _cancel_token()


def main() -> int:
    """Run every section of the tour; return the exit status."""
    asyncio.run(_tour())
    return 0
