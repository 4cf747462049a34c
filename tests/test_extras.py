"""Each documented extra, installed alone into a fresh virtual environment, runs its
documented entry point: what a user who followed the README gets."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

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
