"""Argument types the subcommands share: argparse ``type=`` callables with clear errors.

Every subcommand (``demo``, ``cluster``, ``worker``) takes its counts, durations and
sizes through these, so a bad value gets the same message wherever it is given.
"""

from __future__ import annotations

import argparse

__all__ = ["non_negative_int", "positive_int", "seconds", "seconds_or_zero", "size"]

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}


def positive_int(text: str) -> int:
    """An integer of at least 1 (workers, processes, jobs at once)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An integer of at least 0 (a buffer that may be empty)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def seconds(text: str) -> float:
    """A positive number of seconds (a timeout, a duration); NaN is refused."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def seconds_or_zero(text: str) -> float:
    """A number of seconds of at least 0 (a grace that may be none); NaN is refused."""
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, got {text}")
    return value


def size(text: str) -> int:
    """A positive number of bytes, with an optional K, M or G (``300M``, ``2G``)."""
    unit = text[-1:].upper() if text[-1:].isalpha() else ""
    number = text[: -1 if unit else None]
    if unit.endswith("B"):
        raise argparse.ArgumentTypeError(f"write sizes as 300M or 2G, got {text}")
    try:
        value = int(float(number) * _UNITS[unit])
    except (KeyError, ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"not a size: {text} (use bytes, or 300M, 2G)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value
