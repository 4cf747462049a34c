"""A process worker whose parent closed the socket exits quietly; real errors still show.

The parent ends a worker by closing its end of the socket. When it closes with some of
the worker's frames unread (a pool closed right after it started, before it read the
worker's hello), Linux makes the worker's next read fail with ECONNRESET rather than
return EOF, and a write after the close fails with EPIPE. Each case is made here
exactly, in a fresh interpreter that runs the worker's main loop over a socket pair
(the worker ends with ``os._exit``): its status must be 0 and its stderr empty.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="ECONNRESET on a closed AF_UNIX peer is Linux's"
)

_WORKER = r"""
import logging, mmap, os, pickle, socket, sys, threading

import offload
from offload._pool import _kind_process_messages as w
from offload._pool._kind_process_child import worker_main
from offload._serialize import dumps
from offload._wire import frame

parent, child = socket.socketpair()
case = sys.argv[1]
settings = {"log_level": logging.INFO, "shm_root": os.getpid()}


def task():
    parent.close()  # mid-task: the progress value, the log record and the answer go nowhere
    logging.getLogger("task").info("half way")
    offload.report("half way")


def wait_for_hello_then_close():
    parent.recv(1, socket.MSG_PEEK)  # the hello has arrived; it stays unread
    parent.close()


if case == "before hello":
    parent.close()
elif case == "hello unread":
    threading.Thread(target=wait_for_hello_then_close).start()
elif case == "during a task":
    fn = pickle.dumps(task)  # by name: the worker runs in this same process
    payload = w.TASK_HEAD.pack(0, len(fn)) + fn + dumps(((), ()))
    parent.sendall(frame(w.TASK, payload, 1))
elif case == "broken settings":
    del settings["log_level"]
worker_main(child.detach(), mmap.mmap(-1, w.PAGE), settings)
"""


def _run_worker(case: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WORKER, case], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("case", ["before hello", "hello unread", "during a task"])
def test_a_worker_whose_parent_closed_the_socket_exits_quietly(case: str) -> None:
    done = _run_worker(case)
    assert (done.returncode, done.stderr) == (0, "")


def test_a_worker_that_fails_for_another_reason_still_prints_its_traceback() -> None:
    done = _run_worker("broken settings")
    assert done.returncode == 70
    assert "Traceback" in done.stderr
    assert "KeyError: 'log_level'" in done.stderr
