"""The message kinds of channels and forked children, in :mod:`offload._wire` frames.

MESSAGE: a pickled user object. BOOT: the start-up data of a forked child. ERROR: a
forked child's target raised (a pickled (summary, traceback text) pair). Pickles are
made by ``offload._serialize`` (cloudpickle for what the standard pickle refuses).
"""

from __future__ import annotations

__all__ = ["BOOT", "ERROR", "MESSAGE"]

MESSAGE = 0
BOOT = 1
ERROR = 2
