"""The app every server of bench_cluster.py serves: /hello and /cpu (work in a Pool)."""

from __future__ import annotations

import os
from typing import Any

import offload

_pool: offload.Pool | None = None


def _work(n: int) -> int:
    return sum(i * i for i in range(n))


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _pool
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _pool = offload.Pool(kind="process", max_workers=1)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _pool is not None:
                    await _pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = str(os.getpid()).encode()
    if scope["path"] == "/cpu" and _pool is not None:
        await _pool.run(_work, 20_000)
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
