"""SharedBuffer / SharedArray: shared by name, freed on every path, never copied."""

from __future__ import annotations

import errno
import gc
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import offload
from offload import _shm

pytestmark = pytest.mark.usefixtures("no_shm_leaks")


def wait_until(predicate: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def run_child(code: str, *args: object) -> object:
    """Run ``code`` in a fresh interpreter with ``args`` unpickled; return its ``result``."""
    script = (
        "import pickle, sys\nargs = pickle.loads(sys.stdin.buffer.read())\n"
        + code
        + "\nsys.stdout.buffer.write(pickle.dumps(result))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=pickle.dumps(args),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return pickle.loads(done.stdout)


def test_buffer_pickles_by_name_and_shares_memory(no_leaks: None) -> None:
    with offload.SharedBuffer(1 << 20) as shared:
        shared.buf[:5] = b"hello"
        data = pickle.dumps(shared)
        assert len(data) < 200  # the name, not the megabyte
        copy = pickle.loads(data)
        assert not copy.owner
        assert bytes(copy.buf[:5]) == b"hello"
        copy.buf[5:6] = b"!"
        assert bytes(shared.buf[:6]) == b"hello!"
        copy.close()
        assert copy.closed  # closing a copy frees nothing: the owner still has it
        assert shared.name in _shm.list_segments(os.getpid())


def test_child_process_sees_and_writes_the_same_memory(no_leaks: None) -> None:
    with offload.SharedBuffer(4096) as shared:
        shared.buf[:3] = b"abc"
        result = run_child(
            "shared = args[0]\nresult = bytes(shared.buf[:3])\nshared.buf[3:6] = b'xyz'",
            shared,
        )
        assert result == b"abc"
        assert bytes(shared.buf[:6]) == b"abcxyz"


def test_shared_array_is_a_numpy_view_in_every_process(no_leaks: None) -> None:
    with offload.SharedArray((100, 10), "int64") as shared:
        shared.array[:] = np.arange(1000).reshape(100, 10)
        assert shared.shape == (100, 10)
        assert shared.dtype == np.dtype("int64")
        result = run_child(
            "shared = args[0]\nresult = int(shared.array.sum())\nshared.array[0, 0] = -1",
            shared,
        )
        assert result == sum(range(1000))
        assert shared.array[0, 0] == -1


def test_close_unlinks_and_later_attach_fails(no_leaks: None) -> None:
    shared = offload.SharedBuffer(100)
    data = pickle.dumps(shared)
    shared.close()
    shared.close()  # idempotent
    assert shared.closed
    assert shared.name not in _shm.list_segments(os.getpid())
    with pytest.raises(offload.ClosedError):
        shared.buf  # noqa: B018
    with pytest.raises(offload.ClosedError):
        pickle.dumps(shared)
    with pytest.raises(offload.SharedMemoryError, match="no longer exists"):
        pickle.loads(data)


def test_views_taken_before_close_stay_valid(no_leaks: None) -> None:
    shared = offload.SharedArray(1000, "float32")
    view = shared.array
    view[:] = 2.0
    shared.close()
    assert float(view.sum()) == 2000.0
    del view


def test_garbage_collected_owner_unlinks(no_leaks: None) -> None:
    shared = offload.SharedBuffer(100)
    name = shared.name
    del shared
    gc.collect()
    assert name not in _shm.list_segments(os.getpid())


def test_owner_process_exit_unlinks() -> None:
    names = run_child("import offload\nkeep = offload.SharedBuffer(100)\nresult = keep.name")
    assert isinstance(names, str)
    assert not os.path.exists(f"/dev/shm/{names}")


KEEP_ALIVE = r"""
import sys, time, offload
keep = [offload.SharedBuffer(1000), offload.SharedArray((10,), "f8")]
print(" ".join(k.name for k in keep), flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_killed_owner_segments_are_removed_by_the_reaper(no_leaks: None, how: int) -> None:
    proc = subprocess.Popen([sys.executable, "-c", KEEP_ALIVE], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        names = proc.stdout.readline().split()
        assert len(names) == 2
        assert all(os.path.exists(f"/dev/shm/{n}") for n in names)
    finally:
        proc.send_signal(how)
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert wait_until(lambda: not any(os.path.exists(f"/dev/shm/{n}") for n in names))


def test_not_enough_shared_memory_raises_a_clear_error(
    no_leaks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(offload.SharedMemoryError, match="not enough shared memory"):
        offload.SharedBuffer(1 << 20)
    with pytest.raises(offload.SharedMemoryError):
        offload.SharedArray((10, 10))
    assert _shm.list_segments(os.getpid()) == []


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        offload.SharedBuffer(0)
    with pytest.raises(ValueError):
        offload.SharedArray((-1, 2))


def test_empty_shared_array_works(no_leaks: None) -> None:
    with offload.SharedArray((0, 3), "f8") as shared:
        assert shared.array.shape == (0, 3)
        copy = pickle.loads(pickle.dumps(shared))
        assert copy.array.shape == (0, 3)


def test_shared_buffer_survives_the_codec_by_name(no_leaks: None) -> None:
    with offload.SharedArray(1 << 18, "u1") as shared:
        encoded = _shm.encode(offload.transfer({"s": shared}), limit=1024)
        assert encoded.segment is None  # only the name travelled
        result = _shm.decode(encoded.data, encoded.descriptors)
        assert result["s"].name == shared.name


def test_numpy_views_of_a_shared_array_travel_by_name(no_leaks: None) -> None:
    with offload.SharedArray((100, 100), "float64") as shared:
        view = shared.array[10:20, ::-2]
        encoded = _shm.encode(view, limit=16)
        assert encoded.segment is None  # no copy: name, offset, shape, strides
        assert len(encoded.data) < 300
        received = _shm.decode(encoded.data, encoded.descriptors)
        received[0, 0] = 7.0  # the same memory
        assert shared.array[10, 99] == 7.0
        np.testing.assert_array_equal(received, view)


def test_views_of_a_closed_shared_array_are_copied(no_leaks: None) -> None:
    shared = offload.SharedArray(1000, "float64")
    view = shared.array[:500]
    view[:] = 3.0
    shared.close()
    encoded = _shm.encode(view, limit=16)
    assert encoded.segment is not None  # a copy through a new segment
    received = _shm.decode(encoded.data, encoded.descriptors)
    encoded.release()
    assert float(received.sum()) == 1500.0
