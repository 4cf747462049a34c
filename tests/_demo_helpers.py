"""A demo server whose jobs run until they are cancelled, for tests of its shutdown path.

``python -c "from tests._demo_helpers import serve; serve()" --port 0 --workers 1`` is
``offload demo`` (same options, same code) except that each ``/subset-sum`` job reports
one match and then waits for its token instead of searching: a job is provably still
running until the server cancels it, however fast or busy the machine is.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import offload

STARTED = [0]  # the match a job reports once it runs in a worker


def until_cancelled(data: Sequence[int], total: int, max_reported: int) -> int:
    """Pool task in place of the search: report STARTED, then run until cancelled."""
    token = offload.current_token()
    offload.report(STARTED)
    while not token.cancelled:  # a process task's token is a flag the task reads
        time.sleep(0.005)
    token.raise_if_cancelled()
    return 0


def serve() -> None:
    """Run ``offload demo`` with ``sys.argv[1:]``, its jobs replaced by until_cancelled."""
    from offload._cli import main
    from offload._cli._demo import _strategies

    _strategies.report_matches = until_cancelled
    sys.exit(main(["demo", *sys.argv[1:]]))
