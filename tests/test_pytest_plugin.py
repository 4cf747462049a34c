"""The pytest plugin: --offload-max-block and the offload_max_block marker."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

TESTS = """
import asyncio
import time

import pytest


def slow_query():
    time.sleep(0.3)


async def test_blocking():
    await asyncio.sleep(0)
    slow_query()


async def test_clean():
    await asyncio.sleep(0.05)


def test_sync_code_is_not_checked():
    time.sleep(0.3)


@pytest.mark.offload_max_block(None)
async def test_opted_out():
    slow_query()


@pytest.mark.offload_max_block(1.0)
async def test_within_its_own_limit():
    slow_query()
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(test_app=TESTS)
    return pytester


def test_the_option_fails_a_blocking_test_naming_the_function(project: pytest.Pytester) -> None:
    result = project.runpytest("--offload-max-block=0.1", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*LoopBlocked: the event loop was blocked for * ms (limit 100 ms) in slow_query*",
            "*FAILED test_app.py::test_blocking*",
        ]
    )


def test_without_a_limit_nothing_is_checked(project: pytest.Pytester) -> None:
    project.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=5)


def test_the_marker_alone_sets_a_limit(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(
        test_marked="""
        import time
        import pytest

        @pytest.mark.offload_max_block(0.05)
        async def test_marked():
            time.sleep(0.2)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*LoopBlocked*test_marked*"])


def test_the_ini_option_sets_a_limit(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "offload_max_block = 0.05\n"
    )
    pytester.makepyfile(
        test_ini="""
        import time

        async def test_blocks():
            time.sleep(0.2)
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(failed=1)


def test_a_failing_test_keeps_its_own_error_and_gets_a_note(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(
        test_fails="""
        import time

        async def test_fails():
            time.sleep(0.2)
            assert 1 == 2
        """
    )
    result = pytester.runpytest("--offload-max-block=0.05", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 1 == 2*", "*offload: event loop blocked for*"])
