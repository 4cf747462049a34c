"""Load and probes for the cluster benchmarks: servers, an HTTP client process, wrk.

The client is an async client in its own process, one new connection per request, so
every request is one accept and the body (the worker's pid) says who served it. wrk,
when installed, measures throughput (keep-alive connections, far less client CPU).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil

HERE = Path(__file__).parent
APP = "_cluster_app:app"


async def _one(host: str, port: int, path: str) -> str:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionAbortedError(f"no answer ({head[:40]!r})")
    return body.decode()


def _kind(exc: BaseException) -> str:
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionAbortedError):
        return "closed unanswered"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return type(exc).__name__


async def _load(url: str, seconds: float, clients: int) -> dict[str, object]:
    host, port_path = url.removeprefix("http://").split(":", 1)
    port, _, path = port_path.partition("/")
    by_pid: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    stop = time.monotonic() + seconds

    async def client() -> None:
        while time.monotonic() < stop:
            try:
                by_pid[await asyncio.wait_for(_one(host, int(port), "/" + path), 10)] += 1
            except (TimeoutError, OSError) as exc:
                errors[_kind(exc)] += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return {
        "ok": sum(by_pid.values()),
        "failed": sum(errors.values()),
        "errors": dict(errors),
        "by_pid": dict(by_pid),
    }


def load(url: str, seconds: float, clients: int = 20) -> subprocess.Popen[str]:
    """Start the load client process; ``result()`` reads its JSON line."""
    return subprocess.Popen(
        [sys.executable, __file__, url, str(seconds), str(clients)],
        stdout=subprocess.PIPE,
        text=True,
    )


def result(proc: subprocess.Popen[str]) -> dict[str, object]:
    out, _ = proc.communicate(timeout=120)
    return json.loads(out)  # type: ignore[no-any-return]


def wrk(url: str, seconds: float, connections: int = 20) -> tuple[int, float] | None:
    """(requests, seconds) that wrk measured (keep-alive); None when wrk is not installed."""
    exe = shutil.which("wrk")
    if exe is None:
        return None
    out = subprocess.run(
        [exe, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    match = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if match is None or "Non-2xx" in out:
        raise RuntimeError(f"wrk failed:\n{out}")
    took = float(match.group(2)) / (1000 if match.group(3) == "ms" else 1)
    return int(match.group(1)), took


def get(port: int, path: str = "/", timeout: float = 5.0) -> str:
    """One request on a new connection; the body."""
    return asyncio.run(asyncio.wait_for(_one("127.0.0.1", port, path), timeout))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_workers(port: int, workers: int, timeout: float = 60.0) -> set[int]:
    """Wait until ``workers`` different pids answer; their pids."""
    deadline = time.monotonic() + timeout
    seen: set[int] = set()
    while time.monotonic() < deadline:
        try:
            seen.add(int(get(port)))
        except (OSError, TimeoutError, ValueError):
            time.sleep(0.05)
        if len(seen) >= workers:
            return seen
    raise RuntimeError(f"port {port}: only {len(seen)} of {workers} workers answered")


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its living descendants."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def stop(server: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    if server.stderr is not None:
        server.stderr.close()


if __name__ == "__main__":
    url, secs, clients = sys.argv[1:4]
    print(json.dumps(asyncio.run(_load(url, float(secs), int(clients)))))
