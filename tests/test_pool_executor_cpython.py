"""CPython's own concurrent.futures tests, run against offload.PoolExecutor.

Nothing of CPython's suite is copied here: its test mixins are imported, at test time,
from the test package of the running Python (``test.test_concurrent_futures``, shipped
with 3.13 builds) or from Debian's ``libpython3.X-testsuite`` for the same version
(``scripts/system-deps.sh`` installs it). Each class below plugs ``PoolExecutor`` into
one of CPython's mixins; tests that read CPython's private attributes, or need
``ProcessPoolExecutor``'s own constructor or error types, are skipped with the reason
listed in ``SKIPPED`` (and in docs/pool.md). The interpreter-exit tests, which start
``concurrent.futures`` executors in a child Python, have offload equivalents in
tests/test_pool_executor.py.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import multiprocessing
import os
import shutil
import sys
import tempfile
import types
import unittest
from typing import Any

import offload

_DEBIAN_SUITE = f"/usr/lib/python3.{sys.version_info.minor}/test/test_concurrent_futures.py"
_PACKAGE_MODULES = (
    "util",
    "executor",
    "test_wait",
    "test_as_completed",
    "test_shutdown",
    "test_init",
    "test_thread_pool",
    "test_process_pool",
)


def _load() -> tuple[list[types.ModuleType], str]:
    """CPython's concurrent.futures test modules for this Python, or why there are none."""
    try:
        spec = importlib.util.find_spec("test.test_concurrent_futures")
    except ImportError:
        spec = None
    if spec is not None:
        if spec.submodule_search_locations is None:  # one module (3.11 and older)
            return [importlib.import_module("test.test_concurrent_futures")], ""
        return [
            importlib.import_module(f"test.test_concurrent_futures.{name}")
            for name in _PACKAGE_MODULES
        ], ""
    if not os.path.exists(_DEBIAN_SUITE):
        return [], (
            f"CPython's concurrent.futures tests for Python 3.{sys.version_info.minor} "
            f"are not installed (no test.test_concurrent_futures, no {_DEBIAN_SUITE}); "
            f"install libpython3.{sys.version_info.minor}-testsuite (make system-deps)"
        )
    # Debian's copy, importable under a name of its own (process workers import the
    # module by that name to find its functions), from a directory holding only it.
    home = tempfile.mkdtemp(prefix="offload-cpython-suite-")
    atexit.register(shutil.rmtree, home, True)
    os.symlink(_DEBIAN_SUITE, os.path.join(home, "cpython_concurrent_futures_tests.py"))
    sys.path.append(home)
    return [importlib.import_module("cpython_concurrent_futures_tests")], ""


_MODULES, _WHY_NOT = _load()


def _find(name: str) -> Any:
    for module in _MODULES:
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"CPython's concurrent.futures tests have no {name}")


# What is skipped, and why: CPython's private internals, or ProcessPoolExecutor's own
# constructor and error types (offload's equivalents are tested in test_pool_*.py).
SKIPPED = {
    "test_default_workers": "reads ThreadPoolExecutor._max_workers (private)",
    "test_saturation": "reads the executor's private _threads/_processes",
    "test_idle_thread_reuse": "reads ThreadPoolExecutor._threads (private)",
    "test_idle_process_reuse_one": "reads ProcessPoolExecutor._processes (private)",
    "test_idle_process_reuse_multiple": "reads ProcessPoolExecutor._processes (private)",
    "test_hang_global_shutdown_lock": (
        "tests ProcessPoolExecutor's private _global_shutdown_lock after fork"
    ),
    "test_killed_child": (
        "reads _processes and expects BrokenProcessPool for every task; offload fails "
        "only the task that was running (WorkerCrashed) and replaces the worker"
    ),
    "test_traceback": (
        "expects the private concurrent.futures.process._RemoteTraceback as __cause__; "
        "offload attaches the worker's traceback as its own cause (tested instead)"
    ),
    "test_max_tasks_per_child": (
        "ProcessPoolExecutor's max_tasks_per_child/mp_context and _processes; "
        "offload's max_tasks_per_worker is tested in test_pool_features.py"
    ),
    "test_max_tasks_per_child_defaults_to_spawn_context": (
        "reads ProcessPoolExecutor._mp_context (private)"
    ),
    "test_max_tasks_early_shutdown": (
        "ProcessPoolExecutor's mp_context/max_tasks_per_child keywords (tested instead "
        "with max_tasks_per_worker)"
    ),
    "test_python_finalization_error": (
        "mocks ProcessPoolExecutor's private thread start and expects BrokenProcessPool"
    ),
    "test_interpreter_shutdown": (
        "starts a concurrent.futures executor in a child Python; the offload "
        "equivalent is in test_pool_executor.py"
    ),
    "test_submit_after_interpreter_shutdown": (
        "starts a concurrent.futures executor in a child Python; the offload "
        "equivalent is in test_pool_executor.py"
    ),
    "test_hang_gh83386": (
        "starts a concurrent.futures executor in a child Python; the offload "
        "equivalent is in test_pool_executor.py"
    ),
}
# Skipped for process workers only: none.
SKIPPED_PROCESS: dict[str, str] = {}
# Skipped for thread workers only: run for process workers, and covered for threads
# by test_executor_map_current_future_cancel (the same executor front, 6 s of sleeps).
SKIPPED_THREAD = {
    "test_map_timeout": "run with process workers; a 6 s sleep",
}
# Not run at all: FailingInitializerMixin (reads the private _broken and expects
# BrokenExecutor; offload fails queued work with WorkerStartFailed and recovers on the
# next submit), ExecutorDeadlockTest (ProcessPoolExecutor's mp_context and
# BrokenProcessPool; offload's crash handling is in test_pool_crash.py), the
# ThreadPool/ProcessPool shutdown classes (they construct concurrent.futures executors
# themselves and read _threads/_processes), and FutureTests (Future itself, not an
# executor).


