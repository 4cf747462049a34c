"""The wire between the pool (parent) and its worker processes: framing and message kinds.

Data flow::

    asyncio parent                    template process            worker process
    ──────────────                    ────────────────            ──────────────
    Pool ─submit─▶ queue ─dispatch─▶ ProcessWorker
                          │ SPAWN(id) + [socket, memfd] ──▶ fork() ──▶ worker main loop
                          │ ◀── SPAWNED(pid) / EXITED(pid, status)  (waitpid)
                          │
                          ├─ TASK frames (several per write) ──────────▶ fn(*args)
                          ◀─ OK / ERR / SKIPPED / REPORT / LOG / RETIRE ─┘ (one per write)
                          │
                          └─ memfd "control page": the worker writes the seq it runs;
                             the parent writes cancel flags that the task polls through
                             offload.current_token()

Every frame on a worker socket is ``length | kind | seq | oob_len | oob | payload``:
``length`` counts everything after itself, ``seq`` numbers the tasks of one worker
(1, 2, ...), ``oob`` is the out-of-band descriptor field for shared-memory buffers (empty
today: a future shared-memory layer puts buffer descriptors there and passes the buffers
to :func:`offload._serialize.loads`), ``payload`` is the pickled body.

The per-task resource seam: the parent calls ``Task.release()`` exactly once on every
outcome (result, error, crash, cancel, timeout, close); resources tied to a task (out of
band buffers) are freed there.

The control socket between parent and template is a SOCK_SEQPACKET socket (one message
per send, file descriptors passed with SCM_RIGHTS).
"""

from __future__ import annotations

import struct

__all__ = [
    "CTL_EXITED",
    "CTL_IMPORT",
    "CTL_INIT",
    "CTL_READY",
    "CTL_SPAWN",
    "CTL_SPAWNED",
    "ERR",
    "HEADER",
    "HELLO",
    "LOG",
    "OK",
    "PAGE",
    "REPORT",
    "RETIRE",
    "SKIPPED",
    "TASK",
    "frame",
    "split_frames",
]

# Frame header: length (after itself), kind, seq, oob_len.
HEADER = struct.Struct("<IBII")

# parent -> worker
TASK = 1  # payload: TASK_HEAD (fn id, fn length) + fn bytes (first use) + pickled (args, ctx)
# worker -> parent
HELLO = 10  # payload: pid; the initializer ran
OK = 11  # payload: RUN_TIME + pickled result
ERR = 12  # payload: RUN_TIME + pickled (exception, traceback text)
SKIPPED = 13  # the task was cancelled before it started
REPORT = 14  # payload: pickled progress value
LOG = 15  # payload: pickled log record dict
RETIRE = 16  # the worker asks to be replaced (memory limit); it keeps serving what it has

TASK_HEAD = struct.Struct("<II")
RUN_TIME = struct.Struct("<d")

# Control page (memfd shared by parent and worker): the running seq, then a ring of
# cancelled seqs indexed by seq % CANCEL_SLOTS. Per-worker pipelining stays below the
# number of slots, so live seqs never share a slot.
PAGE = 4096
CANCEL_SLOTS = 64
RUNNING = struct.Struct("<Q")
SLOT = struct.Struct("<Q")
MAX_DEPTH = 32

# parent <-> template control messages (one per SEQPACKET datagram): kind byte + body
CTL_INIT = b"I"  # parent -> template: pickled init dict
CTL_READY = b"R"  # template -> parent: pid
CTL_SPAWN = b"S"  # parent -> template: worker id; fds = [socket, control page]
CTL_SPAWNED = b"P"  # template -> parent: worker id, pid
CTL_EXITED = b"X"  # template -> parent: pid, wait status
CTL_IMPORT = b"M"  # parent -> template: a module name to pre-import for future workers
CTL_ID = struct.Struct("<q")
CTL_PAIR = struct.Struct("<qq")


def frame(kind: int, seq: int, payload: bytes | bytearray = b"", oob: bytes = b"") -> bytes:
    """One frame, ready to write."""
    return (
        HEADER.pack(HEADER.size - 4 + len(oob) + len(payload), kind, seq, len(oob)) + oob + payload
    )


def split_frames(buf: bytearray, limit: int = 1 << 30) -> list[tuple[int, int, bytes, bytes]]:
    """Cut complete frames (at most ``limit``) off the front of ``buf``.

    Each is (kind, seq, oob, payload).
    """
    frames: list[tuple[int, int, bytes, bytes]] = []
    start = 0
    end = len(buf)
    header = HEADER.size
    while end - start >= header and len(frames) < limit:
        length, kind, seq, oob_len = HEADER.unpack_from(buf, start)
        stop = start + 4 + length
        if stop > end:
            break
        body = start + header
        frames.append(
            (kind, seq, bytes(buf[body : body + oob_len]), bytes(buf[body + oob_len : stop]))
        )
        start = stop
    if start:
        del buf[:start]
    return frames
