"""The control socket: ``offload cluster status`` and ``offload cluster reload``.

A Unix socket next to the cluster, mode 0600 (only its user may ask). A client sends
one line, ``status`` or ``reload``, and reads one JSON object back::

    client ──"status\\n"──► supervisor ──{"pid": ..., "workers": [...]}──► client
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import tempfile
from typing import Any

__all__ = ["bind", "default_path", "request"]

COMMANDS = ("status", "reload")


def default_path(port: int, uds: str | None) -> str:
    """Where a cluster on ``port`` (or on the Unix socket ``uds``) puts its control socket."""
    if uds is not None:
        return f"{uds}.control"
    return os.path.join(tempfile.gettempdir(), f"offload-cluster-{os.getuid()}-{port}.sock")


def bind(path: str) -> socket.socket:
    """A listening control socket at ``path``, readable by this user only.

    Raises ``ValueError`` when another cluster answers there.
    """
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.stat(path).st_mode):
            with contextlib.suppress(OSError):
                request(path, "status", timeout=1.0)
                raise ValueError(
                    f"another cluster answers on the control socket {path}; "
                    "stop it or pass another control path"
                )
            os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(16)
    sock.setblocking(False)
    return sock


def read_command(conn: socket.socket) -> str:
    """The one-line command a client sent (empty when it sent nothing in time)."""
    conn.settimeout(1.0)
    data = b""
    with contextlib.suppress(OSError):
        while b"\n" not in data and len(data) < 256:
            chunk = conn.recv(256)
            if not chunk:
                break
            data += chunk
    return data.split(b"\n", 1)[0].decode(errors="replace").strip()


def reply(conn: socket.socket, answer: dict[str, Any]) -> None:
    """Send the answer and close the connection."""
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(answer).encode() + b"\n")
    conn.close()


def request(path: str, command: str, timeout: float = 5.0) -> dict[str, Any]:
    """Send ``command`` to the cluster at ``path``; its answer.

    Raises ``OSError`` when no cluster answers there.

    Example::

        request(default_path(8000, None), "status")["workers"]
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(command.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    answer = json.loads(data or b"{}")
    return answer if isinstance(answer, dict) else {}
