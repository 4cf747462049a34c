"""Pickling for the process boundary: stdlib first, cloudpickle fallback, clear errors."""

from __future__ import annotations

import dataclasses
import functools
import pickle
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offload import ClosedError, SerializationError, SharedBuffer
from offload._serialize import dumps, dumps_function, loads
from offload._shm import decode, encode

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(),
    lambda inner: st.lists(inner) | st.tuples(inner, inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


@given(values)
def test_round_trip_keeps_the_value(value: object) -> None:
    assert loads(dumps(value)) == value


def test_lambdas_and_closures_fall_back_to_cloudpickle() -> None:
    factor = 3
    fn = loads(dumps_function(lambda x: x * factor))
    assert fn(2) == 6


def test_module_functions_pickle_by_reference() -> None:
    data = dumps_function(pickle.dumps)
    assert len(data) < 100
    assert loads(data) is pickle.dumps


def test_unpicklable_value_names_the_type() -> None:
    with pytest.raises(SerializationError, match="lock"):
        dumps((1, threading.Lock()), what="argument")


def test_out_of_band_buffers_go_through_the_callback() -> None:
    buffers: list[pickle.PickleBuffer] = []
    data = dumps(pickle.PickleBuffer(bytearray(b"x" * 1000)), buffer_callback=buffers.append)
    assert len(buffers) == 1
    assert bytes(loads(data, buffers=buffers)) == b"x" * 1000


def test_garbage_fails_with_serialization_error() -> None:
    with pytest.raises(SerializationError):
        loads(b"not a pickle")


def test_offload_errors_raised_while_pickling_pass_unchanged() -> None:
    buffer = SharedBuffer(64)
    buffer.close()
    with pytest.raises(ClosedError, match="is closed"):
        dumps([1, buffer], what="argument")
    with pytest.raises(ClosedError, match="is closed"):
        encode((buffer,), dumps=dumps)


def _main_module() -> ModuleType:
    return sys.modules["__main__"]


def test_a_partial_of_a_main_function_is_pickled_by_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def triple(x: int) -> int:
        return 3 * x

    triple.__module__ = "__main__"
    triple.__qualname__ = "offload_test_triple"
    monkeypatch.setattr(_main_module(), "offload_test_triple", triple, raising=False)
    data = dumps_function(functools.partial(triple, 2))
    arg = dumps(functools.partial(triple, 4))
    # A worker's __main__ has no such function: what was sent must not need it.
    monkeypatch.delattr(_main_module(), "offload_test_triple")
    assert loads(data)() == 6
    assert loads(arg)() == 12


def test_instances_of_main_classes_are_pickled_by_value(monkeypatch: pytest.MonkeyPatch) -> None:
    point = dataclasses.make_dataclass("OffloadTestPoint", [("x", int), ("data", bytes)])
    point.__module__ = "__main__"
    monkeypatch.setattr(_main_module(), "OffloadTestPoint", point, raising=False)
    small = dumps([point(1, b"")])
    big = encode((point(2, b"x" * (2 << 20)),), dumps=dumps)
    monkeypatch.delattr(_main_module(), "OffloadTestPoint")
    try:
        assert loads(small)[0].x == 1
        (value,) = decode(big.data, big.descriptors, loads=loads)
        assert (value.x, len(value.data)) == (2, 2 << 20)
    finally:
        big.release()


def test_only_module_level_names_count_as_by_name() -> None:
    from offload._serialize import by_name

    assert by_name(pickle.dumps) is not None
    assert by_name(int) is not None
    assert by_name(functools.partial(int, base=2)) is None  # type: ignore[arg-type]
    assert by_name(lambda: None) is None
    assert by_name([].append) is None


def test_code_pickled_by_value_keeps_its_file_name_for_tracebacks() -> None:
    def local(x: int) -> int:
        return x + 1

    copy = pickle.loads(dumps_function(local))
    assert copy(1) == 2
    assert copy.__code__.co_filename == local.__code__.co_filename
    assert copy.__code__.co_firstlineno == local.__code__.co_firstlineno


def test_worker_traceback_of_a_main_function_shows_its_source_line(tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(
        "import asyncio, offload\n"
        "def boom(x):\n"
        "    raise ValueError(f'bad {x}')  # the line the traceback must show\n"
        "async def main():\n"
        "    async with offload.Pool(max_workers=1) as pool:\n"
        "        await pool.run(boom, 1)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 1
    assert f'File "{script}", line 3, in boom' in done.stderr
    assert "# the line the traceback must show" in done.stderr
