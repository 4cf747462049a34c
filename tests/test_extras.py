"""Each documented extra, installed alone into a fresh virtual environment, runs its
documented entry point: what a user who followed the README gets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

import pytest
from tests._rabbitmq import broker

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """offload built once as a wheel, as `pip install offload` would get it."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("offload-*.whl")
    return built


def _fresh_env(where: Path, requirement: str) -> Path:
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement],
        check=True,
        timeout=400,
    )
    return python


def _run(python: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(python), *args], capture_output=True, text=True, timeout=timeout, cwd=python.parent
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done


def test_the_core_alone_runs_the_tour(wheel: Path, tmp_path: Path) -> None:
    python = _fresh_env(tmp_path / "env", str(wheel))
    _run(python, "-m", "offload", "tour", timeout=180)


def test_the_numpy_extra_gives_shared_arrays(wheel: Path, tmp_path: Path) -> None:
    python = _fresh_env(tmp_path / "env", f"offload[numpy] @ {wheel.as_uri()}")
    code = (
        "import offload\n"
        "with offload.SharedArray((4, 4), 'float32') as a:\n"
        "    a.array[:] = 2\n"
        "    assert float(a.array.sum()) == 32.0\n"
    )
    _run(python, "-c", code)


def test_the_demo_extra_runs_the_comparison(wheel: Path, tmp_path: Path) -> None:
    python = _fresh_env(tmp_path / "env", f"offload[demo] @ {wheel.as_uri()}")
    done = _run(
        python,
        "-m",
        "offload",
        "demo",
        "--compare",
        "--workers",
        "1",
        "--duration",
        "0.5",
        timeout=300,
    )
    assert "process" in done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_cluster_extra_serves_an_app(wheel: Path, tmp_path: Path) -> None:
    python = _fresh_env(tmp_path / "env", f"offload[cluster] @ {wheel.as_uri()}")
    (tmp_path / "hello.py").write_text(
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'hello'})\n"
    )
    port = _free_port()
    offload_cmd = python.parent / "offload"
    proc = subprocess.Popen(
        [str(offload_cmd), "cluster", "hello:app", "--workers", "1", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
                    assert reply.read() == b"hello"
                    break
            except OSError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "the cluster never served"
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


def test_the_dask_extra_runs_a_pool_on_a_local_cluster(wheel: Path, tmp_path: Path) -> None:
    python = _fresh_env(tmp_path / "env", f"offload[dask] @ {wheel.as_uri()}")
    code = (
        "import asyncio, offload\n"
        "def double(x):\n"
        "    return 2 * x\n"
        "async def main():\n"
        "    async with offload.Pool('dask', max_workers=1) as pool:\n"
        "        assert await pool.run(double, 21) == 42\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(main())\n"
    )
    (tmp_path / "use_dask.py").write_text(code)
    _run(python, str(tmp_path / "use_dask.py"), timeout=180)


def test_the_rabbitmq_extra_runs_a_job(wheel: Path, tmp_path: Path) -> None:
    url = broker().url
    python = _fresh_env(tmp_path / "env", f"offload[rabbitmq] @ {wheel.as_uri()}")
    code = (
        "import asyncio, os, offload\n"
        "jobs = offload.JobQueue(os.environ['OFFLOAD_AMQP_URL'], name='extras-test')\n"
        "@jobs.job\n"
        "def double(x):\n"
        "    return 2 * x\n"
        "async def main():\n"
        "    async with jobs, jobs.worker(concurrency=1):\n"
        "        handle = await jobs.submit(double, 21)\n"
        "        assert await handle.result() == 42\n"
        "asyncio.run(main())\n"
    )
    (tmp_path / "use_jobs.py").write_text(code)
    done = subprocess.run(
        [str(python), str(tmp_path / "use_jobs.py")],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "OFFLOAD_AMQP_URL": url},
    )
    assert done.returncode == 0, done.stderr
    _run(python, "-m", "offload", "worker", "--help")
