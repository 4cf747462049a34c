"""offload cluster next to uvicorn --workers and gunicorn with uvicorn workers.

All three serve the same app (bench/_cluster_app.py: /hello, and /cpu which offloads
CPU work to a process Pool) with the same number of workers, started together and
measured in alternating order over several rounds, so machine noise hits all alike:

- requests/s on /hello and /cpu (wrk, keep-alive, when installed; else the async
  client below) and the CPU time the server's processes spent per request: the median
  over rounds, and offload's ratio to the best of the others in each round;
- how requests spread over the workers (async client in its own process, a new
  connection per request: every request is one accept);
- failed requests during a reload (SIGHUP) under that load;
- time from SIGKILL of one worker until a new worker process answers.

    python bench/bench_cluster.py [--workers 2] [--seconds 1] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _cluster_load import (
    APP,
    HERE,
    _one,
    free_port,
    load,
    result,
    stop,
    tree_cpu,
    wait_workers,
    wrk,
)
from _common import machine

SERVERS = ("offload cluster", "uvicorn --workers", "gunicorn -k uvicorn")


def command(kind: str, port: int, workers: int) -> list[str]:
    py, n = sys.executable, str(workers)
    quiet = ["--log-level", "warning"]
    if kind == "offload cluster":
        return [py, "-m", "offload", "cluster", APP, "--port", str(port), "--workers", n]
    if kind == "uvicorn --workers":
        return [py, "-m", "uvicorn", APP, "--port", str(port), "--workers", n, *quiet]
    worker = ["-k", "uvicorn.workers.UvicornWorker"]
    return [py, "-m", "gunicorn", APP, "-b", f"127.0.0.1:{port}", "-w", n, *worker, *quiet]


def throughput(pid: int, url: str, seconds: float) -> tuple[float, float, str]:
    """(requests/s, server CPU µs per request, tool) of one load of ``url``."""
    before = tree_cpu(pid)
    measured = wrk(url, seconds)
    if measured is None:
        got = result(load(url, seconds))
        requests, took, tool = int(got["ok"]), seconds, "async client"  # type: ignore[call-overload]
    else:
        (requests, took), tool = measured, "wrk"
    spent = tree_cpu(pid) - before
    return requests / took, spent / max(requests, 1) * 1e6, tool


async def _until_new_pid(port: int, old: set[int], timeout: float) -> None:
    async def probe() -> None:
        while True:
            try:
                if int(await _one("127.0.0.1", port, "/hello")) not in old:
                    return
            except (OSError, ValueError):
                await asyncio.sleep(0.002)

    tasks = [asyncio.create_task(probe()) for _ in range(8)]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def serving_again(port: int, workers: int) -> float:
    """Seconds from SIGKILL of one worker until a new worker process answers."""
    pids = wait_workers(port, workers)
    victim = min(pids)
    start = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    asyncio.run(_until_new_pid(port, pids, 30.0))
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n, secs = args.workers, args.seconds
    print(
        f"# bench_cluster: {n} workers each, {secs:g} s per load, {args.rounds} rounds in "
        f"alternating order, {machine()}"
    )
    log = Path(tempfile.mkdtemp()) / "servers.log"
    ports = {kind: free_port() for kind in SERVERS}
    servers: dict[str, subprocess.Popen[str]] = {}
    with log.open("a") as err:
        for kind in SERVERS:
            servers[kind] = subprocess.Popen(
                command(kind, ports[kind], n), cwd=HERE, stderr=err, text=True
            )
    rps: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    rows: dict[str, dict[str, object]] = {kind: {} for kind in SERVERS}
    tool = ""
    try:
        for kind in SERVERS:
            wait_workers(ports[kind], n)
        for kind in SERVERS:  # warm up: first requests, the Pool's first task
            for path in ("/hello", "/cpu"):
                throughput(servers[kind].pid, f"http://127.0.0.1:{ports[kind]}{path}", 1.0)
        for r in range(args.rounds):
            order = SERVERS[r % 3 :] + SERVERS[: r % 3]
            line = []
            for path in ("/hello", "/cpu"):
                for kind in order:
                    url = f"http://127.0.0.1:{ports[kind]}{path}"
                    got, per, tool = throughput(servers[kind].pid, url, secs)
                    rps.setdefault((kind, path), []).append(got)
                    cpu.setdefault((kind, path), []).append(per)
                    line.append(f"{kind} {path} {got:.0f}/s {per:.0f} µs")
            print(f"round {r + 1}: " + ", ".join(line), flush=True)
        for kind in SERVERS:
            url = f"http://127.0.0.1:{ports[kind]}/hello"
            spread = result(load(url, secs))
            shares = sorted(spread["by_pid"].values(), reverse=True)  # type: ignore[union-attr]
            rows[kind]["max_share"] = shares[0] / (sum(shares) / n)
            rows[kind]["shares"] = shares
            during = load(url, secs + 4)
            time.sleep(1.0)
            servers[kind].send_signal(signal.SIGHUP)
            reload = result(during)
            rows[kind]["reload"] = f"{reload['failed']} of {reload['ok'] + reload['failed']}"  # type: ignore[operator]
            wait_workers(ports[kind], n)
            rows[kind]["back"] = serving_again(ports[kind], n)
    finally:
        for server in servers.values():
            stop(server)
    print(f"\nthroughput tool: {tool}; median of {args.rounds} rounds\n")
    print(
        "| server | hello req/s | cpu req/s | server CPU µs per hello / cpu request "
        "| busiest worker / fair share | failed in reload under load "
        "| killed worker: new one answering after |"
    )
    print("|---|---|---|---|---|---|---|")
    med = {key: statistics.median(v) for key, v in rps.items()}
    for kind in SERVERS:
        row = rows[kind]
        print(
            f"| {kind} | {med[kind, '/hello']:.0f} | {med[kind, '/cpu']:.0f} "
            f"| {statistics.median(cpu[kind, '/hello']):.0f} / "
            f"{statistics.median(cpu[kind, '/cpu']):.0f} "
            f"| {row['max_share']:.2f}x {row['shares']} | {row['reload']} "
            f"| {float(row['back']) * 1e3:.0f} ms |"  # type: ignore[arg-type]
        )
    print()
    for path in ("/hello", "/cpu"):
        ratios = [
            mine / max(rps[other, path][i] for other in SERVERS[1:])
            for i, mine in enumerate(rps["offload cluster", path])
        ]
        cpu_ratios = [
            mine / min(cpu[other, path][i] for other in SERVERS[1:])
            for i, mine in enumerate(cpu["offload cluster", path])
        ]
        mine = rps["offload cluster", path]
        each = ", ".join(
            f"{other} {statistics.median([m / v for m, v in zip(mine, theirs, strict=True)]):.2f}x"
            for other in SERVERS[1:]
            for theirs in [rps[other, path]]
        )
        print(f"offload cluster / each other, {path}: median of per-round req/s ratios: {each}")
        print(
            f"offload cluster / best other, {path}: req/s per round "
            f"{[round(x, 2) for x in ratios]} median {statistics.median(ratios):.2f}x; "
            f"CPU per request per round {[round(x, 2) for x in cpu_ratios]} "
            f"median {statistics.median(cpu_ratios):.2f}x"
        )


if __name__ == "__main__":
    main()
