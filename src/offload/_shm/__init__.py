"""Large data without the pipe: zero-copy transfer, shared buffers, cross-process locks.

One concern per module:

* ``_segment``: POSIX shared-memory segments, their names, cleanup;
* ``_codec``: pickle protocol 5 out-of-band buffers through one segment per message
  (warm segments, kept and handed back, for buffers the receiver copies out);
* ``_buffer``: :class:`SharedBuffer` / :class:`SharedArray`, mapped by name;
* ``_lock``: :class:`SharedLock` / :class:`SharedCounter` and the memory model.
"""

from ._buffer import SharedArray, SharedBuffer
from ._codec import (
    DEFAULT_THRESHOLD,
    Encoded,
    Transfer,
    accept_returns,
    add_returns,
    decode,
    encode,
    threshold,
    transfer,
    untransfer,
    worker_recycler,
)
from ._lock import SharedCounter, SharedLock
from ._segment import Recycler, cleanup, list_segments, path_prefix, root_pid, set_root

__all__ = [
    "DEFAULT_THRESHOLD",
    "Encoded",
    "Recycler",
    "SharedArray",
    "SharedBuffer",
    "SharedCounter",
    "SharedLock",
    "Transfer",
    "accept_returns",
    "add_returns",
    "cleanup",
    "decode",
    "encode",
    "list_segments",
    "path_prefix",
    "root_pid",
    "set_root",
    "threshold",
    "transfer",
    "untransfer",
    "worker_recycler",
]
