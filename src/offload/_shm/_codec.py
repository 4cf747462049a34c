"""The codec: large buffers of a message travel through one shared-memory segment.

Pickle protocol 5 lets a pickler hand buffers to a callback instead of copying them into
the pickle stream ("out of band"). The codec uses that to move every buffer at or above a
threshold (1 MiB by default, ``OFFLOAD_SHM_THRESHOLD`` bytes in the environment, ``0``
turns the automatic part off) into a single segment per message, and sends only the
small pickle plus a short descriptor (segment name, offsets, lengths) through the pipe::

    sender                                        receiver
    ------                                        --------
    encode(obj)
      prepare(): big bytes / bytearray /
        memoryview / transfer() values get
        a wrapper that pickles a PickleBuffer
      dumps(..., buffer_callback=sink)
        small buffers -> in the pickle stream
        big buffers   -> sink (no copy yet)
      sink.finish(): create ONE segment
        offload-<root>-<pid>-<n>-<rand>,
        reserve it (posix_fallocate), copy
        each big buffer in, unmap
    -> Encoded(data, descriptors)  ==pipe==>  decode(data, descriptors)
                                                attach(name): map the segment
                                                unlink(name) at once (mapping stays)
                                                loads(data, buffers=slices of the map)
                                                  NumPy arrays, memoryviews: views of
                                                  the mapping (no copy)
                                                  bytes, bytearray: one copy out
    Encoded.release() after the task's            mapping is unmapped when the last
    outcome, whatever it is: unlinks the          object viewing it is garbage
    name if the receiver never did (no-op         collected
    otherwise)

Who unlinks: the receiver, right after mapping (so a crash of the receiver after that
leaks nothing). If the message never arrives (the worker died, the task was cancelled
before it was read), the sender's ``release()`` unlinks it. If the sending application
is killed, its reaper process unlinks every ``offload-<root>-*`` segment.

Warm segments: a sender given a :class:`~._segment.Recycler` puts a message whose big
buffers are all ``bytes`` or ``bytearray`` (the receiver copies each into a new object,
so no view into the segment outlives ``decode``) into a segment it keeps, flagged in the
descriptor. The receiver maps such a segment once and keeps the mapping
(:func:`~._segment.mapped`), never unlinks it, and hands it back:

* arguments (the application's segments): the task's answer is the hand-back. The pool
  calls ``Encoded.release()`` when the task is over; every way a task ends (answered,
  its worker gone, never sent, pool closed) leaves no receiver reading the segment, so
  ``release()`` gives it back to the recycler;
* results (a worker's segments): the parent notes the name after decoding
  (``decode(..., sender=pid)``), and :func:`add_returns` puts the names in front of
  the descriptors of the next task frame to that worker, where :func:`accept_returns`
  takes them off and gives them back to the worker's recycler.

A dead worker's segments, warm or not, go with its pid prefix (``cleanup``), the kept
mappings of them too. Messages with NumPy arrays, memoryviews or anything else whose
view may live on in the receiver always get a new segment, as above.

Not enough shared memory is not an error here: the message falls back to the pipe (all
buffers in band), so a result is never half written. Only :class:`SharedBuffer` and
:class:`SharedArray`, which cannot work without shared memory, raise
:class:`offload.SharedMemoryError`.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from offload import _serialize
from offload._errors import OffloadError, SharedMemoryError

from ._buffer import reduce_shared_view
from ._segment import Recycler, Segment, mapped, note_return, root_pid, take_returns, unlink

__all__ = [
    "DEFAULT_THRESHOLD",
    "Encoded",
    "Transfer",
    "accept_returns",
    "add_returns",
    "decode",
    "encode",
    "threshold",
    "transfer",
    "untransfer",
    "worker_recycler",
]

DEFAULT_THRESHOLD = 1 << 20
_ALIGN = 64
_VERSION = 2
# Descriptor flag: the segment is a warm one (kept by its sender, copied out by the
# receiver, handed back).
_WARM = 1
# Leading tag of the warm segments handed back in front of a task frame's descriptors.
_RETURNS = b"R"
# How far prepare() looks into lists, tuples and dicts for bytes-like values (bytes and
# bytearray are pickled in band by pickle itself, so they need a wrapper to go out of
# band; NumPy arrays do not and are found at any depth).
_SCAN_DEPTH = 10
# The quick scan before pickling visits at most this many containers; if it stops early
# and the pickle turns out big, a full scan and a second pickling follow.
_QUICK_SCAN = 4


def _env_threshold() -> int:
    raw = os.environ.get("OFFLOAD_SHM_THRESHOLD", "")
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_THRESHOLD
    return value if value >= 0 else DEFAULT_THRESHOLD


_threshold = _env_threshold()


def threshold() -> int:
    """Bytes from which a buffer travels through shared memory (0: only transfer())."""
    return _threshold


Dumps = Callable[..., bytes]
Loads = Callable[..., Any]


def _default_dumps(obj: object) -> bytes:
    """The pickle of ``obj`` (by value where the standard pickle cannot), or its error."""
    data = _serialize.stdlib_or_none(obj)
    return data if data is not None else _serialize.by_value(obj)


class Transfer:
    """A value marked by :func:`transfer`: always sent through shared memory.

    Pickled by anything other than offload's codec it is just its value.
    """

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"transfer({self.value!r})"

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        sink = _state.sink
        if sink is not None:
            # Inside encode(), wherever prepare() did not reach: mark it here.
            return (_identity, (prepare(self.value, sink.limit, True),))
        return (_identity, (self.value,))


def _identity(value: object) -> object:
    return value


def transfer(obj: object) -> Any:
    """Mark ``obj`` to travel through shared memory, whatever its size.

    Use it on a task argument or a task's return value. Its buffers (bytes, bytearray,
    memoryview, NumPy arrays, also inside lists, tuples and dicts) skip the pipe even
    below the automatic threshold, and NumPy arrays and memoryviews arrive as views of
    the shared memory. A :class:`offload.SharedBuffer` or :class:`offload.SharedArray`
    already travels by name, without any copy; ``transfer`` does not change that.

    "Moved" means what Python allows: the value is not sent through the pipe and the
    receiver owns memory that nothing else uses; the sender's object stays valid
    (Python cannot detach a ``bytes`` object the way JavaScript detaches an
    ArrayBuffer). If shared memory runs out, the value falls back to the pipe, so
    ``transfer`` itself never raises.

    Example::

        result = await pool.run(checksum, offload.transfer(frame))
    """
    if isinstance(obj, Transfer):
        return obj
    return Transfer(obj)


class _State(threading.local):
    sink: _Sink | None = None


_state = _State()


class _OutOfBand:
    """Pickles a bytes-like value through a PickleBuffer so it can leave the stream."""

    __slots__ = ("force", "value")

    def __init__(self, value: bytes | bytearray | memoryview, force: bool) -> None:
        self.value = value
        self.force = force

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        value = self.value
        if isinstance(value, memoryview):
            flat = value if value.c_contiguous else memoryview(value.tobytes())
            pb = pickle.PickleBuffer(flat)
            self._register(pb)
            return (_rebuild_memoryview, (pb, value.format, value.shape, value.readonly))
        pb = pickle.PickleBuffer(value)
        self._register(pb)
        return (type(value) if type(value) in (bytes, bytearray) else bytes, (pb,))

    def _register(self, pb: pickle.PickleBuffer) -> None:
        sink = _state.sink
        if sink is None:
            return
        if self.force:
            sink.forced.append(pb)
        if type(self.value) is not memoryview:
            # Rebuilt by bytes() / bytearray(): the receiver copies it out.
            sink.copied.append(pb)


class _Forced:
    """Any other transfer()ed value (a NumPy array): its PickleBuffers go out of band."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __reduce_ex__(self, protocol: Any) -> Any:
        reduced = self.value.__reduce_ex__(protocol)
        sink = _state.sink
        if sink is not None and isinstance(reduced, tuple) and len(reduced) >= 2:
            sink.forced.extend(a for a in reduced[1] if isinstance(a, pickle.PickleBuffer))
        return reduced


