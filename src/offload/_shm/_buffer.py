"""SharedBuffer and SharedArray: memory allocated once and mapped by every task that gets it.

JavaScript's SharedArrayBuffer, for processes. The application creates one; passing it to
tasks pickles only its name, and each worker process maps the segment once (a per-process
cache by name) and views it without a copy. The creating object is the *owner*: the
segment's name is unlinked when the owner is closed, garbage collected, or its process
exits; the application's reaper unlinks it if the process is killed. Copies received by
workers never unlink anything; closing one only drops that process's mapping.

Memory model (the Atomics half lives in ``_lock.py``): every process sees the same
physical pages, so a write is visible to the others as soon as the CPU makes it visible,
with no ordering promise between processes. Writes done before a task returns are visible
to the process that receives the task's result (the pipe is a synchronisation point).
Concurrent read-modify-write (``a[i] += 1``) from several processes loses updates: give
each worker its own slice, or use :class:`offload.SharedLock` / :class:`offload.SharedCounter`.
"""

from __future__ import annotations

import ctypes
import math
import mmap
import os
import threading
import weakref
from typing import Any, Self

from offload._errors import ClosedError

from ._segment import Segment, unlink

__all__ = ["SharedArray", "SharedBuffer"]


# One mapping per segment per process, shared by every object naming it; it lives as
# long as anything views it. _origins lets an array that views it be sent by name.
_by_name: weakref.WeakValueDictionary[str, mmap.mmap] = weakref.WeakValueDictionary()
_origins: weakref.WeakKeyDictionary[mmap.mmap, tuple[str, int, int]] = weakref.WeakKeyDictionary()
_mappings_lock = threading.Lock()


def _register(name: str, size: int, view: memoryview) -> None:
    anchor = ctypes.c_char.from_buffer(view)
    address = ctypes.addressof(anchor)
    del anchor
    with _mappings_lock:
        _by_name[name] = view.obj  # type: ignore[assignment]
        _origins[view.obj] = (name, size, address)  # type: ignore[index]


def _map(name: str, size: int) -> memoryview:
    with _mappings_lock:
        mapping = _by_name.get(name)
    if mapping is not None:
        return memoryview(mapping)
    segment = Segment.attach(name, size)
    view = segment.view()
    segment.close()
    _register(name, size, view)
    return view


def reduce_shared_view(array: Any) -> tuple[Any, ...] | None:
    """Pickle a NumPy array that views a live shared buffer by name, offset and strides.

    None if ``array`` does not view one (it is then pickled the usual way).
    """
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    if base is None:
        return None
    with _mappings_lock:
        origin = _origins.get(base)
    if origin is None:
        return None  # not a shared buffer's memory
    name, size, address = origin
    offset = array.__array_interface__["data"][0] - address
    return (_attach_view, (name, size, offset, array.shape, array.strides, array.dtype))


def _numpy() -> Any:
    """NumPy, or an ImportError that names the extra to install."""
    try:
        import numpy
    except ImportError as exc:
        raise ImportError(
            "SharedArray and SharedBuffer.array need NumPy, which is not installed: "
            "pip install 'offload[numpy]' (or pip install numpy)"
        ) from exc
    return numpy


def _attach_view(name: str, size: int, offset: int, shape: Any, strides: Any, dtype: Any) -> Any:
    numpy = _numpy()

    view = _map(name, size)
    return numpy.ndarray(shape, dtype, buffer=view, offset=offset, strides=strides)


def _unlink_owned(name: str, pid: int) -> None:
    # A forked child inherits the finalizer; only the creating process may unlink.
    if os.getpid() == pid:
        unlink(name)
        # Arrays still viewing it must now travel as copies: the name is gone.
        with _mappings_lock:
            mapping = _by_name.pop(name, None)
            if mapping is not None:
                _origins.pop(mapping, None)


