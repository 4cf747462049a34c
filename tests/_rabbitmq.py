"""A RabbitMQ broker for the jobs tests: OFFLOAD_AMQP_URL when set, else a private node.

The private node (scripts/rabbitmq.sh) has its own name, ports, data directory and
port mapper; it starts once per test session, on first use, and stops at exit. Only
the private node can be restarted by the restart tests.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "rabbitmq.sh"


class Broker:
    def __init__(self, url: str, directory: str | None) -> None:
        self.url = url
        self.directory = directory

    @property
    def private(self) -> bool:
        return self.directory is not None

    def _script(self, *args: str) -> str:
        assert self.directory is not None
        done = subprocess.run(
            ["sh", str(SCRIPT), *args], capture_output=True, text=True, timeout=180, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmq.sh {args[0]} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def stop(self) -> None:
        assert self.directory is not None
        self._script("stop", self.directory, "--keep-epmd")

    def start(self) -> None:
        assert self.directory is not None
        self.url = self._script("start", self.directory)

    def restart(self) -> None:
        self.stop()
        self.start()

    def shutdown(self) -> None:
        if self.directory is not None:
            subprocess.run(["sh", str(SCRIPT), "stop", self.directory], check=False, timeout=60)
            shutil.rmtree(self.directory, ignore_errors=True)


_broker: Broker | None = None
_failure: str | None = None


def broker() -> Broker:
    """The session's broker; fails the test when none can be had.

    Failing, not skipping: `make test` installs and starts RabbitMQ itself, so a broker
    that cannot start is a broken setup that must not pass as a green run.
    """
    global _broker, _failure
    if _broker is not None:
        return _broker
    if _failure is not None:
        pytest.fail(_failure)
    url = os.environ.get("OFFLOAD_AMQP_URL")
    if url:
        _broker = Broker(url, None)
        return _broker
    directory = tempfile.mkdtemp(prefix="offload-rabbitmq-")
    candidate = Broker("", directory)
    try:
        candidate.start()
    except Exception as exc:
        candidate.shutdown()
        _failure = f"no RabbitMQ for the jobs tests: {exc}"
        pytest.fail(_failure)
    atexit.register(candidate.shutdown)
    _broker = candidate
    return _broker


@pytest.fixture
def amqp_url() -> str:
    return broker().url


@pytest.fixture
def private_broker() -> Broker:
    b = broker()
    if not b.private:
        pytest.skip("restarts only a private test broker (OFFLOAD_AMQP_URL is set)")
    return b


@pytest.fixture
def queue_name() -> str:
    return f"t{uuid.uuid4().hex[:10]}"