def _skip_listed(cls: type, extra: dict[str, str] | None = None) -> type:
    for name, reason in {**SKIPPED, **(extra or {})}.items():
        if hasattr(cls, name):
            setattr(cls, name, unittest.skip(reason)(lambda self: None))
    return cls


def _process_executor(max_workers: int | None = None, **options: Any) -> offload.PoolExecutor:
    return offload.PoolExecutor(max_workers, kind="process", **options)


def _thread_executor(max_workers: int | None = None, **options: Any) -> offload.PoolExecutor:
    return offload.PoolExecutor(max_workers, kind="thread", **options)


def _classes() -> dict[str, type]:
    """One TestCase per CPython mixin and worker kind, with PoolExecutor plugged in."""
    if not _MODULES:
        return {}
    executor_mixin = _find("ExecutorMixin")
    base = _find("BaseTestCase")

    class ProcessMixin(executor_mixin):  # type: ignore[misc,valid-type]
        executor_type = staticmethod(_process_executor)

        def get_context(self) -> Any:
            # For tests that need a multiprocessing manager (not for the executor).
            return multiprocessing.get_context("spawn")

    class ThreadMixin(executor_mixin):  # type: ignore[misc,valid-type]
        executor_type = staticmethod(_thread_executor)

    class PrimedShutdown:
        """A started worker first: shutdown tests expect some work to be running.

        CPython's test_cancel_futures asserts that some of 50 queued calls were not
        cancelled; offload starts its workers on demand, so a cold pool given
        shutdown(cancel_futures=True) at once rightly cancels them all.
        """

        executor: offload.PoolExecutor

        def setUp(self) -> None:
            super().setUp()  # type: ignore[misc]
            self.executor.submit(int).result()

    primed = (PrimedShutdown, _find("ExecutorShutdownTest"))
    initializer = _find("InitializerMixin")
    # (name, first bases, kind, last bases, extra skips). ExecutorTest runs through
    # ThreadPoolExecutorTest and ProcessPoolExecutorTest, which add their own public
    # tests. Wait and AsCompleted (futures' states seen by wait/as_completed, mostly
    # timed sleeps) run once, with threads: the executor front is the same for both
    # kinds, and a process pool per test would double the suite's time.
    plan: list[tuple[str, tuple[type, ...], type, tuple[type, ...], dict[str, str]]] = [
        (
            "TestProcessExecutor",
            (),
            ProcessMixin,
            (_find("ProcessPoolExecutorTest"), base),
            {**SKIPPED_PROCESS},
        ),
        ("TestProcessShutdown", primed[:1], ProcessMixin, (primed[1], base), {}),
        ("TestProcessInitializer", (initializer,), ProcessMixin, (base,), {}),
        (
            "TestThreadExecutor",
            (),
            ThreadMixin,
            (_find("ThreadPoolExecutorTest"),),
            {**SKIPPED_THREAD},
        ),
        ("TestThreadShutdown", primed[:1], ThreadMixin, (primed[1], base), {}),
        ("TestThreadInitializer", (initializer,), ThreadMixin, (base,), {}),
        ("TestThreadWait", (), ThreadMixin, (_find("WaitTests"), base), {}),
        ("TestThreadAsCompleted", (), ThreadMixin, (_find("AsCompletedTests"), base), {}),
    ]
    made: dict[str, type] = {}
    for name, first, kind, last, skips in plan:
        made[name] = _skip_listed(type(name, (*first, kind, *last), {}), skips)
    return made


globals().update(_classes())


if _WHY_NOT:

    class TestCPythonSuite(unittest.TestCase):
        def test_cpython_suite_is_installed(self) -> None:
            self.skipTest(_WHY_NOT)
