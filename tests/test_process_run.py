"""offload.run: results, failures, timeouts, cancellation, limits, output caps."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import offload
from _pids import gone
from _ready import Ready

PY = sys.executable


async def test_returns_output_status_and_pid(no_leaks: None) -> None:
    result = await offload.run(["sh", "-c", "echo out; echo err >&2"])
    assert result.stdout == b"out\n"
    assert result.stderr == b"err\n"
    assert result.returncode == 0
    assert result.signal is None
    assert result.ok
    assert result.pid > 0
    assert result.argv == ("sh", "-c", "echo out; echo err >&2")
    assert result.duration > 0


async def test_nonzero_exit_raises_process_failed_with_stderr_tail(no_leaks: None) -> None:
    with pytest.raises(offload.ProcessFailed) as info:
        await offload.run(["sh", "-c", "echo partial; echo 'it broke' >&2; exit 3"])
    error = info.value
    assert error.returncode == 3
    assert error.stdout == b"partial\n"
    assert error.stderr == b"it broke\n"
    assert "it broke" in str(error)
    assert "status 3" in str(error)
    assert not error.timed_out
    assert not error.cancelled
    assert not error.output_truncated


async def test_check_false_returns_the_failed_result(no_leaks: None) -> None:
    result = await offload.run(["sh", "-c", "exit 7"], check=False)
    assert result.returncode == 7
    assert not result.ok
    with pytest.raises(offload.ProcessFailed):
        result.check()


async def test_signal_death_is_reported_by_name(no_leaks: None) -> None:
    with pytest.raises(offload.ProcessFailed) as info:
        await offload.run(["sh", "-c", "kill -USR1 $$"])
    assert info.value.signal == signal.SIGUSR1
    assert info.value.returncode == -signal.SIGUSR1
    assert "SIGUSR1" in str(info.value)


async def test_text_decodes_and_replaces_undecodable_bytes(no_leaks: None) -> None:
    result = await offload.run(["printf", "caf\\303\\251 \\377\\376 ok"], text=True)
    assert result.stdout == "café \ufffd\ufffd ok"


async def test_input_is_fed_to_stdin(no_leaks: None) -> None:
    data = os.urandom(3_000_000)
    result = await offload.run(["cat"], input=data)
    assert result.stdout == data
    text = await offload.run(["cat"], input="héllo", text=True)
    assert text.stdout == "héllo"


async def test_large_output_on_both_streams_does_not_deadlock(no_leaks: None) -> None:
    script = "import os; b = b'x' * 1048576\nfor _ in range(20): os.write(1, b); os.write(2, b)"
    result = await offload.run([PY, "-c", script], timeout=50)
    assert len(result.stdout or b"") == 20 * 1048576
    assert len(result.stderr or b"") == 20 * 1048576


async def test_output_after_the_other_stream_closed_early_is_kept(no_leaks: None) -> None:
    # One stream ending is taken as a hint that the program is ending: the other
    # stream's later output and the exit status must still all arrive.
    script = (
        "import os, time\n"
        "os.write(1, b'out'); os.close(1); time.sleep(0.2)\n"
        "for _ in range(50): os.write(2, b'e' * 100000)\n"
        "raise SystemExit(3)"
    )
    result = await offload.run([PY, "-c", script], check=False, timeout=50)
    assert result.stdout == b"out"
    assert result.stderr == b"e" * 5_000_000
    assert result.returncode == 3


async def test_string_argv_is_refused_with_a_pointer_to_shlex(no_leaks: None) -> None:
    with pytest.raises(TypeError, match=r"shlex\.split"):
        await offload.run("ls -l")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        await offload.run([])
    with pytest.raises(TypeError, match="str, bytes or path"):
        await offload.run(["echo", 3])  # type: ignore[list-item]


async def test_shell_runs_only_when_asked(no_leaks: None) -> None:
    result = await offload.run("echo $((6 * 7)) | tr 4 X", shell=True)
    assert result.stdout == b"X2\n"


async def test_missing_program_is_program_not_found_naming_it(no_leaks: None) -> None:
    with pytest.raises(offload.ProgramNotFound, match="no-such-program-xyz"):
        await offload.run(["no-such-program-xyz"])


async def test_non_executable_file_is_program_not_found(tmp_path: Path, no_leaks: None) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(offload.ProgramNotFound, match=r"script\.sh"):
        await offload.run([str(script)])


async def test_env_and_cwd(tmp_path: Path, no_leaks: None) -> None:
    result = await offload.run(
        ["sh", "-c", 'echo "$GREETING"; pwd; echo "${HOME:+home}"'],
        env={"GREETING": "hello"},
        cwd=tmp_path,
        text=True,
    )
    greeting, cwd, home = (result.stdout or "").splitlines()
    assert greeting == "hello"
    assert Path(cwd).resolve() == tmp_path.resolve()
    assert home == ("home" if "HOME" in os.environ else "")
    bare = await offload.run(["/usr/bin/env"], env={"ONLY": "1"}, inherit_env=False, text=True)
    assert bare.stdout == "ONLY=1\n"


@pytest.mark.parametrize("value", [None, 1])
async def test_env_values_that_are_not_text_are_refused(no_leaks: None, value: object) -> None:
    env: dict[str, object] = {"A": value}
    with pytest.raises(TypeError, match=r"env values must be str.*'A'"):
        await offload.run(["true"], env=env)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="env names must be str"):
        await offload.run(["true"], env={1: "x"})  # type: ignore[dict-item]


async def test_env_accepts_bytes_and_paths(tmp_path: Path, no_leaks: None) -> None:
    env: dict[str, Any] = {"A": b"bytes", "B": tmp_path}
    result = await offload.run(["sh", "-c", 'echo "$A $B"'], env=env, text=True)
    assert result.stdout == f"bytes {tmp_path}\n"


OUT_OF_FDS = r"""
import asyncio, collections, json, resource, offload
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

