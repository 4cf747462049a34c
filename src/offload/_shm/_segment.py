"""POSIX shared-memory segments: create, map, unlink, and find the ones a process left.

Segments are files in ``/dev/shm`` named ``offload-<root>-<creator>-<n>-<random>``:

* ``root`` is the pid of the process that owns the whole tree (the application process
  that created the pool; workers are told it with :func:`set_root`), so one glob finds
  every segment of a dead application;
* ``creator`` is the pid of the process that made the segment, so the segments of one
  dead worker can be found too.

``multiprocessing.shared_memory`` is not used: on Python < 3.13 it registers every
segment with the resource tracker, which starts a tracker process and unlinks (and warns
about) segments that another process is meant to own. offload tracks ownership itself.

Space is reserved with ``posix_fallocate`` when a segment is created: on tmpfs a
``ftruncate``-only segment is sparse, and running out of memory would then kill the
writer with SIGBUS half-way through a copy. Reserving first turns that into a clean
:class:`offload.SharedMemoryError` before anything is written.

A :class:`Segment` maps the file once. Closing it only drops this object's reference to
the mapping: the memory stays mapped while any memoryview or NumPy array still views it,
and is unmapped (with its file descriptor closed) when the last of them is gone.

If the application is killed, its reaper (:mod:`offload._reaper`) deletes every
``offload-<root>-*`` segment: the first segment a root process creates tells it to.
"""

from __future__ import annotations

import _posixshmem  # type: ignore[import-not-found]
import contextlib
import glob
import itertools
import mmap
import os
import secrets
import sys
import threading

from offload import _reaper
from offload._errors import SharedMemoryError

__all__ = [
    "PREFIX",
    "Segment",
    "cleanup",
    "list_segments",
    "path_prefix",
    "root_pid",
    "set_root",
    "unlink",
]

PREFIX = "offload-"
_SHM_DIR = "/dev/shm"

_root = os.getpid()
_counter = itertools.count()
_lock = threading.Lock()


def root_pid() -> int:
    """The pid whose prefix new segments carry (this process unless :func:`set_root`)."""
    return _root


def path_prefix(root: int | None = None) -> str:
    """The path every segment of application ``root`` (default: this one) starts with."""
    return f"{_SHM_DIR}/{PREFIX}{_root if root is None else root}-"


def set_root(pid: int) -> None:
    """Name new segments after ``pid``: a worker calls this with its application's pid."""
    global _root
    _root = pid


def _new_name() -> str:
    with _lock:
        n = next(_counter)
    return f"{PREFIX}{_root}-{os.getpid()}-{n}-{secrets.token_hex(4)}"


def _map(fd: int, size: int) -> mmap.mmap:
    if sys.version_info >= (3, 13):
        # Without trackfd the mapping keeps no duplicate descriptor open.
        return mmap.mmap(fd, size, trackfd=False)
    return mmap.mmap(fd, size)


class Segment:
    """One mapped shared-memory segment.

    Example::

        seg = Segment.create(1 << 20)
        seg.view()[:5] = b"hello"
        other = Segment.attach(seg.name)   # in any process
        seg.unlink()
    """

    __slots__ = ("_mmap", "name", "size")

    def __init__(self, name: str, size: int, mapping: mmap.mmap) -> None:
        self.name = name
        self.size = size
        self._mmap: mmap.mmap | None = mapping

    def __repr__(self) -> str:
        state = "mapped" if self._mmap is not None else "closed"
        return f"<Segment {self.name} {self.size} bytes {state}>"

    @classmethod
    def create(cls, size: int) -> Segment:
        """Create, reserve and map a new segment of ``size`` bytes (> 0).

        Raises :class:`offload.SharedMemoryError` when the space is not there.
        """
        if size <= 0:
            raise ValueError(f"a shared-memory segment needs size > 0, got {size}")
        name = _new_name()
        try:
            fd = _posixshmem.shm_open("/" + name, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        except OSError as exc:
            raise SharedMemoryError(
                f"could not create a shared-memory segment of {size} bytes: {exc}; "
                f"check that {_SHM_DIR} exists and is writable"
            ) from exc
        try:
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError as exc:
                raise SharedMemoryError(
                    f"not enough shared memory for {size} bytes ({exc.strerror}); "
                    f"free space in {_SHM_DIR} (df -h {_SHM_DIR}) or send less data"
                ) from exc
            try:
                mapping = _map(fd, size)
            except OSError as exc:
                raise SharedMemoryError(
                    f"could not map a shared-memory segment of {size} bytes: {exc}"
                ) from exc
        except BaseException:
            unlink(name)
            raise
        finally:
            os.close(fd)
        if _root == os.getpid():
            # The reaper deletes this application's segments if it is killed.
            _reaper.remove_at_death(path_prefix())
        return cls(name, size, mapping)

    @classmethod
    def attach(cls, name: str, size: int | None = None) -> Segment:
        """Map an existing segment by name (its whole size unless ``size`` is given).

        Raises :class:`offload.SharedMemoryError` if it no longer exists.
        """
        try:
            fd = _posixshmem.shm_open("/" + name, os.O_RDWR, 0o600)
        except FileNotFoundError as exc:
            raise SharedMemoryError(
                f"shared-memory segment {name} no longer exists: its owner closed it or "
                "exited before this process could map it; keep the owner alive until "
                "every task that uses it is done"
            ) from exc
        except OSError as exc:
            raise SharedMemoryError(f"could not open shared-memory segment {name}: {exc}") from exc
        try:
            if size is None:
                size = os.fstat(fd).st_size
            try:
                mapping = _map(fd, size)
            except (OSError, ValueError) as exc:
                raise SharedMemoryError(
                    f"could not map shared-memory segment {name} ({size} bytes): {exc}"
                ) from exc
        finally:
            os.close(fd)
        return cls(name, size, mapping)

    def view(self) -> memoryview:
        """A writable memoryview of the whole segment (keeps the mapping alive)."""
        if self._mmap is None:
            raise ValueError(f"segment {self.name} is closed")
        return memoryview(self._mmap)

    def close(self) -> None:
        """Drop this object's mapping; views taken from it keep the memory mapped."""
        self._mmap = None

    def unlink(self) -> None:
        """Remove the name; mappings already made stay valid until they are closed."""
        unlink(self.name)


def unlink(name: str) -> bool:
    """Remove the segment ``name``; return False if it was already gone."""
    try:
        _posixshmem.shm_unlink("/" + name)
    except FileNotFoundError:
        return False
    return True


def list_segments(root: int | None = None, creator: int | None = None) -> list[str]:
    """Names of offload segments in /dev/shm, optionally only of one root / creator pid."""
    pattern = PREFIX
    if root is not None:
        pattern += f"{root}-"
        if creator is not None:
            pattern += f"{creator}-"
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(_SHM_DIR, pattern + "*")))


def cleanup(root: int, creator: int | None = None) -> int:
    """Unlink every segment of ``root`` (or only those ``creator`` made); return the count.

    Called for a dead worker by the pool (the reaper removes a dead application's).
    """
    removed = 0
    for name in list_segments(root, creator):
        with contextlib.suppress(OSError):
            removed += unlink(name)
    return removed
