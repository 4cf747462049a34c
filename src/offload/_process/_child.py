"""Entry point of a child started by :func:`offload.fork`: ``python -m ... <fd>``.

Start-up, over the socket inherited as ``<fd>``::

    parent                                  child
      send_fds(b"F", fds of ports in args) ─> ports' descriptors
      BOOT frame: (sys.path, cloudpickle((target, args))) ─> run target(*args)
      <──────────── MESSAGE frames both ways ────────────>
      <── ERROR frame (summary, traceback) if target raised; exit status 1

A coroutine function target runs in a fresh event loop (``asyncio.run``).
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import sys
import traceback

from offload._serialize import dumps, loads
from offload._wire import frame

from ._channel import Port, port_fds, recv_frame, send_frame_blocking
from ._messages import BOOT, ERROR
from ._parent import bind_parent


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[1]))
    _, fds, _, _ = socket.recv_fds(sock, 1, 250)
    port_fds(fds)
    port = Port(sock)
    kind, payload = recv_frame(port)
    if kind != BOOT:
        print("offload fork child: bad start-up data", file=sys.stderr)
        return 70
    paths, blob = loads(payload)
    sys.path[:0] = [path for path in paths if path not in sys.path]
    bind_parent(port)
    try:
        target, args = loads(blob)
        result = target(*args)
        if inspect.isawaitable(result):

            async def await_it() -> object:
                return await result

            asyncio.run(await_it())
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except BaseException as exc:
        text = traceback.format_exc()
        sys.stderr.write(text)
        summary = f"{type(exc).__name__}: {exc}"
        try:
            data = dumps((summary, text))
            if not port.closed:
                send_frame_blocking(port, frame(ERROR, data))
        except OSError:
            pass
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        port.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
