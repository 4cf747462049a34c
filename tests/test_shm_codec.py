"""The shared-memory codec: round trips in-process and across a real child process."""

from __future__ import annotations

import errno
import gc
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import offload
from offload import _shm
from offload._shm import _segment

LIMIT = 1024

pytestmark = pytest.mark.usefixtures("no_shm_leaks")


def roundtrip(obj: object, limit: int = LIMIT) -> object:
    encoded = _shm.encode(obj, limit=limit)
    try:
        return _shm.decode(encoded.data, encoded.descriptors)
    finally:
        encoded.release()


def owns_shared_memory(array: np.ndarray) -> bool:
    """True if the array's memory chain ends in an mmap (the shared segment)."""
    import mmap

    base: object = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    return False


def test_small_message_uses_no_segment(no_leaks: None) -> None:
    encoded = _shm.encode({"x": b"small", "y": [1, 2, 3]}, limit=LIMIT)
    assert encoded.descriptors == b""
    assert encoded.segment is None
    assert _shm.decode(encoded.data, encoded.descriptors) == {"x": b"small", "y": [1, 2, 3]}


def test_large_bytes_travel_through_one_segment_and_arrive_as_bytes(no_leaks: None) -> None:
    payload = (b"a" * LIMIT, bytearray(b"b" * 3 * LIMIT), [b"c" * 2 * LIMIT])
    encoded = _shm.encode(payload, limit=LIMIT)
    assert encoded.segment in _shm.list_segments(os.getpid())
    # The pipe carries only the small pickle, not the buffers.
    assert len(encoded.data) < LIMIT
    result = _shm.decode(encoded.data, encoded.descriptors)
    assert result == payload
    assert type(result[0]) is bytes
    assert type(result[1]) is bytearray
    # The receiver unlinked the segment right after mapping it.
    assert encoded.segment not in _shm.list_segments(os.getpid())
    encoded.release()


def test_numpy_array_arrives_as_a_view_of_shared_memory(no_leaks: None) -> None:
    source = np.arange(10_000, dtype=np.float64)
    result = roundtrip({"a": source})
    assert isinstance(result, dict)
    array = result["a"]
    np.testing.assert_array_equal(array, source)
    assert owns_shared_memory(array)
    assert array.flags.writeable
    array[0] = 42.0  # the receiver's own memory: the sender's array is untouched
    assert source[0] == 0.0


def test_readonly_array_stays_readonly(no_leaks: None) -> None:
    source = np.ones(5_000)
    source.flags.writeable = False
    result = roundtrip(source)
    assert isinstance(result, np.ndarray)
    assert not result.flags.writeable


def test_memoryview_keeps_format_and_shape(no_leaks: None) -> None:
    view = memoryview(np.arange(600, dtype=np.int32).reshape(20, 30))
    result = roundtrip(view)
    assert isinstance(result, memoryview)
    assert (result.format, result.shape) == (view.format, view.shape)
    assert result.tolist() == view.tolist()
    small = memoryview(b"tiny")
    assert bytes(roundtrip(small)) == b"tiny"  # type: ignore[arg-type]


def test_non_contiguous_memoryview_is_copied_correctly(no_leaks: None) -> None:
    view = memoryview(bytes(range(256)) * 16)[::2]
    result = roundtrip(view)
    assert isinstance(result, memoryview)
    assert result.tobytes() == view.tobytes()


def test_transfer_forces_small_values_out_of_band(no_leaks: None) -> None:
    small = np.arange(4, dtype=np.int8)
    encoded = _shm.encode([offload.transfer(small), offload.transfer(b"xy")], limit=LIMIT)
    assert encoded.segment is not None
    result = _shm.decode(encoded.data, encoded.descriptors)
    encoded.release()
    assert isinstance(result, list)
    np.testing.assert_array_equal(result[0], small)
    assert owns_shared_memory(result[0])
    assert result[1] == b"xy"


