"""The one frame format for every byte stream between offload's processes.

::

    frame = length | kind | seq | oob_len | oob | payload      (header "<IBII")

``length`` (4 bytes, little endian) counts everything after itself; ``kind`` (1 byte)
says what the payload is, in the vocabulary of the link that carries it; ``seq`` numbers
the tasks of one pool worker (0 where a link has no tasks); ``oob`` is the out-of-band
field: shared-memory descriptors of the buffers a pickle refers to
(``offload._shm.encode``), empty when everything is in band; ``payload`` is the body,
usually a pickle made by ``offload._serialize``.

Vocabularies: the pool's process workers (``offload._pool._kind_process_messages``) and
channels and forked children (``offload._process._messages``).
"""

from __future__ import annotations

import struct
from collections import deque

__all__ = ["HEADER", "Frames", "frame", "split_frames"]

HEADER = struct.Struct("<IBII")
_AFTER_LENGTH = HEADER.size - 4

Frame = tuple[int, int, bytes, bytes]  # kind, seq, oob, payload


def frame(kind: int, payload: bytes | bytearray = b"", seq: int = 0, oob: bytes = b"") -> bytes:
    """One frame, ready to write."""
    return HEADER.pack(_AFTER_LENGTH + len(oob) + len(payload), kind, seq, len(oob)) + oob + payload


def split_frames(buf: bytearray, limit: int = 1 << 30) -> list[Frame]:
    """Cut complete frames (at most ``limit``) off the front of ``buf``.

    Each is (kind, seq, oob, payload); an incomplete frame stays in ``buf``.
    """
    frames: list[Frame] = []
    start = 0
    end = len(buf)
    header = HEADER.size
    while end - start >= header and len(frames) < limit:
        length, kind, seq, oob_len = HEADER.unpack_from(buf, start)
        stop = start + 4 + length
        if stop > end:
            break
        body = start + header
        # (most frames have no oob: no empty slice and copy made for it)
        oob = bytes(buf[body : body + oob_len]) if oob_len else b""
        frames.append((kind, seq, oob, bytes(buf[body + oob_len : stop])))
        start = stop
    if start:
        del buf[:start]
    return frames


class Frames:
    """Reassembles frames from the chunks of a stream, in order, one at a time."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._ready: deque[Frame] = deque()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next(self) -> tuple[int, bytes] | None:
        """The next complete frame as (kind, payload), or None if more bytes are needed."""
        if not self._ready:
            self._ready.extend(split_frames(self._buffer))
            if not self._ready:
                return None
        kind, _seq, _oob, payload = self._ready.popleft()
        return kind, payload
