"""The one listening socket every worker serves, bound by the supervisor.

Why one inherited socket and not SO_REUSEPORT (measured in bench/bench_socket_model.py):
with SO_REUSEPORT each worker owns a listener with its own accept queue, and when a
worker stops, the connections waiting in its queue are reset. A socket bound once by
the supervisor and inherited by every worker has a single queue: a worker that stops
only stops taking from it, the others (and its replacement) accept what is waiting,
and the supervisor's own copy keeps the queue alive while no worker is up.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat

__all__ = ["address_text", "bind", "listen_reuseport"]

BACKLOG = 2048


def bind(host: str, port: int, uds: str | None, reuseport: bool = False) -> socket.socket:
    """A listening socket on ``uds`` (a Unix socket path) or ``host:port``.

    ``reuseport``: bound with SO_REUSEPORT but not listening; it only holds the address
    while each worker listens on its own socket (``listen_reuseport``).
    Raises ``ValueError`` naming the problem when the address is taken or cannot be
    bound (a permission, an unknown host).
    """
    if uds is not None:
        return _bind_unix(uds)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ValueError(f"cannot listen on host {host!r}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if reuseport:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        if not reuseport:
            sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ValueError(
                f"{_show(host, port)} is already in use (another server listens there); "
                "stop it or pick another --port"
            ) from exc
        raise ValueError(f"cannot listen on {_show(host, port)}: {exc.strerror}") from exc
    return sock


def listen_reuseport(holder: socket.socket) -> socket.socket:
    """A worker's own listening socket on the address ``holder`` (from ``bind``) holds."""
    sock = socket.socket(holder.family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if holder.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind(holder.getsockname())
    sock.listen(BACKLOG)
    return sock


def _bind_unix(path: str) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.stat(path).st_mode):
            probe = socket.socket(socket.AF_UNIX)
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)  # left behind by a server that is gone
            else:
                raise ValueError(
                    f"{path} is already in use (a server answers there); "
                    "stop it or pick another --uds"
                )
            finally:
                probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ValueError(f"cannot listen on {path}: {exc.strerror}") from exc
    return sock


def address_text(sock: socket.socket) -> str:
    """``http://host:port`` or ``unix:PATH`` of a bound socket."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{name}"
    return f"http://{_show(name[0], name[1])}"


def _show(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