def test_transfer_is_just_the_value_for_other_picklers() -> None:
    marked = offload.transfer([1, b"x"])
    assert pickle.loads(pickle.dumps(marked)) == [1, b"x"]
    assert offload.transfer(marked) is marked


def test_zero_threshold_turns_the_automatic_path_off(no_leaks: None) -> None:
    encoded = _shm.encode(b"x" * 10 * LIMIT, limit=0)
    assert encoded.segment is None
    assert _shm.decode(encoded.data) == b"x" * 10 * LIMIT


def test_release_unlinks_a_message_nobody_received(no_leaks: None) -> None:
    encoded = _shm.encode(b"x" * 2 * LIMIT, limit=LIMIT)
    assert encoded.segment in _shm.list_segments(os.getpid())
    encoded.release()
    encoded.release()  # idempotent
    assert _shm.list_segments(os.getpid()) == []


def test_decoding_after_release_raises_shared_memory_error(no_leaks: None) -> None:
    encoded = _shm.encode(b"x" * 2 * LIMIT, limit=LIMIT)
    encoded.release()
    with pytest.raises(offload.SharedMemoryError, match="no longer exists"):
        _shm.decode(encoded.data, encoded.descriptors)


def test_mapping_is_closed_when_the_last_view_is_gone(no_leaks: None) -> None:
    def maps() -> int:
        with open("/proc/self/maps") as f:
            return sum("offload-" in line for line in f)

    before = maps()
    result = roundtrip(np.zeros(100_000))
    assert maps() == before + 1
    del result
    gc.collect()
    assert maps() == before


def test_out_of_shared_memory_falls_back_to_the_pipe(
    no_leaks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)
    payload = {"a": np.arange(5_000), "b": b"z" * 5 * LIMIT, "t": offload.transfer(b"q")}
    encoded = _shm.encode(payload, limit=LIMIT)
    assert encoded.segment is None
    assert encoded.descriptors == b""
    result = _shm.decode(encoded.data, encoded.descriptors)
    assert isinstance(result, dict)
    np.testing.assert_array_equal(result["a"], payload["a"])
    assert result["b"] == payload["b"]
    assert result["t"] == b"q"
    assert _shm.list_segments(os.getpid()) == []


def test_unpicklable_value_leaves_no_segment(no_leaks: None) -> None:
    with pytest.raises(TypeError):
        _shm.encode([b"x" * 2 * LIMIT, np.zeros(5_000), _Unpicklable()], limit=LIMIT)


class _Unpicklable:
    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("not picklable on purpose")


CHILD = r"""
import os, sys, numpy
from offload import _shm
from offload._shm import _segment
_shm.set_root(int(sys.argv[1]))
data, descriptors = (bytes.fromhex(part) for part in sys.stdin.read().split())
message = _shm.decode(data, descriptors)
reply = _shm.encode({"sum": float(message["array"].sum()), "echo": message["blob"],
                     "doubled": message["array"] * 2}, limit=1024)
sys.stdout.write(reply.data.hex() + " " + reply.descriptors.hex())
"""


def test_round_trip_through_a_child_process(no_leaks: None) -> None:
    array = np.arange(50_000, dtype=np.float64)
    blob = os.urandom(3 * LIMIT)
    encoded = _shm.encode({"array": array, "blob": blob}, limit=LIMIT)
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(os.getpid())],
            input=f"{encoded.data.hex()} {encoded.descriptors.hex()}",
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    finally:
        encoded.release()
    data, descriptors = (bytes.fromhex(part) for part in done.stdout.split())
    assert descriptors, "the reply should have come through shared memory"
    reply = _shm.decode(data, descriptors)
    assert reply["sum"] == float(array.sum())
    assert reply["echo"] == blob
    np.testing.assert_array_equal(reply["doubled"], array * 2)
    assert owns_shared_memory(reply["doubled"])


