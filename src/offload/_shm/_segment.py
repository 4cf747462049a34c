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

Warm segments (:class:`Recycler`, :func:`mapped`): creating a segment costs far more than
copying into one that is already reserved and mapped (the kernel allocates and zeroes
every page, then faults each into both processes, then frees them all again). Messages
whose buffers the receiver copies out (``bytes``, ``bytearray``) therefore go through
segments that stay: the sender keeps a few *free* ones mapped and lends one per message;
the receiver keeps its own mapping of the name (:func:`mapped`) and owns no view into it
once it has copied out. A lent segment is free again only when the sender knows the
receiver is done with it (see :mod:`._codec`). A segment given up (too many kept, pool
closed) is truncated to nothing before its name goes, so mappings the receivers still
keep cost no memory; such names never appear in a message again. Messages with NumPy
arrays or memoryviews, whose views live on in the receiver, never use them.
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
import time
import weakref
from collections import OrderedDict

from offload import _reaper
from offload._errors import SharedMemoryError

__all__ = [
    "PREFIX",
    "Recycler",
    "Segment",
    "cleanup",
    "discard",
    "forget_mapped",
    "list_segments",
    "mapped",
    "note_return",
    "path_prefix",
    "root_pid",
    "set_root",
    "take_returns",
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


def discard(name: str) -> None:
    """Free a kept segment's memory at once, then remove its name.

    Other processes may still map it (a receiver keeps its mapping of a warm segment):
    truncating first frees the pages anyway. Only for segments nobody views any more.
    """
    try:
        fd = _posixshmem.shm_open("/" + name, os.O_RDWR, 0o600)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)
        unlink(name)


def _creator(name: str) -> int | None:
    """The creator pid in a segment name (``offload-<root>-<creator>-...``)."""
    parts = name.split("-", 3)
    try:
        return int(parts[2])
    except (IndexError, ValueError):
        return None


# -- warm segments: the sender's side ---------------------------------------------------

# A free segment fits a message of n bytes if its size is between n and n * _FIT.
_FIT = 2
# New warm segments are rounded up to a multiple of this (small size changes still fit).
_GRAIN = 1 << 20


def _release_all(free: list[Segment], lent: dict[str, Segment]) -> None:
    for segment in free:
        discard(segment.name)
        segment.close()
    for segment in lent.values():
        # A receiver may still be reading it: only the name goes (no truncation, which
        # would make that read fault); the memory goes with the last mapping.
        unlink(segment.name)
        segment.close()
    free.clear()
    lent.clear()