class _ByName:
    """A NumPy array viewing a SharedBuffer / SharedArray: sent as name and offset."""

    __slots__ = ("reduced",)

    def __init__(self, reduced: tuple[Any, ...]) -> None:
        self.reduced = reduced

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return self.reduced


def _rebuild_memoryview(
    buffer: Any, fmt: str, shape: tuple[int, ...], readonly: bool
) -> memoryview:
    view = memoryview(buffer)
    if readonly and not view.readonly:
        view = view.toreadonly()
    flat = view.cast("B")
    if fmt == "B" and len(shape) == 1:
        return flat
    try:
        shaped: memoryview = flat.cast(fmt, shape)  # type: ignore[call-overload]
        return shaped
    except (TypeError, ValueError):
        # Formats memoryview.cast cannot express arrive as plain bytes.
        return flat


def _is_ndarray(obj: object) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(obj, numpy.ndarray)


# Values prepare() never needs to look at (the common case: cheap to skip).
_PLAIN = frozenset({int, float, str, bool, type(None), complex})


class _Budget:
    __slots__ = ("left", "stopped", "wrapped")

    def __init__(self, left: int) -> None:
        self.left = left
        self.stopped = False
        self.wrapped = 0


def _enter(depth: int, budget: _Budget | None) -> bool:
    """Whether prepare() looks into a container at ``depth``: not past the depth, and
    (charging it to ``budget``) not past the budget, else the budget stops."""
    if depth <= 0:
        return False
    if budget is not None:
        if budget.left <= 0:
            budget.stopped = True
            return False
        budget.left -= 1
    return True