dtypes = st.sampled_from(["u1", "i2", "<i4", ">i8", "f4", "f8", "c16", "?"])
arrays = hnp.arrays(
    dtypes, st.integers(0, 3 * LIMIT // 8).map(lambda n: (n,)) | hnp.array_shapes(max_side=40)
)
sizes = st.integers(0, 3 * LIMIT) | st.sampled_from([LIMIT - 1, LIMIT, LIMIT + 1])
blobs = st.one_of(
    sizes.map(lambda n: b"\x01" * n),
    sizes.map(lambda n: bytearray(b"\x02" * n)),
    sizes.map(lambda n: memoryview(b"\x03" * n)),
)
leaves = st.one_of(blobs, arrays, st.integers(), st.text(max_size=5), st.none())


def containers(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=3), inner, max_size=3),
    )


values = st.recursive(leaves, containers, max_leaves=8)


def normalise(value: object) -> object:
    """Comparable form: memoryviews as bytes, arrays as (dtype, shape, bytes)."""
    if isinstance(value, memoryview):
        return ("mv", value.tobytes())
    if isinstance(value, np.ndarray):
        return ("nd", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, list | tuple):
        return (type(value).__name__, [normalise(v) for v in value])
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    return (type(value).__name__, value)


def nesting(value: object) -> int:
    if isinstance(value, list | tuple):
        return 1 + max((nesting(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((nesting(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values, st.booleans())
def test_codec_round_trips_nested_buffers(value: object, mark: bool) -> None:
    # Bytes-like values are looked for 8 levels deep (NumPy arrays at any depth).
    assume(nesting(value) < 8)
    sent = offload.transfer(value) if mark else value
    assert normalise(roundtrip(sent)) == normalise(value)


def test_values_only_cloudpickle_can_pickle_still_go_out_of_band(no_leaks: None) -> None:
    offset = 3
    payload = [np.arange(5_000), lambda x: x + offset, b"y" * 2 * LIMIT]
    result = roundtrip(payload)
    assert isinstance(result, list)
    np.testing.assert_array_equal(result[0], payload[0])
    assert owns_shared_memory(result[0])
    assert result[1](1) == 4
    assert result[2] == payload[2]


def test_big_bytes_deep_in_a_large_structure_still_go_out_of_band(no_leaks: None) -> None:
    records = [{"id": i, "tags": [str(i)]} for i in range(2_000)]
    blob = b"d" * 4 * LIMIT
    value = [records, {"deep": [[[blob]]]}, offload.transfer([[[[b"t"]]]])]
    encoded = _shm.encode(value, limit=LIMIT)
    assert encoded.segment is not None
    result = _shm.decode(encoded.data, encoded.descriptors)
    encoded.release()
    assert isinstance(result, list)
    assert result[0] == records
    assert result[1]["deep"][0][0][0] == blob
    assert result[2] == [[[[b"t"]]]]


def test_transfer_marks_are_honoured_at_any_depth(no_leaks: None) -> None:
    filler = [[i] for i in range(100)]
    small = np.arange(3)
    encoded = _shm.encode([filler, [[[[offload.transfer(small)]]]]], limit=LIMIT)
    assert encoded.segment is not None
    result = _shm.decode(encoded.data, encoded.descriptors)
    encoded.release()
    assert isinstance(result, list)
    assert owns_shared_memory(result[1][0][0][0][0])


def test_a_segment_that_cannot_be_mapped_is_still_removed(
    no_leaks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded = _shm.encode(b"m" * 2 * LIMIT, limit=LIMIT)

    def no_memory(*args: object, **kwargs: object) -> object:
        raise OSError(errno.ENOMEM, os.strerror(errno.ENOMEM))

    monkeypatch.setattr(_segment, "_map", no_memory)
    with pytest.raises(offload.SharedMemoryError, match="could not map"):
        _shm.decode(encoded.data, encoded.descriptors)
    assert encoded.segment not in _shm.list_segments(os.getpid())
    encoded.release()
