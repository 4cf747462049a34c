"""SharedLock and SharedCounter: safe updates of shared memory from several processes.

JavaScript's Atomics, for processes. Pure Python has no atomic instructions on shared
memory, so the lock is an open-file-description (OFD) byte-range lock (``fcntl``
``F_OFD_SETLKW``) on the shared segment's file:

* it works between any processes that can open the segment (workers, forked children);
* the kernel drops it when the holder dies, so a crashed worker never leaves it held
  (a POSIX semaphore would stay taken forever);
* unlike classic ``lockf`` locks it is not released by closing some other descriptor of
  the same file, and it does not need the multiprocessing resource tracker.

Each process opens the segment once per lock object; a ``threading.Lock`` serialises
threads of one process, because the kernel lock is owned by the open file, not the
thread. Acquiring costs a system call (a few microseconds): fine around a block of
updates, too slow for per-element locking of a big array.

Memory model: acquire and release are system calls, which are full memory barriers.
Everything a process wrote to shared memory before ``release()`` is visible to the next
process that returns from ``acquire()``. Without the lock, reads and writes of shared
memory are unordered between processes and read-modify-write sequences lose updates.
"""

from __future__ import annotations

import _posixshmem  # type: ignore[import-not-found]
import ctypes
import errno
import fcntl
import os
import struct
import threading
import time
import weakref
from typing import Any

from offload._closeable import Closeable
from offload._errors import ClosedError, SharedMemoryError

from ._buffer import SharedBuffer

__all__ = ["SharedCounter", "SharedLock"]


class _Flock(ctypes.Structure):
    _fields_ = (
        ("l_type", ctypes.c_short),
        ("l_whence", ctypes.c_short),
        ("l_start", ctypes.c_int64),
        ("l_len", ctypes.c_int64),
        ("l_pid", ctypes.c_int32),
    )


def _flock(kind: int, index: int) -> bytes:
    # l_pid must be 0 for OFD locks.
    return bytes(_Flock(kind, os.SEEK_SET, index, 1, 0))


def _close_fd(fd: int) -> None:
    os.close(fd)


class SharedLock:
    """A lock that works across processes, on shared memory (safe if a holder crashes).

    Create it in the application and pass it to tasks with the data it protects; use it
    as a context manager in task code. It blocks, so use it in worker code, not in the
    event loop. Several locks can live on one :class:`offload.SharedBuffer` (``index``).
    Using a closed lock raises :class:`offload.ClosedError`; failing to create its
    memory raises :class:`offload.SharedMemoryError`.

    Example::

        def add_row(shared, lock, row):
            with lock:
                shared.array[0] += row

        lock = offload.SharedLock()
        await asyncio.gather(*(pool.run(add_row, shared, lock, r) for r in rows))
    """

    __slots__ = ("__weakref__", "_buffer", "_fd", "_finalizer", "_index", "_owns", "_thread_lock")

    def __init__(self, buffer: SharedBuffer | None = None, index: int = 0) -> None:
        if index < 0:
            raise ValueError(f"SharedLock index must be >= 0, got {index}")
        self._owns = buffer is None
        self._buffer = SharedBuffer(1) if buffer is None else buffer
        self._index = index
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._finalizer: Any = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (SharedLock, (self._buffer, self._index))

    def __repr__(self) -> str:
        return f"<SharedLock {self._buffer.name}[{self._index}]>"

    @property
    def buffer(self) -> SharedBuffer:
        """The shared buffer the lock lives on."""
        return self._buffer

    def _file(self) -> int:
        if self._fd is None:
            if self._buffer.closed:
                raise ClosedError(f"the SharedBuffer of {self!r} is closed")
            try:
                fd = _posixshmem.shm_open("/" + self._buffer.name, os.O_RDWR, 0o600)
            except OSError as exc:
                raise SharedMemoryError(
                    f"could not open {self._buffer.name} for locking: {exc}; keep the "
                    "lock's owner alive while tasks use it"
                ) from exc
            self._fd = fd
            self._finalizer = weakref.finalize(self, _close_fd, fd)
        return self._fd

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock; return False if ``blocking`` is False or ``timeout`` runs out.

        Example::

            if lock.acquire(timeout=1.0):
                try: ...
                finally: lock.release()
        """
        if not self._thread_lock.acquire(blocking, timeout):
            return False
        try:
            fd = self._file()
            if blocking and timeout < 0:
                fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, _flock(fcntl.F_WRLCK, self._index))
                return True
            deadline = time.monotonic() + max(0.0, timeout)
            pause = 0.0002
            while True:
                try:
                    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_WRLCK, self._index))
                    return True
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                if not blocking or time.monotonic() >= deadline:
                    self._thread_lock.release()
                    return False
                time.sleep(pause)
                pause = min(pause * 2, 0.01)
        except BaseException:
            if self._thread_lock.locked():
                self._thread_lock.release()
            raise

    def release(self) -> None:
        """Release the lock (must be held by this process)."""
        if self._fd is None:
            raise RuntimeError("release() of a SharedLock that is not held")
        fcntl.fcntl(self._fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_UNLCK, self._index))
        self._thread_lock.release()

    def __enter__(self) -> SharedLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def close(self) -> None:
        """Close this process's handle; a lock that made its own buffer also frees it."""
        if self._finalizer is not None:
            self._finalizer()
        self._fd = None
        if self._owns:
            self._buffer.close()


class SharedCounter(Closeable):
    """A 64-bit integer in shared memory that several processes update safely.

    Raises :class:`offload.SharedMemoryError` when its memory cannot be created, and
    ``struct.error`` when a value leaves the signed 64-bit range.

    Example::

        counter = offload.SharedCounter()
        await asyncio.gather(*(pool.run(count_one, counter) for _ in range(100)))
        assert counter.value == 100

        def count_one(counter):
            counter.add(1)
    """

    __slots__ = ("_buffer", "_lock")

    def __init__(self, initial: int = 0) -> None:
        self._buffer = SharedBuffer(8)
        self._lock = SharedLock(self._buffer)
        struct.pack_into("<q", self._buffer.buf, 0, initial)

    @classmethod
    def _attach(cls, lock: SharedLock) -> SharedCounter:
        self = cls.__new__(cls)
        self._lock = lock
        self._buffer = lock.buffer
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_attach_counter, (self._lock,))

    def __repr__(self) -> str:
        return f"<SharedCounter {self._buffer.name}>"

    def add(self, delta: int = 1) -> int:
        """Add ``delta`` atomically and return the new value."""
        with self._lock:
            value: int = struct.unpack_from("<q", self._buffer.buf, 0)[0] + delta
            struct.pack_into("<q", self._buffer.buf, 0, value)
        return value

    @property
    def value(self) -> int:
        """The current value."""
        with self._lock:
            value: int = struct.unpack_from("<q", self._buffer.buf, 0)[0]
        return value

    def set(self, value: int) -> None:
        """Set the value."""
        with self._lock:
            struct.pack_into("<q", self._buffer.buf, 0, value)

    def close(self) -> None:
        """Close this process's handles; the creating object also frees the memory."""
        self._lock.close()
        self._buffer.close()


def _attach_counter(lock: SharedLock) -> SharedCounter:
    return SharedCounter._attach(lock)
