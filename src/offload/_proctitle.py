"""Process titles: what ``ps``, ``top`` and psutil show for offload's helper processes.

:func:`set_title` rewrites the command line the system shows for this process (with the
setproctitle library), so a helper reads ``offload: reaper for pid 1234`` instead of a
bare ``python3 -I -S …``. Where setproctitle cannot be imported it falls back to the
kernel's short name (Linux ``prctl(PR_SET_NAME)``, 15 characters, what ``ps -o comm``
and ``top`` show); elsewhere it does nothing.

The kernel's short name (``/proc/PID/comm``) is always set to a form without spaces,
``offload-reaper``, ``offload-worker``: CPython 3.12+ splits ``/proc/self/stat`` at
spaces to count a process's threads before ``os.fork()``, and a short name with spaces
made it warn, wrongly, that a single-threaded template was multi-threaded.

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

        setproctitle(text)
    except Exception:  # a title is cosmetic: never fail the caller for it
        pass
    _set_short_name(short_name(text))


def short_name(text: str) -> str:
    """The kernel's 15-character name for a title: no spaces (``offload-worker``)."""
    first = text.replace("offload: ", "offload-", 1).split(" ", 1)[0]
    return first.replace(":", "")[:15]


def _set_short_name(text: str) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_NAME, ctypes.c_char_p(text.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError):
        pass
