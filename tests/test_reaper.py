"""The reaper: one titled helper per application that ends its programs and removes its
segments when it dies, and that is itself replaced when it dies."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

import offload
from _pids import gone
from offload import _reaper


def _wait_for(condition: Callable[[], object], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def _title(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline()).strip()
    except psutil.Error:
        return ""


def _reapers_of(app: int) -> list[int]:
    title = f"offload: reaper for pid {app}"
    try:
        children = psutil.Process(app).children()
    except psutil.NoSuchProcess:
        return []
    return [c.pid for c in children if _title(c.pid) == title]


def _programs_of(app: int, argv: list[str]) -> list[int]:
    try:
        children = psutil.Process(app).children()
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if child.cmdline() == argv:
                found.append(child.pid)
        except psutil.Error:
            pass
    return found


def test_the_reaper_shows_what_it_is_in_ps(no_leaks: None) -> None:
    pid = _reaper.reaper_pid()
    assert pid is not None
    title = f"offload: reaper for pid {os.getpid()}"
    assert _wait_for(lambda: _title(pid) == title), _title(pid)
    shown = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True)
    assert shown.stdout.strip() == title


APP = r"""
import asyncio, offload

async def main():
    running = asyncio.ensure_future(offload.run(["sleep", "300"]))
    keep = offload.SharedBuffer(100)
    print(keep.name, flush=True)
    await running

asyncio.run(main())
"""


@pytest.mark.parametrize("kills", [1, 3])
def test_a_killed_reaper_is_replaced_and_still_cleans_up_after_a_killed_app(
    no_leaks: None, kills: int
) -> None:
    app = subprocess.Popen([sys.executable, "-c", APP], stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout is not None
        segment = app.stdout.readline().strip()
        assert os.path.exists(f"/dev/shm/{segment}")
        assert _wait_for(lambda: _programs_of(app.pid, ["sleep", "300"]))
        (program,) = _programs_of(app.pid, ["sleep", "300"])
        for _ in range(kills):
            assert _wait_for(lambda: len(_reapers_of(app.pid)) == 1)
            (old,) = _reapers_of(app.pid)
            os.kill(old, signal.SIGKILL)
            # Replaced, and the dead one reaped: not left behind as a zombie.
            assert _wait_for(lambda old=old: _reapers_of(app.pid) not in ([], [old]))
            assert _wait_for(lambda old=old: not psutil.pid_exists(old)), "zombie reaper"
        app.kill()
        app.wait(30)
        assert _wait_for(lambda: gone(program)), "the program outlived the application"
        assert _wait_for(lambda: not os.path.exists(f"/dev/shm/{segment}")), "segment left"
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(30)
        if app.stdout is not None:
            app.stdout.close()


EXITS = r"""
import asyncio, offload, time
from offload import _reaper

async def main():
    await offload.run(["true"])
    while _reaper.reaper_pid() is None:
        await asyncio.sleep(0.01)
    print(_reaper.reaper_pid(), flush=True)

asyncio.run(main())
"""


def test_the_reaper_exits_soon_after_the_application_exits(no_leaks: None) -> None:
    app = subprocess.run(
        [sys.executable, "-c", EXITS], capture_output=True, text=True, timeout=60, check=True
    )
    reaper = int(app.stdout)
    # No segments were registered, so nothing keeps it for the later sweeps.
    assert _wait_for(lambda: gone(reaper), 10)


def _end_group_when_ready(script: str, grace: float) -> float:
    """Run ``script`` in a shell in its own process group, wait until it says its traps
    are set, end the group with ``end_groups(grace=...)``; the seconds that took, once
    the group is gone."""
    proc = subprocess.Popen(
        ["/bin/sh", "-c", script], start_new_session=True, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    began = time.monotonic()
    _reaper.end_groups([proc.pid], grace=grace, reap=True)
    took = time.monotonic() - began
    proc.stdout.close()
    proc.wait(10)  # reaped by end_groups(reap=True) already
    assert _wait_for(lambda: not _reaper.group_alive(proc.pid, reap=True), 10)
    return took


def test_end_groups_kills_a_group_that_ignores_sigterm_after_the_grace(no_leaks: None) -> None:
    took = _end_group_when_ready("trap '' TERM; echo ready; while :; do sleep 0.05; done", 0.3)
    assert took >= 0.3


def test_end_groups_does_not_wait_for_a_group_that_obeys_sigterm(no_leaks: None) -> None:
    took = _end_group_when_ready("echo ready; exec sleep 60", 30)
    assert took < 20


def test_end_groups_of_a_group_that_is_gone_returns_at_once() -> None:
    proc = subprocess.Popen(["true"], start_new_session=True)
    proc.wait()
    steps = list(_reaper.ending([proc.pid], grace=30))
    assert steps == []


TITLE = re.compile(r"offload: (worker \d+|pool template) \(pool web of pid \d+\)")


async def test_pool_processes_show_what_they_are(no_leaks: None) -> None:
    async with offload.Pool(kind="process", max_workers=1, name="web") as pool:
        worker = await pool.run(os.getpid)
        template = psutil.Process(worker).ppid()
        titles = {_title(worker), _title(template)}
        assert all(TITLE.fullmatch(t) for t in titles), titles
        assert {t.split(" (")[0] for t in titles} == {
            "offload: worker 1",
            "offload: pool template",
        }
    await asyncio.sleep(0)


FORKS = r"""
import asyncio, os, offload
from offload import _reaper