class Recycler:
    """The warm segments one sender lends to its receivers.

    ``take(n)`` lends a free segment of at least ``n`` bytes (mapped, its pages already
    in place) or creates one; ``give_back(name)`` makes it free again once the receiver
    no longer reads it. At most ``keep`` free segments of ``keep_bytes`` in all stay,
    each for at most ``max_idle`` seconds after its last use (checked whenever one is
    taken or given back); the rest are discarded. ``clear()`` discards the free ones and
    unlinks the lent ones (their receivers are gone or about to be). What is still here
    when the recycler is garbage-collected or the process exits goes the same way.

    Example::

        recycler = Recycler()
        seg = recycler.take(1 << 20)
        seg.view()[:5] = b"hello"
        recycler.give_back(seg.name)   # the receiver copied it out
        recycler.clear()
    """

    def __init__(self, keep: int = 2, keep_bytes: int = 256 << 20, max_idle: float = 30.0) -> None:
        self.keep = keep
        self.keep_bytes = keep_bytes
        self.max_idle = max_idle
        self._free: list[Segment] = []  # most recently used last
        self._used: dict[str, float] = {}  # name -> when it was last given back
        self._lent: dict[str, Segment] = {}
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _release_all, self._free, self._lent)

    def __repr__(self) -> str:
        return f"<Recycler {len(self._free)} free, {len(self._lent)} lent>"

    def names(self) -> set[str]:
        """The names of the segments kept here, free or lent."""
        with self._lock:
            return {segment.name for segment in self._free} | set(self._lent)

    def take(self, size: int) -> Segment:
        """Lend a warm segment of at least ``size`` bytes, creating one if none fits.

        Raises :class:`offload.SharedMemoryError` when no space can be had, even after
        giving up the free segments.
        """
        with self._lock:
            self._trim(time.monotonic())
            best = None
            for segment in self._free:
                if size <= segment.size <= size * _FIT and (
                    best is None or segment.size < best.size
                ):
                    best = segment
            if best is not None:
                self._free.remove(best)
                self._lent[best.name] = best
                return best
        rounded = -(-size // _GRAIN) * _GRAIN
        try:
            segment = Segment.create(rounded)
        except SharedMemoryError:
            # Space we keep may be what is missing: give it up and try once more.
            self._drop_free()
            segment = Segment.create(rounded)
        with self._lock:
            self._lent[segment.name] = segment
        return segment

    def give_back(self, name: str) -> None:
        """The receiver no longer reads ``name``: keep it for the next message (or not)."""
        now = time.monotonic()
        with self._lock:
            segment = self._lent.pop(name, None)
            if segment is None:
                return
            self._free.append(segment)
            self._used[name] = now
            self._trim(now)

    def discard(self, name: str) -> None:
        """Give up a lent segment whose receiver may still view it: only unlink it."""
        with self._lock:
            segment = self._lent.pop(name, None)
        unlink(name)
        if segment is not None:
            segment.close()

    def clear(self) -> None:
        """Discard the free segments; unlink the lent ones."""
        with self._lock:
            free, lent = list(self._free), dict(self._lent)
            self._free.clear()
            self._lent.clear()
            self._used.clear()
        _release_all(free, lent)

    def _drop_free(self) -> None:
        with self._lock:
            free = list(self._free)
            self._free.clear()
            self._used.clear()
        _release_all(free, {})

    def _trim(self, now: float) -> None:
        """Discard the least recently used free segments beyond the limits (lock held)."""
        free = self._free
        while free and (
            len(free) > self.keep
            or sum(s.size for s in free) > self.keep_bytes
            or now - self._used.get(free[0].name, now) > self.max_idle
        ):
            segment = free.pop(0)
            self._used.pop(segment.name, None)
            discard(segment.name)
            segment.close()


# -- warm segments: the receiver's side -------------------------------------------------

# Mappings of warm segments this process received, by name, least recently used first.
_MAPPED_MAX = 8
_mapped: OrderedDict[str, Segment] = OrderedDict()


def mapped(name: str) -> Segment:
    """This process's mapping of the warm segment ``name``, made on first use and kept.

    Raises :class:`offload.SharedMemoryError` if it no longer exists.
    """
    with _lock:
        segment = _mapped.get(name)
        if segment is not None:
            _mapped.move_to_end(name)
            return segment
    segment = Segment.attach(name)
    with _lock:
        _mapped[name] = segment
        while len(_mapped) > _MAPPED_MAX:
            _mapped.popitem(last=False)[1].close()
    return segment


# Warm segments of worker processes the application has finished reading, by creator
# pid: handed back to that worker with its next task frame (see _codec.add_returns).
_returns: dict[int, list[str]] = {}


def note_return(creator: int, name: str) -> None:
    """``name``, made by process ``creator``, is read: hand it back with the next frame."""
    with _lock:
        _returns.setdefault(creator, []).append(name)


def take_returns(creator: int) -> list[str] | None:
    """The names to hand back to ``creator`` now (None if there are none)."""
    if not _returns:
        return None
    with _lock:
        return _returns.pop(creator, None)


def forget_mapped(creator: int | None = None) -> None:
    """Drop kept mappings (of segments ``creator`` made, or all)."""
    with _lock:
        for name in list(_mapped):
            if creator is None or _creator(name) == creator:
                _mapped.pop(name).close()


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

    Called for a dead worker by the pool (the reaper removes a dead application's); the
    mappings kept of that worker's warm segments go too.
    """
    if creator is not None:
        forget_mapped(creator)
        with _lock:
            _returns.pop(creator, None)
    removed = 0
    for name in list_segments(root, creator):
        with contextlib.suppress(OSError):
            removed += unlink(name)
    return removed
