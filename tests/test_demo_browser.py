"""The live page in a real headless browser: start a job, see matches and charts move."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import httpx
import pytest
from tests._demo_helpers import GATE, serve_in_child

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# 12 small integers: 4096 subsets (milliseconds), dozens of matches. The server holds
# each job in its worker until the test opens the gate, so the page sees both workers
# busy however fast or busy the machine is.
STRATEGY = "process"
JOB = "[7, -3, 12, -9, 4, 15, -11, 2, 8, -6, 13, -1]"

pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"{CHROMIUM} is missing: run `make system-deps` (installs Debian's chromium)",
)


async def test_the_page_streams_matches_and_charts_lag_and_utilization(
    tmp_path: Path, no_leaks: None
) -> None:
    from playwright.async_api import async_playwright

    gate_path = tmp_path / "gate"
    with gate_path.open("w") as gate:
        fcntl.flock(gate, fcntl.LOCK_EX)  # closed: jobs wait in their workers
        async with (
            serve_in_child(
                "serve_gated", STRATEGY, workers=2, env={GATE: str(gate_path)}
            ) as server,
            async_playwright() as playwright,
        ):
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 760})
                await page.goto(server.url + "/")
                await page.wait_for_function(
                    f"document.getElementById('strategy').textContent === '{STRATEGY}'"
                )
                # The charts run before any job (and the browser has settled after starting).
                await page.wait_for_function(
                    "Number(document.getElementById('lag-chart').dataset.samples) >= 6"
                )
                await page.fill("#data", JOB)
                await page.fill("#sum", "0")
                await page.fill("#copies", "2")
                await page.click("#start")
                # While the jobs run, both workers show up as busy.
                await page.wait_for_function(
                    "document.getElementById('busy').textContent.startsWith('2 /')", timeout=30_000
                )
                await page.wait_for_function(
                    "document.querySelectorAll('#matches li').length > 0", timeout=30_000
                )
                gate.close()  # open: the jobs finish
                await page.wait_for_function(
                    "document.getElementById('status').textContent.startsWith('done:')",
                    timeout=30_000,
                )
                status = await page.text_content("#status")
                assert status is not None
                assert "2 jobs" in status
                assert "matches each" in status
                assert f"{STRATEGY} strategy" in status
                assert await page.locator("#matches li").count() >= 1
                # Charts: samples keep arriving, and the utilization line left the zero line.
                await page.wait_for_function(
                    "Number(document.getElementById('lag-chart').dataset.samples) >= 12"
                )
                peak = await page.evaluate(
                    "Math.max(...document.querySelector('#util-chart polyline')"
                    ".getAttribute('points').split(' ').map(p => 150 - Number(p.split(',')[1])))"
                )
                assert peak > 100  # y grows downwards: the line rose to full utilization
                await page.wait_for_function(
                    "document.getElementById('done').textContent === '2 / 0'"
                )
                shot = tmp_path / "demo.png"
                await page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
                if target := os.environ.get("OFFLOAD_DEMO_SCREENSHOT"):
                    shutil.copyfile(shot, target)
                # A request the server refuses shows its message.
                await page.fill("#data", str(list(range(30))))
                await page.fill("#copies", "1")
                await page.click("#start")
                await page.wait_for_function(
                    "document.getElementById('status').textContent.startsWith('failed: 413')"
                )
                assert "send fewer items" in (await page.text_content("#status") or "")
            finally:
                await browser.close()


async def test_stop_in_the_page_cancels_the_job_on_the_server(no_leaks: None) -> None:
    from playwright.async_api import async_playwright

    async with (
        serve_in_child("serve", STRATEGY, workers=1) as server,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(server.url + "/")
            await page.fill("#data", str([2] * 24))
            await page.fill("#sum", "1")
            await page.click("#start")
            await page.wait_for_function(
                "document.getElementById('busy').textContent.startsWith('1 /')", timeout=30_000
            )
            await page.click("#stop")
            await page.wait_for_function(
                "document.getElementById('status').textContent.startsWith('stopped')"
            )
            await page.wait_for_function(
                "document.getElementById('busy').textContent.startsWith('0 /')", timeout=30_000
            )
            async with httpx.AsyncClient(base_url=server.url) as client:
                jobs = (await client.get("/stats")).json()["jobs"]
            assert jobs["cancelled"] == 1
            assert jobs["completed"] == 0
        finally:
            await browser.close()
