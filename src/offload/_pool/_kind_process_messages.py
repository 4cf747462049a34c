"""The messages between the pool (parent), its template and its worker processes.

Data flow::

    asyncio parent                    template process            worker process
    ──────────────                    ────────────────            ──────────────
    Scheduler ─dispatch─▶ ProcessWorker ──────────
                          │ SPAWN(id) + [socket, memfd] ──▶ fork() ──▶ worker main loop
                          │ ◀── SPAWNED(pid) / EXITED(pid, status)  (waitpid)
                          │
                          ├─ TASK frames (several per write) ──────────▶ fn(*args)
                          ◀─ OK / ERR / SKIPPED / REPORT / LOG / RETIRE ─┘ (one per write)
                          │
                          └─ memfd "control page": the worker writes the seq it runs;
                             the parent writes cancel flags that the task polls through
                             offload.current_token()

Frames on a worker socket have the one format of :mod:`offload._wire`: ``seq`` numbers
the tasks of one worker (1, 2, ...), ``oob`` carries the shared-memory descriptors of a
task's arguments or result (``offload._shm.encode``; empty when all is in band).

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
    "HELLO",
    "LOG",
    "OK",
    "PAGE",
    "REPORT",
    "RETIRE",
    "SKIPPED",
    "TASK",
]

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
CANCEL_SLOTS = 128
RUNNING = struct.Struct("<Q")
SLOT = struct.Struct("<Q")
# Tiny tasks in flight per worker: enough that a worker does not run dry between two
# times the parent hands out more, even while it is busy submitting (see
# Scheduler._catch_up).
MAX_DEPTH = 64

# parent <-> template control messages (one per SEQPACKET datagram): kind byte + body
CTL_INIT = b"I"  # parent -> template: pickled init dict
CTL_READY = b"R"  # template -> parent: pid
CTL_SPAWN = b"S"  # parent -> template: worker id; fds = [socket, control page]
CTL_SPAWNED = b"P"  # template -> parent: worker id, pid
CTL_EXITED = b"X"  # template -> parent: pid, wait status
CTL_IMPORT = b"M"  # parent -> template: a module name to pre-import for future workers
CTL_ID = struct.Struct("<q")
CTL_PAIR = struct.Struct("<qq")