class SharedBuffer:
    """A block of shared memory that tasks in other processes map instead of copying.

    ``buf`` is a writable memoryview; ``array`` a NumPy ``uint8`` view (NumPy needed).
    Pass the buffer itself as a task argument: only its name is sent. The creating
    object owns the memory: :meth:`close` (or the ``with`` block's end, garbage
    collection, process exit) removes it. Raises :class:`offload.SharedMemoryError`
    when the memory cannot be allocated.

    Example::

        with offload.SharedBuffer(1 << 20) as shared:
            shared.buf[:5] = b"hello"
            await pool.run(read_first_bytes, shared)
    """

    __slots__ = ("__weakref__", "_finalizer", "_mapping", "_name", "_owner", "_size")

    def __init__(self, size: int) -> None:
        if not isinstance(size, int) or size <= 0:
            raise ValueError(f"SharedBuffer needs a size in bytes > 0, got {size!r}")
        segment = Segment.create(size)
        self._name = segment.name
        self._size = size
        self._owner = True
        self._mapping: memoryview | None = segment.view()
        segment.close()
        _register(self._name, size, self._mapping)
        self._finalizer: weakref.finalize[[str, int], SharedBuffer] | None = weakref.finalize(
            self, _unlink_owned, self._name, os.getpid()
        )

    @classmethod
    def _attach(cls, name: str, size: int) -> Self:
        self = cls.__new__(cls)
        self._name = name
        self._size = size
        self._owner = False
        self._mapping = _map(name, size)
        self._finalizer = None
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        self._check()
        return (_attach_buffer, (self._name, self._size))

    def _state(self) -> str:
        return "closed" if self._mapping is None else ("owner" if self._owner else "attached")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name} {self._size} bytes {self._state()}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self) -> memoryview:
        if self._mapping is None:
            raise ClosedError(
                f"{type(self).__name__} {self._name} is closed; create a new one or keep "
                "it open while tasks use it"
            )
        return self._mapping

    @property
    def name(self) -> str:
        """The segment's name (``offload-<pid>-...``)."""
        return self._name

    @property
    def size(self) -> int:
        """Size in bytes."""
        return self._size

    @property
    def owner(self) -> bool:
        """True in the object that created the memory (the one that frees it)."""
        return self._owner

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._mapping is None

    @property
    def buf(self) -> memoryview:
        """A writable memoryview of the whole buffer. Raises ClosedError once closed."""
        return self._check()

    @property
    def array(self) -> Any:
        """A NumPy ``uint8`` array viewing the buffer (no copy); needs NumPy."""
        numpy = _numpy()

        return numpy.frombuffer(self.buf, dtype=numpy.uint8)

    def close(self) -> None:
        """Release this object's mapping; the owner also frees the memory (idempotent).

        Arrays and memoryviews already taken from it stay usable until they are gone;
        tasks that have not mapped it yet fail with :class:`offload.SharedMemoryError`.
        """
        self._mapping = None
        if self._finalizer is not None:
            self._finalizer()


def _attach_buffer(name: str, size: int) -> SharedBuffer:
    return SharedBuffer._attach(name, size)


class SharedArray(SharedBuffer):
    """A NumPy array in shared memory: ``shape`` and ``dtype`` as for ``numpy.zeros``.

    ``array`` views the shared memory; passing the SharedArray to tasks sends only its
    name, shape and dtype. Needs NumPy. Raises :class:`offload.SharedMemoryError` when the
    memory cannot be allocated.

    Example::

        with offload.SharedArray((1000, 1000), "float64") as shared:
            shared.array[:] = 1.0
            total = await pool.run(column_sums, shared)
    """

    __slots__ = ("_array", "_dtype", "_shape")

    def __init__(self, shape: int | tuple[int, ...], dtype: Any = "float64") -> None:
        numpy = _numpy()

        self._dtype = numpy.dtype(dtype)
        self._shape = (shape,) if isinstance(shape, int) else tuple(int(n) for n in shape)
        if any(n < 0 for n in self._shape):
            raise ValueError(f"SharedArray needs a shape of sizes >= 0, got {shape!r}")
        super().__init__(max(1, math.prod(self._shape) * self._dtype.itemsize))
        self._array: Any = None

    @classmethod
    def _attach_array(cls, name: str, size: int, shape: tuple[int, ...], dtype: Any) -> SharedArray:
        self = cls._attach(name, size)
        self._shape = shape
        self._dtype = dtype
        self._array = None
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        self._check()
        return (_attach_array, (self._name, self._size, self._shape, self._dtype))

    def __repr__(self) -> str:
        return f"<SharedArray {self._name} shape={self._shape} dtype={self._dtype} {self._state()}>"

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return self._shape

    @property
    def dtype(self) -> Any:
        """The array's NumPy dtype."""
        return self._dtype

    @property
    def array(self) -> Any:
        """The NumPy array viewing the shared memory (no copy)."""
        mapping = self._check()
        if self._array is None:
            numpy = _numpy()

            count = math.prod(self._shape)
            flat = numpy.frombuffer(mapping, dtype=self._dtype, count=count)
            self._array = flat.reshape(self._shape)
        return self._array

    def close(self) -> None:
        """Release this object's mapping; the owner also frees the memory (idempotent)."""
        self._array = None
        super().close()


def _attach_array(name: str, size: int, shape: tuple[int, ...], dtype: Any) -> SharedArray:
    return SharedArray._attach_array(name, size, shape, dtype)
