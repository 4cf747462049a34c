"""examples/mail: a Starlette endpoint submits a job and answers at once; a real
``offload worker`` sends the mails; the status endpoint shows the counter and result."""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from tests._rabbitmq import amqp_url, queue_name  # noqa: F401

pytestmark = pytest.mark.timeout(90)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "mail"


@pytest.fixture
def mail_app(
    amqp_url: str,  # noqa: F811
    queue_name: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[ModuleType]:
    monkeypatch.setenv("MAIL_AMQP_URL", amqp_url)
    monkeypatch.setenv("MAIL_QUEUE", queue_name)
    monkeypatch.syspath_prepend(str(EXAMPLE))
    for name in ("app", "tasks"):
        sys.modules.pop(name, None)
    module = importlib.import_module("app")
    yield module
    for name in ("app", "tasks"):
        sys.modules.pop(name, None)


@pytest.fixture
def mail_worker(amqp_url: str, queue_name: str) -> Iterator[subprocess.Popen[str]]:  # noqa: F811
    env = {**os.environ, "MAIL_AMQP_URL": amqp_url, "MAIL_QUEUE": queue_name}
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLE), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "offload",
            "worker",
            amqp_url,
            "--queue",
            queue_name,
            "--app",
            "tasks",
            "--concurrency",
            "1",
        ],
        cwd=EXAMPLE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()


async def test_the_endpoint_answers_at_once_and_shows_progress_then_the_result(
    mail_app: ModuleType, mail_worker: subprocess.Popen[str]
) -> None:
    app = mail_app.app
    addresses = [f"user{i}@example.org" for i in range(20)] + ["not-an-address"]
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
    ):
        started = time.monotonic()
        answer = await client.post(
            "/mails", json={"addresses": addresses, "options": {"seconds_per_mail": 0.05}}
        )
        assert answer.status_code == 202
        assert time.monotonic() - started < 5  # it did not wait for the mails
        job_id = answer.json()["id"]
        seen = []
        deadline = time.monotonic() + 60
        while True:
            state = (await client.get(f"/mails/{job_id}")).json()
            seen.append(state["sent"])
            if state["done"]:
                break
            assert time.monotonic() < deadline, state
            await asyncio.sleep(0.05)
        assert state["result"] == {"sent": 20, "skipped": 1}
        assert state["sent"] == 20
        assert seen == sorted(seen)
        assert any(0 < n < 20 for n in seen), "no progress seen before the end"
        bad = await client.post("/mails", json={"addresses": "nobody"})
        assert bad.status_code == 400
