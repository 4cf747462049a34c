"""Why offload cluster's workers share one inherited socket rather than SO_REUSEPORT.

The same offload cluster (2 workers of bench/_cluster_app.py) run under each socket
model, alternating, for a few rounds:

- inherit: the supervisor binds and listens once; every worker serves that socket (one
  accept queue);
- reuseport: each worker listens on its own SO_REUSEPORT socket (one queue per worker;
  the kernel hashes each new connection to one of them).

Measured under load (clients opening a new connection per request): the spread of
requests over the workers, failed requests while every worker is replaced one at a
time (``reload``: each new worker is ready before the old one gets SIGTERM), and
failed requests when a worker is SIGKILLed and restarted.

    python bench/bench_socket_model.py [--rounds 2] [--seconds 3] [--clients 64]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _cluster_load import APP, HERE, free_port, load, result, stop, wait_workers
from _common import machine
from offload._cluster import _control

MODELS = ("inherit", "reuseport")


def serve(model: str, port: int, control: str) -> None:
    """The server process: an offload cluster with the given socket model."""
    from offload._cluster._options import Options
    from offload._cluster._supervisor import Supervisor

    logging.basicConfig(level=logging.WARNING, format="[cluster] %(message)s")
    options = Options(app=APP, workers=2, port=port, control=control, socket_model=model)
    sys.exit(Supervisor(options).run())


def _status(control: str) -> list[dict[str, object]]:
    workers = _control.request(control, "status")["workers"]
    assert isinstance(workers, list)
    return workers


def _serving(control: str) -> dict[str, int]:
    return {str(w["id"]): int(w["pid"]) for w in _status(control) if w["state"] == "serving"}


def _wait(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.02)


def one_round(model: str, seconds: float, clients: int, log: Path) -> dict[str, object]:
    port = free_port()
    control = os.path.join(tempfile.gettempdir(), f"bench-socket-model-{os.getpid()}.sock")
    url = f"http://127.0.0.1:{port}/hello"
    with log.open("a") as err:
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", model, str(port), control],
            cwd=HERE,
            stderr=err,
            text=True,
        )
    try:
        wait_workers(port, 2)
        spread = result(load(url, seconds, clients))

        # Every worker replaced, one at a time, under load.
        during = load(url, seconds + 4, clients)
        time.sleep(1.0)
        before = set(_serving(control).values())
        server.send_signal(signal.SIGHUP)
        _wait(lambda: before.isdisjoint(_serving(control).values()) and len(_serving(control)) == 2)
        reload = result(during)

        # One worker SIGKILLed under load (and restarted by the supervisor).
        during = load(url, seconds, clients)
        time.sleep(min(1.0, seconds / 3))
        victim = _serving(control)["w1"]
        os.kill(victim, signal.SIGKILL)
        _wait(lambda: _serving(control).get("w1", victim) != victim)
        killed = result(during)
    finally:
        stop(server)
    shares = sorted(spread["by_pid"].values(), reverse=True)  # type: ignore[union-attr]
    return {
        "max_share": shares[0] / (sum(shares) / 2),
        "shares": shares,
        "reload_failed": reload["failed"],
        "reload_errors": reload["errors"],
        "reload_ok": reload["ok"],
        "kill_failed": killed["failed"],
        "kill_errors": killed["errors"],
        "kill_ok": killed["ok"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--serve", nargs=3, metavar=("MODEL", "PORT", "CONTROL"))
    args = parser.parse_args()
    if args.serve:
        model, port, control = args.serve
        serve(model, int(port), control)
        return
    print(
        f"# bench_socket_model: offload cluster, 2 workers, {args.clients} clients (a new "
        f"connection per request), {args.seconds:g} s loads, {args.rounds} rounds "
        f"alternating, {machine()}"
    )
    log = Path(tempfile.mkdtemp()) / "servers.log"
    rows: dict[str, list[dict[str, object]]] = {m: [] for m in MODELS}
    for r in range(args.rounds):
        for model in MODELS if r % 2 == 0 else MODELS[::-1]:
            row = one_round(model, args.seconds, args.clients, log)
            rows[model].append(row)
            print(
                f"round {r + 1} {model:<9} busiest worker {row['max_share']:.2f}x fair "
                f"{row['shares']}  reload: {row['reload_failed']} failed of "
                f"{row['reload_ok'] + row['reload_failed']} {row['reload_errors']}  "  # type: ignore[operator]
                f"kill: {row['kill_failed']} failed of "
                f"{row['kill_ok'] + row['kill_failed']} {row['kill_errors']}",  # type: ignore[operator]
                flush=True,
            )
    print()
    print(
        "| socket model | busiest worker / fair share (max of rounds) "
        "| failed in reload (sum) | failed on SIGKILL (sum) |"
    )
    print("|---|---|---|---|")
    for model in MODELS:
        got = rows[model]
        reload_errors: Counter[str] = Counter()
        kill_errors: Counter[str] = Counter()
        for row in got:
            reload_errors.update(row["reload_errors"])  # type: ignore[arg-type]
            kill_errors.update(row["kill_errors"])  # type: ignore[arg-type]
        print(
            f"| {model} | {max(float(g['max_share']) for g in got):.2f}x "  # type: ignore[arg-type]
            f"| {sum(reload_errors.values())} {dict(reload_errors) or ''} "
            f"| {sum(kill_errors.values())} {dict(kill_errors) or ''} |"
        )


if __name__ == "__main__":
    main()