async def main():
    results = await asyncio.gather(
        *(offload.run(["true"]) for _ in range(500)), return_exceptions=True
    )
    kinds = collections.Counter(
        "ok" if isinstance(r, offload.ProcessResult)
        else type(r).__name__ + ("/fds" if "descriptors left" in str(r) else "")
        for r in results
    )
    print(json.dumps(kinds))

asyncio.run(main())
"""


def test_running_out_of_file_descriptors_is_a_process_error_saying_so(no_leaks: None) -> None:
    done = subprocess.run(
        [PY, "-c", OUT_OF_FDS], capture_output=True, text=True, timeout=120, check=True
    )
    kinds = json.loads(done.stdout)
    assert set(kinds) <= {"ok", "ProcessError/fds"}, kinds
    assert kinds.get("ProcessError/fds", 0) > 0, kinds


async def test_missing_cwd_is_a_process_error_naming_it(no_leaks: None) -> None:
    with pytest.raises(offload.ProcessError, match="working directory"):
        await offload.run(["true"], cwd="/nonexistent-dir-xyz")


async def _fails_once_ready(
    argv: list[str], ready: Ready, lines: int = 1, **options: Any
) -> offload.ProcessFailed:
    """The ProcessFailed of ``offload.run(argv, **options)``, where the program (told the
    path in $READY) writes ``lines`` lines there once ready. The event loop is held until
    then, so a timeout (armed when run() starts the program) cannot fire before."""
    call = asyncio.ensure_future(offload.run(argv, env={"READY": str(ready)}, **options))
    await asyncio.sleep(0)  # run() starts the program and arms its timer, then awaits
    ready.block(lines)
    with pytest.raises(offload.ProcessFailed) as info:
        await call
    return info.value


async def test_timeout_kills_the_whole_group_including_grandchildren(
    no_leaks: None, tmp_path: Path
) -> None:
    started = time.monotonic()
    script = 'sleep 60 & echo $!; echo started > "$READY"; sleep 60'
    with Ready(tmp_path) as ready:
        error = await _fails_once_ready(["sh", "-c", script], ready, timeout=0.5)
    assert time.monotonic() - started < 20
    assert error.timed_out
    assert error.signal == signal.SIGTERM
    assert "timed out" in str(error)
    grandchild = int((error.stdout or b"").decode())
    assert gone(grandchild)


async def test_kill_after_escalates_to_sigkill_for_a_child_ignoring_sigterm(
    no_leaks: None, tmp_path: Path
) -> None:
    script = """trap '' TERM; echo trapped > "$READY"; while :; do sleep 0.05; done"""
    with Ready(tmp_path) as ready:
        error = await _fails_once_ready(["sh", "-c", script], ready, timeout=0.5, kill_after=0.3)
    assert error.timed_out
    assert error.signal == signal.SIGKILL


async def test_a_grandchild_holding_the_pipe_does_not_hang_a_timeout(
    no_leaks: None, tmp_path: Path
) -> None:
    # The grandchild leaves the group and keeps stdout open: the call still returns.
    grandchild = (
        "import os, sys, time; os.setsid(); print('left', file=open(sys.argv[1], 'w')); "
        "time.sleep(60)"
    )
    script = f'{PY} -c "{grandchild}" "$READY" & echo $!; echo started > "$READY"; sleep 60'
    started = time.monotonic()
    with Ready(tmp_path) as ready:
        error = await _fails_once_ready(
            ["sh", "-c", script], ready, lines=2, timeout=0.5, kill_after=0.5
        )
    assert time.monotonic() - started < 20
    escaped = int((error.stdout or b"0").decode())
    os.kill(escaped, signal.SIGKILL)  # it left our group on purpose; end it ourselves
    for _ in range(250):
        if gone(escaped):
            break
        await asyncio.sleep(0.02)


async def test_token_cancel_stops_the_program_like_a_timeout(
    no_leaks: None, tmp_path: Path
) -> None:
    token = offload.CancelToken()
    script = 'sleep 60 & echo $!; echo started > "$READY"; sleep 60'
    with Ready(tmp_path) as ready:
        call = asyncio.ensure_future(
            offload.run(["sh", "-c", script], env={"READY": str(ready)}, token=token)
        )
        await ready.wait()
        token.cancel("stop")
        with pytest.raises(offload.ProcessFailed) as info:
            await call
    assert info.value.cancelled
    assert not info.value.timed_out
    assert gone(int((info.value.stdout or b"").decode()))


async def test_token_cancelled_before_start_raises_cancelled(no_leaks: None) -> None:
    token = offload.CancelToken()
    token.cancel("early")
    with pytest.raises(offload.Cancelled):
        await offload.run(["true"], token=token)


async def test_cancelling_the_task_kills_the_group_before_reraising(
    no_leaks: None, tmp_path: Path
) -> None:
    script = 'sleep 60 & echo $! > "$READY"; sleep 60 & echo $! > "$READY"; wait'
    with Ready(tmp_path) as ready:
        task = asyncio.create_task(
            offload.run(["sh", "-c", script], env={"READY": str(ready)}, kill_after=0.5)
        )
        pids = [int(line) for line in await ready.wait(lines=2)]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert all(gone(pid) for pid in pids)


async def test_max_output_kills_and_reports_truncation(no_leaks: None) -> None:
    with pytest.raises(offload.ProcessFailed) as info:
        await offload.run(["yes"], max_output=100_000)
    error = info.value
    assert error.output_truncated
    assert len(error.stdout or b"") == 100_000
    assert "max_output" in str(error)


async def test_max_output_truncate_keeps_the_head_and_succeeds(no_leaks: None) -> None:
    result = await offload.run(
        ["head", "-c", "5000000", "/dev/zero"], max_output=1000, on_overflow="truncate"
    )
    assert result.ok
    assert result.output_truncated
    assert result.stdout == b"\0" * 1000


async def test_cpu_limit_is_reported_in_words(no_leaks: None) -> None:
    with pytest.raises(offload.ProcessFailed) as info:
        await offload.run([PY, "-c", "while True: pass"], limits={"cpu_seconds": 1}, timeout=30)
    assert info.value.limit is not None
    assert "CPU time limit exceeded" in str(info.value)


async def test_memory_limit_is_reported_in_words(no_leaks: None) -> None:
    script = "b = bytearray(400 * 1024 * 1024)"
    with pytest.raises(offload.ProcessFailed) as info:
        await offload.run([PY, "-c", script], limits=offload.Limits(memory=200 * 2**20))
    assert "memory limit exceeded" in str(info.value)


async def test_open_files_and_nice_limits_apply(no_leaks: None) -> None:
    script = "import os, resource; print(resource.getrlimit(resource.RLIMIT_NOFILE)[0], os.nice(0))"
    result = await offload.run(
        [PY, "-c", script], limits=offload.Limits(open_files=50, nice=5), text=True
    )
    files, nice = (result.stdout or "").split()
    assert int(files) == 50
    assert int(nice) >= 5


def test_limits_reject_bad_values() -> None:
    with pytest.raises(ValueError):
        offload.Limits(memory=-1)
    with pytest.raises(TypeError, match="unknown limits"):
        offload._process._limits.as_limits({"ram": 1})


def test_process_failed_pickles_with_its_details() -> None:
    import pickle

    error = offload.ProcessFailed("boom", argv=("x",), returncode=2, stderr=b"e", timed_out=True)
    back = pickle.loads(pickle.dumps(error))
    assert (str(back), back.argv, back.returncode, back.stderr, back.timed_out) == (
        "boom",
        ("x",),
        2,
        b"e",
        True,
    )


@pytest.fixture
def uvloop_warm() -> None:
    import uvloop

    async def nothing() -> None:
        return None

    # uvloop keeps two descriptors open for good after its first loop: not a leak of ours.
    uvloop.run(nothing())


@pytest.mark.usefixtures("uvloop_warm", "no_leaks")
def test_works_under_uvloop() -> None:
    import uvloop

    async def main() -> bytes | str | None:
        with pytest.raises(offload.ProcessFailed):
            await offload.run(["sleep", "30"], timeout=0.2)
        return (await offload.run(["echo", "uv"])).stdout

    assert uvloop.run(main()) == b"uv\n"


async def test_uncaptured_output_waits_for_the_exit_alone(no_leaks: None) -> None:
    result = await offload.run(
        ["sh", "-c", "exit 5"], stdout="devnull", stderr="devnull", check=False
    )
    assert result.returncode == 5
    assert result.stdout is None
    assert result.stderr is None


async def test_program_is_looked_up_in_the_given_path(tmp_path: Path, no_leaks: None) -> None:
    tool = tmp_path / "my-tool"
    tool.write_text("#!/bin/sh\necho found me\n")
    tool.chmod(0o755)
    result = await offload.run(["my-tool"], env={"PATH": str(tmp_path)})
    assert result.stdout == b"found me\n"
    with pytest.raises(offload.ProgramNotFound, match="my-tool"):
        await offload.run(["my-tool"], env={"PATH": "/nonexistent-dir-xyz"})
