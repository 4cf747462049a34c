"""Job message encoding and signing, and delay rounding (no broker needed)."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offload import SerializationError
from offload._jobs._topology import delay_bucket
from offload._jobs._wire import JSON, PICKLE, BadMessage, Codec, parse_job


def test_json_round_trip_without_secret() -> None:
    codec = Codec()
    body, ctype = codec.encode({"fn": "f", "args": [1, "x"]}, what="args")
    assert ctype == JSON
    assert codec.decode(body, ctype, None) == {"fn": "f", "args": [1, "x"]}


def test_values_that_are_not_json_are_refused_with_advice() -> None:
    with pytest.raises(SerializationError, match=r"not JSON.*serializer='pickle'"):
        Codec().encode({"args": [object()]}, what="arguments")


def test_pickle_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="needs secret"):
        Codec("pickle")


def test_signed_pickle_round_trips_and_a_forged_one_is_refused() -> None:
    codec = Codec("pickle", secret="s3cret")
    body, ctype = codec.encode({"args": [{1, 2}]}, what="args")
    assert ctype == PICKLE
    assert codec.decode(body, ctype, codec.sign(ctype, body)) == {"args": [{1, 2}]}
    forged = pickle.dumps({"args": ["evil"]})
    with pytest.raises(BadMessage, match="signature does not match"):
        codec.decode(forged, PICKLE, "0" * 64)
    with pytest.raises(BadMessage, match="not signed"):
        codec.decode(forged, PICKLE, None)
    other = Codec("pickle", secret="other")
    with pytest.raises(BadMessage, match="signature"):
        other.decode(body, ctype, codec.sign(ctype, body))


def test_without_a_secret_pickle_is_never_loaded() -> None:
    with pytest.raises(BadMessage, match="no secret"):
        Codec().decode(pickle.dumps(1), PICKLE, None)


def test_job_bodies_are_checked() -> None:
    assert parse_job("i", {"fn": "f", "args": [1]}, 2).attempt == 2
    for bad in ([], {"args": []}, {"fn": "f", "args": 1}, {"fn": "f", "retries": -1}):
        with pytest.raises(BadMessage):
            parse_job("i", bad, 1)


@given(st.floats(min_value=0.0005, max_value=100_000))
def test_delay_buckets_are_within_five_percent(seconds: float) -> None:
    ms = seconds * 1000
    bucket = delay_bucket(seconds)
    assert bucket >= 1
    assert abs(bucket - ms) <= max(0.05 * ms, 1)