def _prepare_values(
    container: Any,
    pairs: Iterable[tuple[Any, Any]],
    copy: Callable[[Any], Any],
    limit: int,
    force: bool,
    depth: int,
    budget: _Budget | None,
) -> Any:
    """A ``copy(container)`` with the prepared value at each key of ``pairs`` that
    needed one, or None when none did."""
    out: Any = None
    for key, value in pairs:
        if type(value) in _PLAIN:
            continue
        prepared = prepare(value, limit, force, depth - 1, budget)
        if budget is not None and budget.stopped:
            break
        if prepared is not value:
            if out is None:
                out = copy(container)
            out[key] = prepared
    return out


def prepare(
    obj: object,
    limit: int,
    force: bool = False,
    depth: int = _SCAN_DEPTH,
    budget: _Budget | None = None,
) -> object:
    """Wrap the bytes-like values of ``obj`` that should go out of band (a shallow copy).

    Looks into lists, tuples and dicts ``depth`` levels deep, visiting at most
    ``budget.left`` of them (``budget.stopped`` tells if it had to stop early).
    """
    kind = type(obj)
    if kind in _PLAIN:
        return obj
    if kind is tuple or kind is list:
        items: Any = obj
        if not _enter(depth, budget) or _PLAIN.issuperset(map(type, items)):
            return obj  # the C-speed check of the common case: nothing to wrap
        new = _prepare_values(items, enumerate(items), list, limit, force, depth, budget)
        if new is None:
            return obj
        return tuple(new) if kind is tuple else new
    if kind is dict:
        mapping: dict[Any, Any] = obj  # type: ignore[assignment]
        if not _enter(depth, budget) or _PLAIN.issuperset(map(type, mapping.values())):
            return obj
        out = _prepare_values(mapping, mapping.items(), dict, limit, force, depth, budget)
        return obj if out is None else out
    if kind is bytes or kind is bytearray:
        if force or (limit and len(obj) >= limit):  # type: ignore[arg-type]
            if budget is not None:
                budget.wrapped += 1
            return _OutOfBand(obj, force)  # type: ignore[arg-type]
        return obj
    if kind is memoryview:
        if budget is not None:
            budget.wrapped += 1
        return _OutOfBand(obj, force)  # type: ignore[arg-type]
    if kind is Transfer:
        # Everything under a transfer() mark is scanned, whatever the budget.
        return prepare(obj.value, limit, True, depth)  # type: ignore[attr-defined]
    if _is_ndarray(obj):
        by_name = reduce_shared_view(obj)
        if by_name is not None:
            if budget is not None:
                budget.wrapped += 1
            return _ByName(by_name)
        return _Forced(obj) if force else obj
    return obj


