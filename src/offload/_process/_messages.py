"""The message kinds of channels and forked children, in :mod:`offload._wire` frames.

MESSAGE: a pickled user object. BOOT: the start-up data of a forked child. ERROR: a
forked child's target raised (a pickled (summary, traceback text) pair). BYE: a forked
child closed its channel on purpose (``offload.parent.close()``) and may run on; a channel
that ends without it ends because the child is exiting. Pickles are
made by ``offload._serialize`` (cloudpickle for what the standard pickle refuses).
"""

from __future__ import annotations

__all__ = ["BOOT", "BYE", "ERROR", "MESSAGE"]

MESSAGE = 0
BOOT = 1
ERROR = 2
BYE = 3
