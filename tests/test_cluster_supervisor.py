"""offload cluster end to end: real uvicorn workers, real sockets and real signals."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from _cluster_helpers import APP, Cluster, Load, cluster
from _pids import gone
from offload._cluster import _control

pytestmark = pytest.mark.timeout(60)


def test_killed_worker_serves_again_within_a_second(tmp_path: Path) -> None:
    with cluster(tmp_path, workers=2) as c, Load(c.url, clients=8) as load:
        load.wait_requests(50)
        victim = c.pids()["w1"]
        killed = time.monotonic()  # before the kill: the interval is never under-measured
        os.kill(victim, signal.SIGKILL)
        # From the kill to the supervisor's "ready" line for the new worker, as read from
        # its stderr (not when this thread, sharing the GIL with the clients, wakes up).
        ready, ready_at = c.wait_for_line(r"w1 \(pid (\d+)\) ready", timeout=10, count=2)
        back = ready_at - killed
        load.wait_requests(50)
        assert c.pids()["w1"] == int(ready.group(1)) != victim
    # The first crash restarts at once (no back-off; docs/cluster.md).
    assert f"w1 (pid {victim}) crashed (killed by SIGKILL); restarting now" in c.log
    assert back < 1.0, c.log
    # Only the requests in flight on the killed worker (one per client at most) failed.
    assert len(load.failed) <= 8, load.failed
    assert str(victim) in load.ok
    assert len(load.ok) == 3


def test_reload_under_load_fails_no_request_and_replaces_every_worker(tmp_path: Path) -> None:
    with cluster(tmp_path, workers=2) as c, Load(c.url, clients=20) as load:
        load.wait_requests(50)
        before = c.pids()
        c.signal(signal.SIGHUP)
        c.wait_for(r"reload done", timeout=30)
        after = c.pids()
        load.wait_requests(50)
    assert load.failed == []
    assert set(before.values()).isdisjoint(after.values())
    assert set(after.values()) <= {int(pid) for pid in load.ok}


def test_reload_to_a_broken_version_rolls_back_without_failures(tmp_path: Path) -> None:
    with cluster(tmp_path, workers=2) as c, Load(c.url, clients=20) as load:
        load.wait_requests(50)
        before = c.pids()
        (tmp_path / "app.py").write_text("raise RuntimeError('the new version is broken')\n")
        c.signal(signal.SIGHUP)
        c.wait_for(r"reload aborted \(rolled back\)", timeout=30)
        load.wait_requests(50)
        assert c.pids() == before
    assert load.failed == []
    assert "the new version is broken" in c.log


def test_sigterm_lets_slow_requests_finish_within_the_grace(tmp_path: Path) -> None:
    with cluster(tmp_path, "--graceful-timeout", "10", workers=2) as c:
        results: list[int | str] = []

        def slow() -> None:
            try:
                results.append(httpx.get(c.url + "/slow", timeout=10).status_code)
            except httpx.HTTPError as exc:
                results.append(repr(exc))

        import threading

        threads = [threading.Thread(target=slow) for _ in range(4)]
        for t in threads:
            t.start()
        # Wait until every request is in a worker (each then takes 1.5 s).
        arrivals = tmp_path / "slow-arrivals"
        deadline = time.monotonic() + 30
        while not arrivals.exists() or len(arrivals.read_text()) < len(threads):
            assert time.monotonic() < deadline, "the requests never reached the workers"
            time.sleep(0.01)
        c.signal(signal.SIGTERM)
        start = time.monotonic()
        code = c.proc.wait(15)
        for t in threads:
            t.join(10)
    assert code == 0, c.log
    assert time.monotonic() - start < 10
    assert results == [200] * 4


def test_sigterm_just_after_a_restart_stops_the_new_worker_too(tmp_path: Path) -> None:
    # The stop reaches a worker forked a moment ago (before its own signal handlers
    # are set): it must stop, not serve on while the supervisor waits for it.
    (tmp_path / "app.py").write_text(APP)
    c = Cluster(tmp_path, "--workers", "1", "--graceful-timeout", "20")
    try:
        c.wait_serving(1)
        os.kill(c.pids()["w1"], signal.SIGKILL)
        c.wait_for(r"w1 \(pid \d+\) crashed", timeout=10)
        c.signal(signal.SIGTERM)
        code = c.proc.wait(10)
    finally:
        c.stop()
    assert code == 0, c.log


def test_blocked_loop_is_killed_replaced_and_its_stack_logged(tmp_path: Path) -> None:
    with cluster(tmp_path, "--timeout", "2", workers=2) as c:
        sent = time.monotonic()
        with pytest.raises(httpx.HTTPError):
            httpx.get(c.url + "/block", timeout=8)
        killed = c.wait_for(r"(w\d) \(pid \d+\) killed: event loop blocked", timeout=10)
        c.wait_for(rf"{killed.group(1)} \(pid \d+\) ready", timeout=10, count=2)
        replaced = time.monotonic() - sent
        httpx.get(c.url + "/", timeout=5).raise_for_status()
    assert replaced < 4.5, c.log
    assert "time.sleep(10)" in c.log
    assert "in app (" in c.log


def test_blocked_loop_stack_is_known_before_the_kill_with_a_short_timeout(
    tmp_path: Path,
) -> None:
    with cluster(tmp_path, "--timeout", "1", workers=1) as c:
        with pytest.raises(httpx.HTTPError):
            httpx.get(c.url + "/block", timeout=8)
        c.wait_for(r"w1 \(pid \d+\) killed: event loop blocked", timeout=10)
        c.wait_for(r"^\s+time\.sleep\(10\)", timeout=10)
        lines = c.lines[:]
    # The kill's own log entry (not the worker's output, prefixed [w1 ..]) is the kill
    # line followed by the stack; a kill of a loop that a loaded machine stalled for a
    # second before /block arrived would be an entry of its own.
    kills = [i for i, line in enumerate(lines) if "killed: event loop blocked" in line]
    entries = ["\n".join(lines[i : i + 30]) for i in kills]
    entry = next(e for e in entries if "time.sleep(10)" in e.split("[cluster]", 2)[1])
    assert "(no stack was reported" not in entry.splitlines()[1], entry
    assert "still in app (" in entry.splitlines()[1], entry


@pytest.mark.parametrize(
    ("app_text", "error"),
    [
        ("raise RuntimeError('database is down')\n", "database is down"),
        (
            "async def app(scope, receive, send):\n"
            "    await receive()\n"
            "    await send({'type': 'lifespan.startup.failed', 'message': 'lifespan says no'})\n",
            "lifespan says no",
        ),
    ],
    ids=["import", "lifespan"],
)
def test_crash_loop_at_start_exits_nonzero_with_the_error(
    tmp_path: Path, app_text: str, error: str
) -> None:
    (tmp_path / "app.py").write_text(app_text)
    c = Cluster(tmp_path, "--workers", "2")
    code = c.proc.wait(30)
    c.stop()
    assert code == 1, c.log
    assert error in c.log
    assert c.log.count("failed to start") <= 2 * 3


def test_memory_limit_recycles_the_worker_without_failures(tmp_path: Path) -> None:
    with cluster(tmp_path, "--max-memory", "90M", workers=2) as c, Load(c.url, clients=4) as load:
        load.wait_requests(20)
        httpx.get(c.url + "/grow", timeout=10).raise_for_status()
        c.wait_for(r"recycled: memory", timeout=15)
        c.wait_for(r"ready, replaced", timeout=15)
        load.wait_requests(20)
    assert load.failed == []


def test_max_requests_recycles_the_worker(tmp_path: Path) -> None:
    with cluster(tmp_path, "--max-requests", "30", workers=1) as c, Load(c.url, clients=4) as load:
        c.wait_for(r"recycled: served \d+ requests", timeout=20)
        c.wait_for(r"ready, replaced", timeout=15)
        load.wait_requests(10)
    assert load.failed == []


def test_workers_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    with cluster(tmp_path, workers=2) as c:
        workers = list(c.pids().values())
        c.proc.kill()
        c.proc.wait(5)
        deadline = time.monotonic() + 1.0
        while not all(map(gone, workers)) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert all(map(gone, workers)), workers


def test_status_over_a_private_control_socket(tmp_path: Path) -> None:
    with cluster(tmp_path, workers=2) as c:
        httpx.get(c.url + "/", timeout=5).raise_for_status()
        # Workers know how many server processes share the machine (pool sizing).
        assert httpx.get(c.url + "/concurrency", timeout=5).text == "2"
        assert stat.S_IMODE(os.stat(c.control).st_mode) == 0o600
        status = c.status()
        workers = status["workers"]
        assert isinstance(workers, list)
        assert len(workers) == 2
        for w in workers:
            assert set(w) >= {"pid", "uptime", "restarts", "rss", "requests", "lag_p99"}
            assert w["rss"] > 0
        out = subprocess.run(
            [sys.executable, "-m", "offload", "cluster", "status", "--control", c.control],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
        assert "w1" in out
        assert "w2" in out
        assert "lag p99" in out
        reload = subprocess.run(
            [sys.executable, "-m", "offload", "cluster", "reload", "--control", c.control],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
        assert "started" in reload
        c.wait_for("reload done", timeout=30)
    assert not os.path.exists(c.control)


def test_worker_output_is_prefixed_with_its_id(tmp_path: Path) -> None:
    app = APP.replace("GROWN = []", "GROWN = []\nprint('hello from the app', flush=True)")
    with cluster(tmp_path, workers=1, app_text=app) as c:
        c.wait_for(r"^\[w1 \d+\] hello from the app$")


def _cli(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "offload", "cluster", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_bad_input_is_a_clear_error_with_exit_status_2(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    missing = _cli(tmp_path, "nosuchmodule:app", "--port", "0")
    assert missing.returncode == 2
    assert "no module named 'nosuchmodule'" in missing.stderr
    no_attr = _cli(
        tmp_path,
        "app:nothing",
        "--port",
        "0",
        "--workers",
        "1",
        "--control",
        str(tmp_path / "c.sock"),
    )
    assert no_attr.returncode == 2
    assert "has no attribute 'nothing'" in no_attr.stderr
    zero = _cli(tmp_path, "app:app", "--workers", "0")
    assert zero.returncode == 2
    assert "--workers" in zero.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        in_use = _cli(tmp_path, "app:app", "--port", port)
    assert in_use.returncode == 2
    assert "already in use" in in_use.stderr


def test_a_supervisor_whose_stderr_nobody_reads_keeps_serving_and_restarting(
    tmp_path: Path,
) -> None:
    # Each request prints 1 KB: a few hundred fill any pipe. A supervisor blocked on its
    # stderr would stop relaying, its worker would block on its output, and nothing
    # would restart it.
    app = APP.replace(
        '    path = scope["path"]', "    print('x' * 1000, flush=True)\n    path = scope[\"path\"]"
    )
    (tmp_path / "app.py").write_text(app)
    control = str(tmp_path / "control.sock")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "offload",
            "cluster",
            "app:app",
            "--port",
            "0",
            "--workers",
            "1",
            "--control",
            control,
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,  # not read until the end
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status = _control.request(control, "status")
                if status["workers"] and status["workers"][0]["state"] == "serving":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the cluster did not come up"
            time.sleep(0.05)
        url = str(status["address"])
        with httpx.Client(timeout=5) as client:
            for _ in range(300):
                client.get(url + "/").raise_for_status()
        victim = status["workers"][0]["pid"]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while True:
            workers = _control.request(control, "status", timeout=5)["workers"]
            if workers and workers[0]["pid"] != victim and workers[0]["state"] == "serving":
                break
            assert time.monotonic() < deadline, workers
            time.sleep(0.05)
        httpx.get(url + "/", timeout=5).raise_for_status()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    text = err.decode()
    assert text.count("x" * 1000) >= 300
    assert "crashed (killed by SIGKILL)" in text
