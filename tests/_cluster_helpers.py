"""A real cluster in a child process, its log, and a load of real HTTP clients."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from offload._cluster import _control

APP = """
import asyncio, os, time
GROWN = []
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/slow":
        with open("slow-arrivals", "a") as arrivals:  # the test waits for its requests
            arrivals.write(".")
        await asyncio.sleep(1.5)
    elif path == "/block":
        time.sleep(10)
    elif path == "/grow":
        GROWN.append(bytearray(100 * 2**20))
    body = str(os.getpid())
    if path == "/concurrency":
        body = os.environ.get("WEB_CONCURRENCY", "")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body.encode()})
"""


class Cluster:
    """``python -m offload cluster app:app`` in ``directory``; its stderr is collected."""

    def __init__(self, directory: Path, *args: str, app: str = "app:app") -> None:
        self.directory = directory
        self.control = str(directory / "control.sock")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "offload",
                "cluster",
                app,
                "--port",
                "0",
                "--control",
                self.control,
                *args,
            ],
            cwd=directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.lines: list[str] = []
        self.arrived: list[float] = []  # when each line was read (time.monotonic())
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = ""

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            now = time.monotonic()
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self.arrived.append(now)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def log(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 30.0, count: int = 1) -> re.Match[str]:
        """The ``count``-th log line matching ``pattern``; fails after ``timeout``."""
        return self.wait_for_line(pattern, timeout, count)[0]

    def wait_for_line(
        self, pattern: str, timeout: float = 30.0, count: int = 1
    ) -> tuple[re.Match[str], float]:
        """Like :meth:`wait_for`, with the time the line was read (``time.monotonic()``,
        in the reader thread: not delayed by this thread's wake-up)."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        with self._changed:
            while True:
                matches = zip(map(regex.search, self.lines), self.arrived, strict=True)
                found = [(m, when) for m, when in matches if m]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"no log line matches {pattern!r}:\n" + "\n".join(self.lines)
                    )
                self._changed.wait(min(left, 0.2))

    def wait_serving(self, workers: int, timeout: float = 30.0) -> None:
        match = self.wait_for(r"on (http://\S+) with", timeout)
        self.url = match.group(1)
        self.wait_for(r"ready", timeout, count=workers)

    def status(self) -> dict[str, object]:
        return _control.request(self.control, "status")

    def pids(self) -> dict[str, int]:
        workers = self.status()["workers"]
        assert isinstance(workers, list)
        return {w["id"]: w["pid"] for w in workers if w["state"] == "serving"}

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return code


@contextmanager
def cluster(
    directory: Path, *args: str, workers: int = 2, app_text: str = APP
) -> Iterator[Cluster]:
    (directory / "app.py").write_text(app_text)
    c = Cluster(directory, "--workers", str(workers), *args)
    try:
        c.wait_serving(workers)
        yield c
    finally:
        c.stop()


class Load:
    """``clients`` threads sending GET requests (a new connection each) until stopped."""

    def __init__(self, url: str, clients: int = 20, path: str = "/") -> None:
        self.url = url + path
        self.ok: Counter[str] = Counter()
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def _client(self) -> None:
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(limits=limits, timeout=10.0) as client:
            while not self._stop.is_set():
                try:
                    response = client.get(self.url, headers={"Connection": "close"})
                    response.raise_for_status()
                except httpx.HTTPError as exc:
                    with self._lock:
                        self.failed.append(repr(exc))
                else:
                    with self._lock:
                        self.ok[response.text] += 1

    def total(self) -> int:
        with self._lock:
            return sum(self.ok.values())

    def wait_requests(self, n: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        start = self.total()
        while self.total() - start < n:
            assert time.monotonic() < deadline, f"load made no progress: {self.failed[:3]}"
            time.sleep(0.01)

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)
