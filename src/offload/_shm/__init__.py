"""Large data without the pipe: zero-copy transfer, shared buffers, cross-process locks.

One concern per module:

* ``_segment``: POSIX shared-memory segments, their names, cleanup;
* ``_codec``: pickle protocol 5 out-of-band buffers through one segment per message;
* ``_buffer``: :class:`SharedBuffer` / :class:`SharedArray`, mapped by name;
* ``_lock``: :class:`SharedLock` / :class:`SharedCounter` and the memory model.
"""

from ._buffer import SharedArray, SharedBuffer
from ._codec import (
    DEFAULT_THRESHOLD,
    Encoded,
    Transfer,
    decode,
    encode,
    threshold,
    transfer,
    untransfer,
)
from ._lock import SharedCounter, SharedLock
from ._segment import cleanup, list_segments, path_prefix, root_pid, set_root

__all__ = [
    "DEFAULT_THRESHOLD",
    "Encoded",
    "SharedArray",
    "SharedBuffer",
    "SharedCounter",
    "SharedLock",
    "Transfer",
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
]
