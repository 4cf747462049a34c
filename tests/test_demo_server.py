"""The demo server as users run it: `offload demo` in a child process on a free port."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from tests._demo_helpers import STARTED
from tests._demo_helpers import serve_in_child as gated_server

from offload._cli._demo._compare import serve_in_child
from offload._cli._demo._subset_sum import matches

ROOT = Path(__file__).resolve().parents[1]

BIG = {"data": str([2] * 24), "sum": "1"}  # 2**24 subsets, no match: seconds of work
MEDIUM = {"data": str([2] * 23), "sum": "1"}  # half of that


async def stats(client: httpx.AsyncClient) -> dict[str, Any]:
    answer: dict[str, Any] = (await client.get("/stats")).json()
    return answer


async def wait_for(client: httpx.AsyncClient, check: Any, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        current = await stats(client)
        if check(current):
            return current
        assert time.monotonic() < deadline, f"stats never got there: {current}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("strategy", ["interleave", "thread", "process"])
async def test_a_client_that_goes_away_cancels_its_job_where_it_runs(
    strategy: str, no_leaks: None
) -> None:
    # The server's jobs run until cancelled (tests/_demo_helpers.py): only the
    # disconnect can end this one, however fast or slow the machine.
    async with (
        gated_server("serve", strategy, workers=1) as server,
        httpx.AsyncClient(base_url=server.url, timeout=60) as client,
    ):
        async with client.stream("GET", "/subset-sum", params=BIG) as response:
            assert response.status_code == 200
            # The job reports its first match once it runs (in the pool, or on the loop).
            first = await anext(aiter(response.aiter_lines()))
            assert json.loads(first) == {"match": STARTED}
            running = await stats(client)
            assert (running["jobs"]["running"], running["pool"]["busy"]) == (1, 1)
        # The stream is closed unread: the server sees the disconnect.
        gone = time.monotonic()
        after = await wait_for(
            client, lambda s: s["pool"]["busy"] == 0 and s["jobs"]["running"] == 0
        )
        # From the close to the first /stats that shows the worker free: "idle again
        # within seconds" (docs/demo.md), where the job itself would never end.
        assert time.monotonic() - gone < 3.0
        assert after["jobs"] == {"running": 0, "completed": 0, "cancelled": 1, "failed": 0}
        # The worker (or its replacement) takes the next job: it starts.
        async with client.stream("GET", "/subset-sum", params=BIG) as response:
            first = await anext(aiter(response.aiter_lines()))
            assert json.loads(first) == {"match": STARTED}


@pytest.mark.parametrize("strategy", ["thread", "process"])
async def test_matches_stream_from_the_workers(strategy: str, no_leaks: None) -> None:
    async with (
        serve_in_child(strategy, workers=2) as server,
        httpx.AsyncClient(base_url=server.url, timeout=60) as client,
    ):
        response = await client.get("/subset-sum", params={"data": "[3, -1, 4, 1, 5]", "sum": "4"})
        lines = [json.loads(line) for line in response.text.splitlines()]
        assert lines[:-1] == [{"match": list(m)} for m in matches([3, -1, 4, 1, 5], 4)]
        assert lines[-1]["count"] == 4
        assert lines[-1]["strategy"] == strategy


async def ping_during_job(client: httpx.AsyncClient) -> tuple[float, float]:
    """Ping while a job runs: (ping round trip, the job's elapsed time), in seconds."""
    async with client.stream("GET", "/subset-sum", params=MEDIUM) as response:
        # The server sends the headers as it starts the job: the job runs from here on.
        sent = time.perf_counter()
        await client.get("/ping")
        round_trip = time.perf_counter() - sent
        body = (await response.aread()).decode()
    elapsed: float = json.loads(body.splitlines()[-1])["elapsed"]
    return round_trip, elapsed


async def test_ping_is_answered_while_a_job_runs_in_a_worker(no_leaks: None) -> None:
    async with (
        serve_in_child("process", workers=1) as server,
        httpx.AsyncClient(base_url=server.url, timeout=60) as client,
    ):
        round_trip, elapsed = await ping_during_job(client)
        assert round_trip < elapsed / 2


async def test_ping_waits_for_a_job_that_blocks_the_loop(no_leaks: None) -> None:
    async with (
        serve_in_child("blocking", workers=1) as server,
        httpx.AsyncClient(base_url=server.url, timeout=60) as client,
    ):
        round_trip, elapsed = await ping_during_job(client)
        assert round_trip > elapsed / 2


def test_ctrl_c_stops_the_server_and_its_workers(no_leaks: None) -> None:
    argv = [sys.executable, "-m", "offload", "demo", "--port", "0", "--workers", "2"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("offload demo: process strategy, 2 workers")
        url = re.search(r"http://\S+", proc.stdout.readline())
        assert url is not None
        assert httpx.get(url.group(0) + "ping", timeout=30).json() == {"pong": True}
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert workers
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        _, stderr = proc.communicate()
        assert "Traceback" not in stderr
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, f"workers left running: {alive}"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_help_lists_the_strategies() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "offload", "demo", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for word in ("blocking", "interleave", "thread", "process", "--compare", "--port"):
        assert word in result.stdout


async def test_ctrl_c_during_a_job_cancels_it_and_leaves_no_worker(no_leaks: None) -> None:
    # The server's jobs run until cancelled (tests/_demo_helpers.py): the job is still
    # running when Ctrl-C arrives and when the shutdown cuts its stream, on any machine.
    serve = "from tests._demo_helpers import serve; serve()"
    argv = [sys.executable, "-c", serve, "--port", "0", "--workers", "1"]
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": path},
    )
    try:
        assert proc.stdout is not None
        url = None
        while url is None:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line, "the server exited before printing its URL"
            url = re.search(r"http://\S+", line)
        async with (
            httpx.AsyncClient(base_url=url.group(0), timeout=60) as client,
            client.stream("GET", "/subset-sum", params=BIG) as response,
        ):
            lines = aiter(response.aiter_lines())
            # The job reports its first match once it runs in a worker.
            assert json.loads(await anext(lines)) == {"match": STARTED}
            workers = psutil.Process(proc.pid).children(recursive=True)
            assert workers
            proc.send_signal(signal.SIGINT)
            rest = [json.loads(line) async for line in lines if line]
        assert rest == [
            {
                "done": True,
                "strategy": "process",
                "elapsed": rest[-1]["elapsed"],
                "streamed": 1,
                "count": None,
                "cancelled": True,
                "reason": "the server is shutting down",
            }
        ]
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert proc.stderr is not None
        assert b"Traceback" not in await proc.stderr.read()
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, f"workers left running: {alive}"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_a_port_in_use_is_a_clear_error(no_leaks: None) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "offload", "demo", "--port", str(port), "--workers", "1"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "address already in use" in result.stderr
    assert "the server did not start" in result.stderr
    assert "Traceback" not in result.stderr
