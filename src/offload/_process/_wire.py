"""The wire format of channels: length-prefixed frames carrying pickles.

::

    frame = length (4 bytes, big endian, of what follows) | kind (1 byte) | payload

Kinds: MESSAGE (a pickled user object), BOOT (start-up data of a forked child),
ERROR (a forked child's target raised: a pickled (summary, traceback text) pair).
User objects are pickled with the standard pickle (protocol 5); what it refuses
(lambdas, local functions) is tried with cloudpickle.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any

import cloudpickle

from offload._errors import SerializationError

__all__ = ["BOOT", "ERROR", "MESSAGE", "Frames", "dumps", "frame", "loads"]

MESSAGE = 0
BOOT = 1
ERROR = 2

_HEADER = struct.Struct(">IB")


def dumps(obj: object) -> bytes:
    """Pickle ``obj`` (cloudpickle as a fallback); SerializationError if neither can."""
    try:
        return pickle.dumps(obj, protocol=5)
    except Exception:
        try:
            return bytes(cloudpickle.dumps(obj, protocol=5))
        except Exception as exc:
            raise SerializationError(
                f"cannot send {type(obj).__name__} through a channel: {exc}; "
                "send plain data (or objects that pickle)"
            ) from exc


def loads(payload: bytes | memoryview) -> Any:
    """Unpickle a payload; SerializationError if it cannot be."""
    try:
        return pickle.loads(payload)
    except Exception as exc:
        raise SerializationError(
            f"cannot unpickle a received message: {exc}; is the sender's code importable here?"
        ) from exc


def frame(kind: int, payload: bytes) -> bytes:
    """One frame ready to be written."""
    return _HEADER.pack(len(payload) + 1, kind) + payload


class Frames:
    """Reassembles frames from the bytes of a stream, in order."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next(self) -> tuple[int, bytes] | None:
        """The next complete frame as (kind, payload), or None if more bytes are needed."""
        buffer = self._buffer
        if len(buffer) < _HEADER.size:
            return None
        length, kind = _HEADER.unpack_from(buffer)
        end = 4 + length
        if len(buffer) < end:
            return None
        payload = bytes(buffer[_HEADER.size : end])
        del buffer[:end]
        return kind, payload
