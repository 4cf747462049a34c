"""External programs and Python children: run, spawn, pipe, fork, Channel, parent."""

from ._limits import Limits
from ._result import ProcessResult
from ._run import run

__all__ = ["Limits", "ProcessResult", "run"]
