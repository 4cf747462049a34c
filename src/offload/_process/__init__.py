"""External programs and Python children: run, spawn, pipe, fork, Channel, parent."""

from ._limits import Limits
from ._result import ProcessResult
from ._pipe import pipe
from ._run import run
from ._spawn import Process, spawn
from ._streams import InputStream, OutputStream

__all__ = [
    "InputStream",
    "Limits",
    "OutputStream",
    "Process",
    "ProcessResult",
    "pipe",
    "run",
    "spawn",
]
