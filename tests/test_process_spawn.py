"""offload.spawn: streaming, backpressure, wait semantics, signals and guaranteed ends."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

import offload
from _pids import gone

PY = sys.executable


async def test_lines_stream_as_they_come_without_a_length_limit(no_leaks: None) -> None:
    long = "x" * 300_000
    script = "print('a'); print('x' * 300_000); print('c\\r'); print('tail', end='')"
    async with offload.spawn([PY, "-c", script], text=True) as proc:
        assert proc.stdout is not None
        lines = [line async for line in proc.stdout.lines()]
        assert await proc.wait() == 0
    assert lines == ["a", long, "c", "tail"]


async def test_chunks_and_stdin_round_trip(no_leaks: None) -> None:
    data = bytes(range(256)) * 20_000
    async with offload.spawn(["cat"]) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None

        async def feed() -> None:
            assert proc.stdin is not None
            await proc.stdin.write(data)
            proc.stdin.close()

        writer = asyncio.create_task(feed())
        received = bytearray()
        async for chunk in proc.stdout:
            assert isinstance(chunk, bytes)
            received += chunk
        await writer
        assert await proc.wait() == 0
    assert bytes(received) == data


async def test_text_chunks_decode_split_characters_and_replace_garbage(no_leaks: None) -> None:
    script = "import os; os.write(1, 'é'.encode()[:1]); os.write(1, 'é'.encode()[1:] + b'\\xff')"
    async with offload.spawn([PY, "-c", script], text=True) as proc:
        assert proc.stdout is not None
        text = "".join([str(c) async for c in proc.stdout])
    assert text == "é\ufffd"


async def test_wait_returns_after_exit_and_keeps_the_tail(no_leaks: None) -> None:
    # The program exits right after writing; nothing is read until wait() returns.
    script = "import sys; sys.stdout.write('z' * 3_000_000); sys.stderr.write('bye')"
    async with offload.spawn([PY, "-c", script], buffer_size=65536) as proc:
        assert await proc.wait() == 0
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert len(await proc.stdout.read()) == 3_000_000
        assert await proc.stderr.read() == b"bye"


async def test_a_slow_reader_applies_backpressure(no_leaks: None) -> None:
    async with offload.spawn(["yes"], buffer_size=256 * 1024) as proc:
        assert proc.stdout is not None
        await asyncio.sleep(0.5)  # read nothing for a while: the program must wait
        buffered = proc.stdout._size
        assert buffered <= 256 * 1024 + (1 << 20)
        first = await proc.stdout.read_chunk()
        assert first
        assert proc.returncode is None
    assert proc.signal == signal.SIGTERM


async def test_leaving_the_block_ends_the_group(no_leaks: None) -> None:
    async with offload.spawn(["sh", "-c", "sleep 60 & echo $!; sleep 60"], text=True) as proc:
        assert proc.stdout is not None
        async for line in proc.stdout.lines():
            grandchild = int(line)
            break
    assert proc.returncode == -signal.SIGTERM
    assert gone(grandchild)


async def test_an_exception_in_the_block_ends_the_program_and_propagates(
    no_leaks: None,
) -> None:
    with pytest.raises(ZeroDivisionError):
        async with offload.spawn(["sleep", "60"]) as proc:
            1 / 0  # noqa: B018
    assert proc.returncode == -signal.SIGTERM


async def test_signals_terminate_and_kill(no_leaks: None) -> None:
    async with offload.spawn(["sleep", "60"], stdin="devnull") as proc:
        proc.send_signal(signal.SIGUSR1)
        assert await proc.wait() == -signal.SIGUSR1
        assert proc.signal == signal.SIGUSR1
    async with offload.spawn(["sleep", "60"]) as proc:
        proc.kill()
        assert await proc.wait() == -signal.SIGKILL


async def test_stop_escalates_for_a_program_ignoring_sigterm(no_leaks: None) -> None:
    script = "trap '' TERM; echo ready; while :; do sleep 0.05; done"
    async with offload.spawn(["sh", "-c", script]) as proc:
        assert proc.stdout is not None
        assert await proc.stdout.read_chunk() == b"ready\n"
        assert await proc.stop(kill_after=0.3) == -signal.SIGKILL


async def test_timeout_and_token_stop_a_spawned_program(no_leaks: None) -> None:
    async with offload.spawn(["sleep", "60"], timeout=0.3) as proc:
        assert await proc.wait() == -signal.SIGTERM
        assert proc.timed_out
    token = offload.CancelToken()
    async with offload.spawn(["sleep", "60"], token=token) as proc:
        asyncio.get_running_loop().call_later(0.2, token.cancel)
        assert await proc.wait() == -signal.SIGTERM
        assert proc.cancelled


async def test_writing_to_a_program_that_exited_raises_channel_closed(no_leaks: None) -> None:
    async with offload.spawn(["true"]) as proc:
        await proc.wait()
        assert proc.stdin is not None
        with pytest.raises(offload.ChannelClosed):
            await proc.stdin.write(b"x" * 65536 * 100)
        proc.stdin.close()
        with pytest.raises(offload.ClosedError):
            await proc.stdin.write(b"more")


async def test_stderr_merged_into_stdout(no_leaks: None) -> None:
    async with offload.spawn(["sh", "-c", "echo a; echo b >&2"], stderr="stdout") as proc:
        assert proc.stderr is None
        assert proc.stdout is not None
        assert sorted((await proc.stdout.read()).split()) == [b"a", b"b"]


async def test_spawn_missing_program_and_string_argv(no_leaks: None) -> None:
    with pytest.raises(offload.ProgramNotFound, match="nope-not-here"):
        offload.spawn(["nope-not-here"])
    with pytest.raises(TypeError, match="shlex"):
        offload.spawn("echo hi")  # type: ignore[arg-type]


async def test_timeout_covers_a_grandchild_holding_the_pipe(no_leaks: None) -> None:
    async with offload.spawn(["sh", "-c", "sleep 60 & echo started"], timeout=0.5) as proc:
        assert await proc.wait() == 0  # the shell exited at once; sleep kept stdout open
        assert proc.timed_out
        assert proc.stdout is not None
        assert await proc.stdout.read() == b"started\n"
