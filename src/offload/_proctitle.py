"""Process titles: what ``ps``, ``top`` and psutil show for offload's helper processes.

:func:`set_title` rewrites the command line the system shows for this process (with the
setproctitle library), so a helper reads ``offload: reaper for pid 1234`` instead of a
bare ``python3 -I -S …``. Where setproctitle cannot be imported it falls back to the
kernel's short name (Linux ``prctl(PR_SET_NAME)``, 15 characters, what ``ps -o comm``
and ``top`` show); elsewhere it does nothing.

This module imports only the standard library (and setproctitle when called) so that
the reaper, which runs it without the rest of offload, can use it too.
"""

from __future__ import annotations

import sys

__all__ = ["set_title"]

_PR_SET_NAME = 15


def set_title(text: str) -> None:
    """Show ``text`` as this process's title; never raises.

    Example::

        set_title("offload: pool template for pid 1234")
    """
    try:
        from setproctitle import setproctitle
    except ImportError:
        _set_short_name(text)
        return
    try:
        setproctitle(text)
    except Exception:  # a title is cosmetic: never fail the caller for it
        _set_short_name(text)


def _set_short_name(text: str) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_NAME, ctypes.c_char_p(text.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError):
        pass
