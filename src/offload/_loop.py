"""Calling code in an event loop from wherever you are: the loop's thread or any other.

Callbacks of a :class:`~offload.CancelToken` and of other threads must reach the loop
that owns the futures and tasks they touch. :func:`call_in_loop` is the one way to get
there: at once when already running in that loop, else through
``call_soon_threadsafe``; never into a closed loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = ["call_in_loop", "running_in"]


def running_in(loop: asyncio.AbstractEventLoop) -> bool:
    """True when the caller runs inside ``loop`` (on its thread, while it runs)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def call_in_loop(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any) -> bool:
    """Run ``callback(*args)`` in ``loop``: now if running in it, else scheduled there.

    Returns False, running nothing, when ``loop`` is closed (also when it closes while
    the call is being scheduled from another thread): nobody is left there to wake.
    """
    if running_in(loop):
        callback(*args)
        return True
    if loop.is_closed():
        return False
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # closed between the check and the call
        return False
    return True
