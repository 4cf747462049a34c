"""A pytest plugin that fails async tests whose event loop was blocked too long.

Enabled by ``--offload-max-block=SECONDS`` (or the ``offload_max_block`` ini option) for
every async test, or per test with ``@pytest.mark.offload_max_block(SECONDS)``; the
marker wins, and ``@pytest.mark.offload_max_block(None)`` turns the check off for one
test. The test's coroutine runs inside ``offload.monitor.watch()``; a block longer than
the limit fails the test with :class:`offload.LoopBlocked` naming the blocking function.

Registered through the ``pytest11`` entry point, so it loads with pytest; it imports
nothing from offload until a limit is in force.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Coroutine, Generator
from typing import Any

import pytest

_MARKER = "offload_max_block"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("offload", "offload: keep the event loop free")
    group.addoption(
        "--offload-max-block",
        type=float,
        default=None,
        metavar="SECONDS",
        help="fail async tests whose event loop is blocked longer than SECONDS",
    )
    parser.addini(
        _MARKER,
        "fail async tests whose event loop is blocked longer than this many seconds",
        default=None,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(seconds): fail this async test if its event loop is blocked longer "
        "than seconds (None: do not check)",
    )


def _limit(item: pytest.Item) -> float | None:
    marker = item.get_closest_marker(_MARKER)
    if marker is not None:
        value = marker.args[0] if marker.args else marker.kwargs.get("seconds")
        return None if value is None else float(value)
    option = item.config.getoption("--offload-max-block")
    if option is not None:
        return float(option)
    ini = item.config.getini(_MARKER)
    return float(ini) if ini else None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    function = getattr(item, "obj", None)
    limit = _limit(item)
    if limit is None or not inspect.iscoroutinefunction(function):
        return (yield)
    if not limit > 0:
        raise pytest.UsageError(f"{_MARKER} needs a positive number of seconds, got {limit}")
    item.obj = _watched(function, limit)  # type: ignore[attr-defined]
    try:
        return (yield)
    finally:
        item.obj = function  # type: ignore[attr-defined]


def _watched(
    function: Callable[..., Coroutine[Any, Any, object]], limit: float
) -> Callable[..., Coroutine[Any, Any, object]]:
    from ._errors import LoopBlocked
    from ._monitor import monitor

    @functools.wraps(function)
    async def run(*args: object, **kwargs: object) -> object:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # another async library (trio through anyio): not ours to watch
            return await function(*args, **kwargs)
        watch = monitor.watch(threshold=limit, resolution=min(0.01, limit / 5), log=False)
        try:
            async with watch:
                result = await function(*args, **kwargs)
        except BaseException as exc:
            for report in watch.blocks:
                exc.add_note(f"offload: {report}")
            raise
        # Without a captured stack the process itself may just not have been scheduled
        # (a loaded CI machine): only a block caught in the act fails the test.
        caught = [report for report in watch.blocks if report.frames]
        if caught:
            worst = max(caught, key=lambda report: report.duration)
            raise LoopBlocked(
                f"the event loop was blocked for {worst.duration * 1e3:.0f} ms "
                f"(limit {limit * 1e3:.0f} ms) in {worst.function}; "
                f"{len(caught)} block(s) in all. Move the blocking work off the "
                "loop (offload.Pool, asyncio.to_thread, offload.interleave), or raise "
                f"the limit with @pytest.mark.{_MARKER}(seconds).\n"
                f"Stack while blocked:\n{worst.stack}"
            )
        return result

    return run
