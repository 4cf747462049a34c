"""offload cluster next to uvicorn --workers and gunicorn with uvicorn workers.

For each server, on the same app (bench/_cluster_app.py) and N workers: requests/s on
/hello and /cpu (CPU work in a Pool), failed requests during a reload (SIGHUP) under
load, and how requests spread over the worker processes. For offload cluster also the
time from SIGKILL of a worker to its replacement serving. The load client is an async
client in a separate process (new connection per request), on loopback, bounded in time.

    python bench/bench_cluster.py [--workers 2] [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from _common import machine

HERE = Path(__file__).parent


async def _one(host: str, port: int, path: str) -> str:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(head[:40])
    return body.decode()


async def _load(url: str, seconds: float, clients: int) -> dict[str, object]:
    host, port_path = url.removeprefix("http://").split(":", 1)
    port, _, path = port_path.partition("/")
    by_pid: Counter[str] = Counter()
    failed = 0
    stop = time.monotonic() + seconds

    async def client() -> None:
        nonlocal failed
        while time.monotonic() < stop:
            try:
                by_pid[await asyncio.wait_for(_one(host, int(port), "/" + path), 10)] += 1
            except (TimeoutError, OSError):
                failed += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return {"ok": sum(by_pid.values()), "failed": failed, "by_pid": dict(by_pid)}


def load(url: str, seconds: float, clients: int = 20) -> subprocess.Popen[str]:
    """Start the load client process; its stdout is one JSON line."""
    return subprocess.Popen(
        [sys.executable, __file__, "--load", url, str(seconds), str(clients)],
        stdout=subprocess.PIPE,
        text=True,
    )


def result(proc: subprocess.Popen[str]) -> dict[str, object]:
    out, _ = proc.communicate(120)
    return json.loads(out)  # type: ignore[no-any-return]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(kind: str, port: int, workers: int) -> subprocess.Popen[str]:
    py = sys.executable
    app = "_cluster_app:app"
    commands = {
        "offload cluster": [
            py,
            "-m",
            "offload",
            "cluster",
            app,
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        "uvicorn --workers": [
            py,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        "gunicorn -k uvicorn": [
            py,
            "-m",
            "gunicorn",
            app,
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "-k",
            "uvicorn.workers.UvicornWorker",
            "--log-level",
            "warning",
        ],
    }
    return subprocess.Popen(commands[kind], cwd=HERE, stderr=subprocess.PIPE, text=True)


def wait_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            asyncio.run(_one("127.0.0.1", int(url.rsplit(":", 1)[1]), "/"))
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def bench(kind: str, workers: int, seconds: float) -> dict[str, object]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start(kind, port, workers)
    try:
        wait_up(url)
        time.sleep(1.0)  # all workers up
        hello = result(load(url + "/hello", seconds))
        cpu = result(load(url + "/cpu", seconds))
        during = load(url + "/hello", seconds + 2)
        time.sleep(1.0)
        server.send_signal(signal.SIGHUP)
        reload = result(during)
        back = float("nan")
        if kind == "offload cluster":
            from offload._cluster import _control

            status = _control.request(_control.default_path(port, None), "status")
            victim = status["workers"][0]["pid"]
            os.kill(victim, signal.SIGKILL)
            killed = time.monotonic()
            while True:
                ws = _control.request(_control.default_path(port, None), "status")["workers"]
                if any(
                    w["id"] == "w1" and w["state"] == "serving" and w["pid"] != victim for w in ws
                ):
                    back = time.monotonic() - killed
                    break
                time.sleep(0.005)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        assert server.stderr is not None
        server.stderr.close()
    shares = sorted(hello["by_pid"].values(), reverse=True)  # type: ignore[union-attr]
    fair = sum(shares) / workers
    return {
        "hello": int(hello["ok"]) / seconds,  # type: ignore[call-overload]
        "cpu": int(cpu["ok"]) / seconds,  # type: ignore[call-overload]
        "failed_hello": hello["failed"],
        "reload_failed": reload["failed"],
        "max_share": shares[0] / fair if shares else float("nan"),
        "shares": shares,
        "back": back,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--load", nargs=3)
    args = parser.parse_args()
    if args.load:
        url, seconds, clients = args.load
        print(json.dumps(asyncio.run(_load(url, float(seconds), int(clients)))))
        return
    print(
        f"# bench_cluster: {args.workers} workers, {args.seconds:g} s per load, "
        f"20 clients, {machine()}"
    )
    rows = {}
    for kind in ("offload cluster", "uvicorn --workers", "gunicorn -k uvicorn"):
        rows[kind] = r = bench(kind, args.workers, args.seconds)
        print(
            f"{kind:<20} hello {r['hello']:7.0f} req/s  cpu {r['cpu']:6.0f} req/s  "
            f"failed in reload {r['reload_failed']:4}  max share {r['max_share']:.2f}x "
            f"{r['shares']}  killed worker serving again after "
            f"{r['back'] * 1e3:.0f} ms",
            flush=True,
        )
    best = max(r["hello"] for k, r in rows.items() if k != "offload cluster")
    best_cpu = max(r["cpu"] for k, r in rows.items() if k != "offload cluster")
    mine = rows["offload cluster"]
    print(
        f"offload cluster / best other: hello {mine['hello'] / best:.2f}x, "
        f"cpu {mine['cpu'] / best_cpu:.2f}x"
    )


if __name__ == "__main__":
    main()
