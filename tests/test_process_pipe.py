"""offload.pipe: fd-level pipelines with pipefail semantics and a whole-pipeline stop."""

from __future__ import annotations

import time

import pytest

import offload


async def test_output_flows_from_program_to_program(no_leaks: None) -> None:
    result = await offload.pipe(
        ["printf", "b\\na\\nc\\na\\n"], ["sort"], ["uniq", "-c"], ["wc", "-l"], text=True
    )
    assert (result.stdout or "").strip() == "3"
    assert result.ok


async def test_input_feeds_the_first_program_and_stderr_is_shared(no_leaks: None) -> None:
    result = await offload.pipe(
        ["sh", "-c", "cat; echo one >&2"], ["sh", "-c", "tr a-z A-Z; echo two >&2"], input="hi\n"
    )
    assert result.stdout == b"HI\n"
    assert sorted((result.stderr or b"").split()) == [b"one", b"two"]


async def test_pipefail_reports_the_rightmost_failure(no_leaks: None) -> None:
    with pytest.raises(offload.ProcessFailed) as info:
        await offload.pipe(["sh", "-c", "exit 3"], ["sh", "-c", "cat; exit 4"], ["cat"])
    assert info.value.returncode == 4
    assert info.value.argv == ("sh", "-c", "cat; exit 4")


async def test_upstream_sigpipe_is_not_a_failure(no_leaks: None) -> None:
    result = await offload.pipe(["yes"], ["head", "-n", "2"])
    assert result.stdout == b"y\ny\n"
    assert result.ok


async def test_timeout_stops_every_program(no_leaks: None) -> None:
    started = time.monotonic()
    with pytest.raises(offload.ProcessFailed) as info:
        await offload.pipe(["sleep", "60"], ["sleep", "60"], ["cat"], timeout=0.3)
    assert info.value.timed_out
    assert time.monotonic() - started < 20


async def test_a_missing_program_leaves_nothing_running(no_leaks: None) -> None:
    with pytest.raises(offload.ProgramNotFound, match="not-a-program-xyz"):
        await offload.pipe(["sleep", "60"], ["not-a-program-xyz"])


async def test_pipe_needs_programs(no_leaks: None) -> None:
    with pytest.raises(ValueError):
        await offload.pipe()
