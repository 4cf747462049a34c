"""SharedLock / SharedCounter: exclusive across processes, released if a holder dies."""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys
import threading

import pytest

import offload

pytestmark = pytest.mark.usefixtures("no_shm_leaks")


ADD_MANY = r"""
import pickle, sys
counter, shared, lock, n = pickle.loads(sys.stdin.buffer.read())
for _ in range(n):
    counter.add(1)
    with lock:  # a read-modify-write of plain shared memory, made safe by the lock
        shared.array[0] += 1
"""


def test_counter_and_lock_are_exact_under_concurrent_processes(no_leaks: None) -> None:
    n, workers = 300, 3
    with (
        offload.SharedCounter() as counter,
        offload.SharedArray(1, "int64") as shared,
    ):
        lock = offload.SharedLock(shared)
        args = pickle.dumps((counter, shared, lock, n))
        procs = [
            subprocess.Popen([sys.executable, "-c", ADD_MANY], stdin=subprocess.PIPE)
            for _ in range(workers)
        ]
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(args)
            proc.stdin.close()
        assert [proc.wait(60) for proc in procs] == [0] * workers
        assert counter.value == n * workers
        assert int(shared.array[0]) == n * workers
        lock.close()


def test_counter_is_exact_under_threads(no_leaks: None) -> None:
    with offload.SharedCounter(10) as counter:

        def work() -> None:
            for _ in range(200):
                counter.add(1)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert counter.value == 10 + 800
        counter.set(-5)
        assert counter.add(2) == -3


TRY_LOCK = r"""
import pickle, sys
lock = pickle.loads(sys.stdin.buffer.read())
sys.exit(0 if lock.acquire(timeout=0.2) else 3)
"""


def try_in_child(lock: offload.SharedLock) -> int:
    done = subprocess.run(
        [sys.executable, "-c", TRY_LOCK], input=pickle.dumps(lock), timeout=30, check=False
    )
    return done.returncode


def test_lock_excludes_other_processes_until_released(no_leaks: None) -> None:
    lock = offload.SharedLock()
    try:
        with lock:
            assert try_in_child(lock) == 3
        assert try_in_child(lock) == 0
    finally:
        lock.close()


def test_lock_timeout_and_non_blocking(no_leaks: None) -> None:
    lock = offload.SharedLock()
    other = pickle.loads(pickle.dumps(lock))  # a second handle: its own open file
    try:
        assert lock.acquire()
        result: list[bool] = []
        thread = threading.Thread(target=lambda: result.append(other.acquire(blocking=False)))
        thread.start()
        thread.join()
        assert result == [False]
        assert not other.acquire(timeout=0.05)
        lock.release()
        assert other.acquire(timeout=5)
        other.release()
    finally:
        other.close()
        lock.close()


HOLD = r"""
import pickle, sys, time
lock = pickle.loads(bytes.fromhex(sys.argv[1]))
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_lock_is_released_when_the_holder_is_killed(no_leaks: None) -> None:
    lock = offload.SharedLock()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, pickle.dumps(lock).hex()], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        assert not lock.acquire(timeout=0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert lock.acquire(timeout=10)
        lock.release()
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()
        lock.close()


def test_release_without_acquire_is_an_error(no_leaks: None) -> None:
    lock = offload.SharedLock()
    try:
        with pytest.raises(RuntimeError):
            lock.release()
    finally:
        lock.close()


def test_lock_on_a_closed_buffer_raises(no_leaks: None) -> None:
    shared = offload.SharedBuffer(16)
    lock = offload.SharedLock(shared, index=3)
    shared.close()
    with pytest.raises(offload.ClosedError):
        lock.acquire()
