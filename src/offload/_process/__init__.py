"""External programs and Python children: run, spawn, pipe, fork, Channel, parent."""

from ._channel import Channel, Port
from ._fork import Child, fork
from ._limits import Limits
from ._parent import parent
from ._pipe import pipe
from ._result import ProcessResult
from ._run import run
from ._spawn import Process, spawn
from ._streams import InputStream, OutputStream

__all__ = [
    "Channel",
    "Child",
    "InputStream",
    "Limits",
    "OutputStream",
    "Port",
    "Process",
    "ProcessResult",
    "fork",
    "parent",
    "pipe",
    "run",
    "spawn",
]
