"""A real Dask LocalCluster for tests, and functions the Dask tests run in its workers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import offload

_CLUSTER_MAIN = """
import os
import sys

if os.fork() > 0:  # detach: the cluster lives on in a grandchild, outside our tree
    os._exit(0)
os.setsid()

import distributed

cluster = distributed.LocalCluster(
    n_workers=int(sys.argv[1]),
    threads_per_worker=1,
    processes=True,
    host="127.0.0.1",
    dashboard_address=":0",
    memory_limit="1GiB",
)
with distributed.Client(cluster) as client:
    assert client.submit(abs, -1, pure=False).result(timeout=30) == 1
print(os.getpid(), cluster.scheduler_address, flush=True)
sys.stdin.read()  # until the test session closes our stdin (or dies)
cluster.close(timeout=30)
"""


def start_process_singletons() -> None:
    """Start now what Dask starts once per application and keeps for its whole life.

    multiprocessing's resource tracker (Dask's nannies spawn worker processes, which
    starts it on first use) and Dask's one "offload" thread. Started before any leak
    snapshot, they are not mistaken for something a test left behind.
    """
    from multiprocessing import resource_tracker

    from distributed import utils

    resource_tracker.ensure_running()
    utils._offload_executor.submit(int).result()


def local_cluster(n_workers: int = 2) -> Iterator[str]:
    """Run a LocalCluster of worker processes, detached from this process; yield its
    scheduler address. It closes when the fixture ends (or this process dies).

    Its scheduler's connections and threads are not this process's, and it is not a
    descendant of this process: tests that end Dask workers run on it too, and the
    workers its nannies start in their place belong to the cluster, so per-test leak
    checks see exactly what the pool under test starts (or leaves) itself.
    """
    launcher = subprocess.Popen(
        [sys.executable, "-c", _CLUSTER_MAIN, str(n_workers)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    launcher.wait(30)  # it exits at once, leaving the cluster process behind
    assert launcher.stdout is not None
    assert launcher.stdin is not None
    pid = 0
    try:
        line = launcher.stdout.readline().split()
        if len(line) != 2 or not line[1].startswith("tcp://"):
            raise RuntimeError("the test LocalCluster did not start")
        pid = int(line[0])
        yield line[1]
    finally:
        launcher.stdin.close()  # the cluster closes itself
        launcher.stdout.close()
        if pid:
            _wait_gone(pid, 30)


def _wait_gone(pid: int, limit: float) -> None:
    import psutil

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


async def workers_ready(address: str, count: int = 2, limit: float = 30.0) -> None:
    """Wait until the cluster has ``count`` workers (after a test ended one, its nanny
    starts another: the next test waits for it)."""
    import distributed

    async with distributed.Client(address, asynchronous=True) as client:
        deadline = time.monotonic() + limit
        while True:
            info = await client.scheduler.identity(n_workers=-1)
            if len(info.get("workers", {})) >= count:
                return
            assert time.monotonic() < deadline, f"the cluster never had {count} workers"
            await asyncio.sleep(0.05)


def write_until_stopped(path: str, limit: float = 60.0) -> str:
    """Report this worker's pid, then append a dot to ``path`` every 10 ms, ignoring
    cancellation; write ``finished`` if it ever gets to the end."""
    offload.report(os.getpid())
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with open(path, "a") as f:
            f.write(".")
        time.sleep(0.01)
    with open(path, "a") as f:
        f.write("finished")
    return "finished"


def wait_for_file(path: str, value: object, limit: float = 30.0) -> object:
    """Return ``value`` once ``path`` exists (raise if it never does)."""
    deadline = time.monotonic() + limit
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.005)
    return value


def report_pid_then_sleep(seconds: float) -> int:
    offload.report(os.getpid())
    time.sleep(seconds)
    return os.getpid()


def report_values(count: int) -> str:
    for i in range(count):
        offload.report({"step": i})
    return "done"


def length(data: bytes) -> int:
    return len(data)


def gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie counts as gone)."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
