"""offload cluster's pure parts: restart back-off, options, the command line, hung reports."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
import os
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offload._cli import _build_parser
from offload._cluster._backoff import Backoff
from offload._cluster._options import MIN_TIMEOUT, Options
from offload._cluster._output import Sink
from offload._cluster._serve import serve
from offload._monitor import BlockReport, LoopWatch

# -- back-off ---------------------------------------------------------------------------


def test_first_failure_after_a_stable_uptime_restarts_at_once() -> None:
    b = Backoff()
    assert b.failed(uptime=b.stable + 1) == 0.0
    assert b.failures == 1


@given(
    base=st.floats(0.001, 1.0),
    cap=st.floats(0.01, 60.0),
    failures=st.integers(1, 40),
)
def test_delays_grow_exponentially_with_jitter_within_bounds(
    base: float, cap: float, failures: int
) -> None:
    b = Backoff(base=base, cap=cap, stable=10.0)
    for n in range(1, failures + 1):
        delay = b.failed(uptime=0.0)
        if n == 1:
            assert delay == 0.0
            continue
        nominal = min(cap, base * 2 ** (n - 2))
        # Jitter takes off up to half, never adds: at most the cap.
        assert nominal * 0.5 <= delay <= nominal
        assert delay <= cap


def test_delays_double_until_the_cap() -> None:
    b = Backoff(base=0.1, cap=1.0)
    b.failed(0.0)
    uppers = []
    for _ in range(8):
        delay = b.failed(0.0)
        uppers.append(delay)
    # Each delay lies in [nominal/2, nominal]: 0.1, 0.2, 0.4, 0.8, then the 1.0 cap.
    for delay, nominal in zip(uppers, [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0], strict=True):
        assert nominal / 2 <= delay <= nominal


def test_jitter_spreads_the_restarts_of_many_workers() -> None:
    delays = set()
    for _ in range(50):
        b = Backoff()
        b.failed(0.0)
        b.failed(0.0)
        delays.add(b.failed(0.0))
    assert len(delays) > 40  # not all the same instant
    assert min(delays) < 0.15 < max(delays)


@given(st.integers(1, 30), st.floats(0.0, 100.0))
def test_failures_are_forgotten_after_a_stable_uptime(in_a_row: int, extra: float) -> None:
    b = Backoff(stable=10.0)
    for _ in range(in_a_row):
        b.failed(uptime=0.0)
    # A worker that then served for `stable` seconds before it failed starts over.
    assert b.failed(uptime=10.0 + extra) == 0.0
    assert b.failures == 1


def test_succeeded_resets_only_after_a_stable_uptime() -> None:
    b = Backoff(stable=10.0)
    for _ in range(5):
        b.failed(0.0)
    b.succeeded(uptime=9.9)
    assert b.failures == 5
    b.succeeded(uptime=10.0)
    assert b.failures == 0
    assert b.failed(0.0) == 0.0


def test_short_uptime_keeps_counting() -> None:
    b = Backoff(stable=10.0)
    b.failed(0.0)
    b.failed(5.0)
    assert b.failures == 2


# -- options ----------------------------------------------------------------------------


def _options(**changes: object) -> Options:
    values: dict[str, object] = {"app": "main:app", "workers": 2, **changes}
    return Options(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"app": "main"}, "MODULE:APP"),
        ({"app": ":app"}, "MODULE:APP"),
        ({"app": "main:"}, "MODULE:APP"),
        ({"workers": 0}, "workers"),
        ({"port": -1}, "port"),
        ({"port": 65536}, "port"),
        ({"timeout": 0.0}, "timeout"),
        ({"graceful_timeout": -1.0}, "graceful_timeout"),
        ({"ready_timeout": math.inf}, "ready_timeout"),
        ({"timeout": math.nan}, "timeout"),
        ({"max_memory": 0}, "max_memory"),
        ({"max_requests": 0}, "max_requests"),
        ({"max_requests_jitter": -1}, "max_requests_jitter"),
        ({"start_tries": 0}, "start_tries"),
        ({"socket_model": "fd"}, "socket_model"),
        ({"socket_model": "reuseport", "uds": "/tmp/x.sock"}, "reuseport"),
    ],
)
def test_bad_options_name_the_problem(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        _options(**changes)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_timeout_is_accepted_exactly_when_finite_and_at_least_the_minimum(value: float) -> None:
    good = value >= MIN_TIMEOUT and math.isfinite(value)
    if good:
        opts = _options(timeout=value)
        # Several heartbeats per timeout, never more than 2 per second apart.
        assert 0 < opts.beat <= min(0.5, value / 4)
    else:
        with pytest.raises(ValueError, match="timeout"):
            _options(timeout=value)


@given(st.integers(-5, 70_000))
def test_port_range(port: int) -> None:
    if 0 <= port <= 65535:
        assert _options(port=port).port == port
    else:
        with pytest.raises(ValueError, match="port"):
            _options(port=port)


# -- hung reports (what a worker sends before --timeout kills it) -----------------------


def _block_here(seconds: float) -> None:
    time.sleep(seconds)


def test_a_block_in_progress_is_reported_with_its_stack_while_it_lasts() -> None:
    hung: list[tuple[float, BlockReport]] = []

    async def main() -> float:
        watch = LoopWatch(
            threshold=0.05,
            hung_after=0.2,
            log=False,
            on_hung=lambda r: hung.append((time.monotonic(), r)),
        )
        watch.start()
        try:
            await asyncio.sleep(0.05)
            _block_here(0.8)
            ended = time.monotonic()
            await asyncio.sleep(0.05)
        finally:
            watch.stop()
        return ended

    ended = asyncio.run(main())
    assert len(hung) == 1
    at, report = hung[0]
    assert at < ended  # sent during the block, not after it
    assert report.duration >= 0.2
    assert "_block_here" in report.function
    assert "time.sleep(seconds)" in report.stack


# -- the supervisor's stderr ------------------------------------------------------------


def _read_all(fd: int, sink: Sink) -> bytes:
    got = bytearray()
    os.set_blocking(fd, False)
    deadline = time.monotonic() + 10
    while sink.pending and time.monotonic() < deadline:
        sink.flush()
        with contextlib.suppress(BlockingIOError):
            got += os.read(fd, 1 << 16)
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 1 << 16):
            got += chunk
    return bytes(got)


def test_sink_never_blocks_on_a_pipe_nobody_reads_and_keeps_the_order() -> None:
    r, w = os.pipe()
    with os.fdopen(w, "w") as stream:
        sink = Sink(stream)
        lines = [f"{i:06d} " + "x" * 1000 + "\n" for i in range(300)]  # ~300 KB > a pipe
        for line in lines:
            sink.write(line)  # would block at ~64 KB with a plain write
        assert sink.pending > 0
        got = _read_all(r, sink)
        sink.detach()
    os.close(r)
    assert got.decode() == "".join(lines)


def test_sink_drops_past_its_limit_and_says_how_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("offload._cluster._output._PENDING_LIMIT", 200_000)
    r, w = os.pipe()
    with os.fdopen(w, "w") as stream:
        sink = Sink(stream)
        for _ in range(400):
            sink.write("y" * 999 + "\n")
        got = _read_all(r, sink).decode()
        sink.detach()
    os.close(r)
    kept = got.count("y" * 999 + "\n")
    assert 60 < kept < 400
    assert f"[cluster] {400 - kept} lines of output dropped" in got


# -- the command line is serve()'s keywords ----------------------------------------------


def test_every_keyword_of_serve_is_an_option_of_the_command_with_its_default() -> None:
    parser, _ = _build_parser()
    args = parser.parse_args(["cluster", "main:app"])
    keywords = {
        p.name: p.default
        for p in inspect.signature(serve).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert keywords  # (the command passes exactly these)
    for name, default in keywords.items():
        assert getattr(args, name) == default, name