async def started() -> int:
    await offload.run(["true"])
    while _reaper.reaper_pid() is None:
        await asyncio.sleep(0.01)
    return _reaper.reaper_pid()

parent_reaper = asyncio.run(started())
pid = os.fork()
if pid == 0:  # a child made by os.fork() gets a reaper of its own
    child_reaper = asyncio.run(started())
    import psutil
    ok = child_reaper != parent_reaper and psutil.Process(child_reaper).ppid() == os.getpid()
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status), flush=True)
"""


def test_a_process_made_by_os_fork_gets_its_own_reaper(no_leaks: None) -> None:
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", FORKS],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "0", done.stderr


@given(
    st.lists(
        st.one_of(
            st.tuples(st.sampled_from("+-"), st.integers(1, 6)),
            st.tuples(st.just("f"), st.sampled_from(["/dev/shm/offload-1-", "/tmp/x-"])),
        ),
        max_size=60,
    ),
    st.integers(1, 7),
)
def test_the_reaper_reads_what_the_application_registered(
    ops: list[tuple[str, object]], chunk: int
) -> None:
    """Records from register/unregister/remove_at_death, read back in arbitrary chunks,
    give the reaper exactly the application's view (and so does a restart snapshot)."""
    live: dict[int, int] = {}
    prefixes: set[str] = set()
    stream = b""
    for kind, value in ops:
        if kind == "f":
            assert isinstance(value, str)
            prefixes.add(value)
            stream += b"f" + value.encode() + b"\n"
        elif kind == "+":
            assert isinstance(value, int)
            live[value] = live.get(value, 0) + 1
            stream += b"+%d\n" % value
        elif isinstance(value, int) and value in live:  # unregister only what is live
            live[value] -= 1
            if not live[value]:
                del live[value]
            stream += b"-%d\n" % value

    def read_back(data: bytes) -> _reaper._Records:
        records = _reaper._Records()
        read_end, write_end = os.pipe()
        saved = os.dup(0)
        try:
            os.dup2(read_end, 0)
            os.set_blocking(0, False)
            for start in range(0, len(data), chunk):
                os.write(write_end, data[start : start + chunk])
                records.drain()
            os.close(write_end)
            records.drain()
        finally:
            os.dup2(saved, 0)
            os.close(saved)
            os.close(read_end)
        return records

    records = read_back(stream)
    assert records.groups == live
    assert records.prefixes == prefixes
    assert not records.open
    snapshot = _reaper._snapshot(live, prefixes)
    again = read_back(snapshot)
    assert (again.groups, again.prefixes) == (live, prefixes)


def test_short_process_names_have_no_spaces() -> None:
    # CPython 3.12+ counts threads before os.fork() by splitting /proc/self/stat at
    # spaces; a kernel name with spaces made every worker fork warn "multi-threaded".
    from offload._proctitle import short_name

    assert short_name("offload: worker 2 (pool web of pid 4100)") == "offload-worker"
    assert short_name("offload: pool template (pool web of pid 4100)") == "offload-pool"
    assert short_name("offload: reaper for pid 4100") == "offload-reaper"


async def test_forking_workers_gives_no_multi_threaded_warning(tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(
        "import asyncio, os, offload\n"
        "async def main():\n"
        "    async with offload.Pool(max_workers=2) as pool:\n"
        "        await asyncio.gather(*(pool.run(os.getpid) for _ in range(4)))\n"
        "asyncio.run(main())\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-W", "always", str(script), stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    assert b"multi-threaded" not in err, err.decode()
