"""Pickling for the process boundary: stdlib first, cloudpickle fallback, clear errors."""

from __future__ import annotations

import pickle
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offload import SerializationError
from offload._serialize import dumps, dumps_function, loads

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
