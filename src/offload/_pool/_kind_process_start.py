"""The thread that starts template processes, so that the event loop never waits for one.

``subprocess.Popen`` returns only once the child has exec'd (it reads its error pipe until
then), which on a busy machine takes hundreds of milliseconds. A process backend
therefore makes the control socket on the loop, queues its messages in it, and hands only
the ``Popen`` call to this thread; the result comes back to the loop with
``call_soon_threadsafe``::

    event loop ── socketpair, INIT/SPAWN queued ──> job ──> starter thread: Popen
        ▲                                                         │
        └──────────── call_soon_threadsafe(started or failed) ────┘

One thread per process, started on first use and never ended: Linux sends the parent
death signal (a template asks for SIGKILL) when the *thread* that forked the child ends,
not the process, so a short-lived thread would take its template with it. A child made by
``os.fork`` starts its own thread when it needs one.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable

__all__ = ["ensure_running", "submit"]

_lock = threading.Lock()
_jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
_thread: threading.Thread | None = None


def submit(job: Callable[[], None]) -> None:
    """Run ``job`` on the starter thread (after the jobs before it). ``job`` must catch
    its own errors. Raises RuntimeError if no thread can be started (interpreter exit)."""
    with _lock:
        _ensure_running_locked()
        _jobs.put(job)


def ensure_running() -> None:
    """Start the starter thread now if it is not running (it lives as long as the
    process): for callers that count threads before and after."""
    with _lock:
        _ensure_running_locked()


def _ensure_running_locked() -> None:
    global _thread
    if _thread is None or not _thread.is_alive():
        thread = threading.Thread(target=_serve, name="offload-template-starter", daemon=True)
        thread.start()
        _thread = thread


def _serve() -> None:
    while True:
        job = _jobs.get()
        try:
            job()
        except BaseException:  # a job reports its own errors; the thread lives on
            continue


def _after_fork_in_child() -> None:
    global _lock, _jobs, _thread
    _lock = threading.Lock()
    _jobs = queue.SimpleQueue()
    _thread = None


os.register_at_fork(after_in_child=_after_fork_in_child)
