"""What a worker tells its supervisor: one JSON object per SOCK_SEQPACKET packet.

    worker ──"ready"──────────────► supervisor   lifespan started, the socket is served
           ──"beat" {requests, lag_p99}──►      sent by the worker's event loop itself
           ──"block" {text}─────────►           a block in progress, with its stack
           ──"error" {text, config}─►           it could not start (config: bad MODULE:APP)

A packet keeps its boundaries and end of file says the worker is gone, so no framing is
needed. The worker's end is non-blocking: a message that does not fit is dropped rather
than blocking the worker's event loop.
"""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Any

__all__ = ["MAX_TEXT", "decode", "pair", "send"]

# A stack or an error message longer than this is cut (a packet must fit the buffer).
MAX_TEXT = 32_000


def pair() -> tuple[socket.socket, socket.socket]:
    """(supervisor end, worker end) of a new channel."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def send(sock: socket.socket, kind: str, **fields: Any) -> None:
    """Send one message; never blocks, never raises (the supervisor may be gone)."""
    for key, value in fields.items():
        if isinstance(value, str) and len(value) > MAX_TEXT:
            fields[key] = value[: MAX_TEXT // 2] + "\n...\n" + value[-MAX_TEXT // 2 :]
    data = json.dumps({"t": kind, **fields}).encode()
    with contextlib.suppress(OSError):
        sock.send(data, socket.MSG_DONTWAIT)


def decode(data: bytes) -> dict[str, Any]:
    """The message in one packet (an empty dict for anything malformed)."""
    try:
        message = json.loads(data)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}
