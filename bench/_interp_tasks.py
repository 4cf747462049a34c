"""Task functions of bench_interpreter.py, in their own light module: every contender
(worker processes, offload's sub-interpreters, anyio's sub-interpreters) imports them by
name, and a sub-interpreter must be able to import this file."""

from __future__ import annotations


def tiny(x: int) -> int:
    return x


def spin(n: int) -> int:
    """Pure-Python CPU work that holds its interpreter's GIL throughout."""
    total = 0
    for i in range(n):
        total += i * i
    return total