def untransfer(obj: object, depth: int = _SCAN_DEPTH) -> Any:
    """``obj`` without its :func:`transfer` marks (for workers that share memory: threads)."""
    kind = type(obj)
    if kind is Transfer:
        return untransfer(obj.value, depth)  # type: ignore[attr-defined]
    if depth <= 0:
        return obj
    if kind is tuple or kind is list:
        items: Any = obj
        new = [untransfer(item, depth - 1) for item in items]
        if all(a is b for a, b in zip(new, items, strict=True)):
            return obj
        return tuple(new) if kind is tuple else new
    if kind is dict:
        mapping: dict[Any, Any] = obj  # type: ignore[assignment]
        out = {key: untransfer(value, depth - 1) for key, value in mapping.items()}
        if all(out[key] is value for key, value in mapping.items()):
            return obj
        return out
    return obj


class _Sink:
    """The buffer_callback: keeps big buffers out of band, then writes them to a segment."""

    __slots__ = ("buffers", "copied", "forced", "limit", "warm")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buffers: list[memoryview] = []
        self.forced: list[pickle.PickleBuffer] = []
        # PickleBuffers the receiver rebuilds as bytes / bytearray (kept alive here, so
        # identity checks stay valid); warm: every out-of-band buffer is one of them.
        self.copied: list[pickle.PickleBuffer] = []
        self.warm = True

    def __call__(self, pb: pickle.PickleBuffer) -> bool:
        try:
            raw = pb.raw()
        except BufferError:
            return True  # not contiguous: let pickle copy it in band
        size = raw.nbytes
        forced = any(pb is f for f in self.forced)
        if size == 0 or not (forced or (self.limit and size >= self.limit)):
            raw.release()
            return True
        if self.warm and not any(pb is c for c in self.copied):
            self.warm = False  # a NumPy array or a memoryview: its view lives on
        self.buffers.append(raw)
        return False

    def finish(self, recycler: Recycler | None) -> tuple[str, bytes, bool]:
        """Copy the buffers into a segment: (name, descriptors, warm)."""
        spans: list[int] = []
        total = 0
        for raw in self.buffers:
            spans += (total, raw.nbytes)
            total += -(-raw.nbytes // _ALIGN) * _ALIGN
        warm = recycler is not None and self.warm
        try:
            segment = recycler.take(total) if warm else Segment.create(total)  # type: ignore[union-attr]
        except BaseException:
            self.reset()
            raise
        try:
            with segment.view() as view:
                for i, raw in enumerate(self.buffers):
                    offset = spans[2 * i]
                    view[offset : offset + raw.nbytes] = raw
        except BaseException:
            if warm:
                recycler.discard(segment.name)  # type: ignore[union-attr]
            else:
                segment.unlink()
            raise
        finally:
            if not warm:
                segment.close()  # a warm segment stays mapped in its recycler
            self.reset()
        return segment.name, _pack(segment.name, spans, _WARM if warm else 0), warm

    def reset(self) -> None:
        for raw in self.buffers:
            raw.release()
        self.buffers.clear()
        self.forced.clear()
        self.copied.clear()
        self.warm = True


def _pack(name: str, spans: list[int], flags: int = 0) -> bytes:
    encoded = name.encode()
    return (
        struct.pack("<BBH", _VERSION, flags, len(encoded))
        + encoded
        + struct.pack(f"<I{len(spans)}Q", len(spans) // 2, *spans)
    )


def _unpack(descriptors: bytes) -> tuple[str, list[tuple[int, int]], int]:
    version, flags, length = struct.unpack_from("<BBH", descriptors, 0)
    if version != _VERSION:
        raise SharedMemoryError(f"unknown shared-memory descriptor version {version}")
    name = descriptors[4 : 4 + length].decode()
    (count,) = struct.unpack_from("<I", descriptors, 4 + length)
    flat = struct.unpack_from(f"<{2 * count}Q", descriptors, 8 + length)
    return name, [(flat[2 * i], flat[2 * i + 1]) for i in range(count)], flags


class Encoded:
    """A message ready for the pipe: the pickle, its descriptors, its segment (if any).

    Call :meth:`release` once the task is over, on every outcome: it unlinks the
    segment if the receiver never mapped it, or gives a warm segment back to its
    recycler (no receiver reads it any more once the task is over).
    """

    __slots__ = ("data", "descriptors", "recycler", "segment")

    def __init__(
        self,
        data: bytes,
        descriptors: bytes = b"",
        segment: str | None = None,
        recycler: Recycler | None = None,
    ) -> None:
        self.data = data
        self.descriptors = descriptors
        self.segment = segment
        self.recycler = recycler

    def __repr__(self) -> str:
        warm = ", warm" if self.recycler is not None else ""
        return f"<Encoded {len(self.data)} bytes, segment={self.segment}{warm}>"

    def release(self) -> None:
        """Unlink the segment if it is still there, or give a warm one back (idempotent)."""
        segment, self.segment = self.segment, None
        if segment is None:
            return
        if self.recycler is not None:
            self.recycler.give_back(segment)
        else:
            unlink(segment)


# -- warm segments handed back ----------------------------------------------------------

_worker_recycler: Recycler | None = None


def worker_recycler() -> Recycler | None:
    """The recycler of a worker process's results (None in the application process and
    in sub-interpreter workers, whose segments no pid prefix would clean up)."""
    global _worker_recycler
    if root_pid() == os.getpid():
        return None
    if _worker_recycler is None:
        _worker_recycler = Recycler()
    return _worker_recycler


def add_returns(descriptors: bytes, pid: int | None) -> bytes:
    """``descriptors`` of a task frame to worker ``pid``, preceded by the warm segments
    of that worker the application has finished reading."""
    if pid is None:
        return descriptors
    names = take_returns(pid)
    if not names:
        return descriptors
    encoded = [name.encode() for name in names]
    head = _RETURNS + struct.pack("<H", len(encoded))
    return head + b"".join(struct.pack("<H", len(e)) + e for e in encoded) + descriptors


def accept_returns(descriptors: bytes) -> bytes:
    """In a worker: give back the warm segments listed in front of ``descriptors``;
    return the rest."""
    if not descriptors.startswith(_RETURNS):
        return descriptors
    (count,) = struct.unpack_from("<H", descriptors, 1)
    at = 3
    recycler = worker_recycler()
    for _ in range(count):
        (length,) = struct.unpack_from("<H", descriptors, at)
        name = descriptors[at + 2 : at + 2 + length].decode()
        at += 2 + length
        if recycler is not None:
            recycler.give_back(name)
    return descriptors[at:]


def _stdlib(prepared: object, sink: _Sink) -> bytes | None:
    """The standard pickle, or None (refused, or it names ``__main__``, which workers do
    not have): a failed attempt may already have handed buffers to the sink, forgotten."""
    return _attempt(_serialize.stdlib_or_none, prepared, sink)


def _cloudpickle(prepared: object, sink: _Sink) -> bytes | None:
    """The by-value pickle (lambdas, ``__main__`` objects), or None if it fails too."""
    return _attempt(_by_value_or_none, prepared, sink)


def _by_value_or_none(prepared: object, sink: _Sink) -> bytes | None:
    try:
        return _serialize.by_value(prepared, sink)
    except OffloadError:
        raise
    except Exception:
        return None


def _attempt(
    pickler: Callable[[object, _Sink], bytes | None], prepared: object, sink: _Sink
) -> bytes | None:
    try:
        data = pickler(prepared, sink)
    except OffloadError:  # a closed SharedArray: the caller gets offload's own error
        sink.reset()
        raise
    if data is None:
        sink.reset()
    return data


def encode(
    obj: object,
    *,
    limit: int | None = None,
    dumps: Dumps = _default_dumps,
    recycler: Recycler | None = None,
) -> Encoded:
    """Pickle ``obj``, moving big buffers (and transfer()ed ones) into shared memory.

    ``dumps(obj)`` is used when shared memory cannot be had (everything in band) and
    to report a value that cannot be pickled at all (its exception propagates). With a
    ``recycler``, a message whose big buffers the receiver copies out goes through one
    of its warm segments.
    """
    limit = _threshold if limit is None else limit
    budget = _Budget(_QUICK_SCAN)
    prepared = prepare(obj, limit, budget=budget)
    sink = _Sink(limit)
    # Wrappers and transfer() marks find the sink through the thread-local.
    previous, _state.sink = _state.sink, sink
    try:
        # Stdlib pickle first (fastest), cloudpickle for what it refuses (lambdas...).
        data = _stdlib(prepared, sink)
        complete = not budget.stopped
        if data is None and not complete:
            # Refused, maybe for a memoryview the quick scan did not reach: look at all.
            prepared = prepare(obj, limit)
            complete = True
            data = _stdlib(prepared, sink)
        if data is None:
            data = _cloudpickle(prepared, sink)
        if data is None:
            _state.sink = previous
            # Unpicklable: let the caller's dumps raise its own, well-worded error.
            return Encoded(dumps(prepared))
        if not complete and limit and len(data) >= limit:
            # The quick scan stopped early and the pickle is big: it may hold big bytes
            # the scan did not reach. Look further (within a budget that grows with the
            # pickle, so many small objects cost little); pickle again if that finds any.
            more = _Budget(max(256, len(data) // 4096))
            full = prepare(obj, limit, budget=more)
            if more.wrapped > budget.wrapped:
                sink.reset()
                again = _stdlib(full, sink) or _cloudpickle(full, sink)
                if again is not None:
                    prepared, data = full, again
                else:  # cannot happen in practice: the first form pickled fine
                    data = _stdlib(prepared, sink) or _cloudpickle(prepared, sink) or data
    finally:
        _state.sink = previous
    if not sink.buffers:
        return Encoded(data)
    try:
        name, descriptors, warm = sink.finish(recycler)
    except SharedMemoryError:
        # Out of shared memory: the same value, entirely through the pipe.
        return Encoded(dumps(prepared))
    return Encoded(data, descriptors, name, recycler if warm else None)


def decode(
    data: bytes,
    descriptors: bytes = b"",
    *,
    loads: Loads = _serialize.loads,
    sender: int | None = None,
) -> Any:
    """Unpickle a message made by :func:`encode`, mapping its segment if it has one.

    ``sender``: the pid of the worker process that sent it; a warm segment of its is
    handed back to it with its next task frame (:func:`add_returns`). Raises
    :class:`offload.SharedMemoryError` if the segment is already gone.
    """
    if not descriptors:
        return loads(data)
    name, spans, flags = _unpack(descriptors)
    if flags & _WARM:
        return _decode_warm(data, name, spans, loads, sender)
    try:
        segment = Segment.attach(name)
    except SharedMemoryError:
        unlink(name)  # the receiver owns it, even when it cannot map it
        raise
    # The receiver owns the segment from here: the name goes, the mapping stays.
    unlink(name)
    view = segment.view()
    segment.close()
    buffers = [view[offset : offset + size] for offset, size in spans]
    try:
        return loads(data, buffers=buffers)
    finally:
        del buffers
        view.release()


def _decode_warm(
    data: bytes, name: str, spans: list[tuple[int, int]], loads: Loads, sender: int | None
) -> Any:
    """Decode from a warm segment: every buffer is copied out, the mapping stays."""
    try:
        try:
            segment = mapped(name)
        except SharedMemoryError:
            sender = None  # gone: nothing to hand back
            raise
        view = segment.view()
        buffers = [view[offset : offset + size] for offset, size in spans]
        try:
            return loads(data, buffers=buffers)
        finally:
            # Only bytes / bytearray were rebuilt from these: nothing views them now.
            for buffer in buffers:
                try:
                    buffer.release()
                except BufferError:  # something still views it: never hand it back
                    sender = None
            del buffers
            view.release()
    finally:
        if sender is not None:
            note_return(sender, name)
