"""Job message encoding and signing, and delay rounding (no broker needed)."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offload import SerializationError
from offload._jobs._results import JOBS, batch_message, decode_events, stamp
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


@pytest.mark.parametrize("codec", [Codec(), Codec("pickle", secret="s3cret")])
def test_a_batch_of_results_decodes_to_each_job_s_event_in_order(codec: Codec) -> None:
    events = [(f"{i:032x}", stamp({"type": "result", "value": i, "attempt": 1})) for i in range(3)]
    body, props, sent = batch_message(codec, events)
    assert sent == events
    assert props.headers[JOBS] == ",".join(job_id for job_id, _ in events)
    assert decode_events(codec, body, props.content_type, props.headers) == events


def test_a_result_that_cannot_travel_becomes_its_job_s_error_alone() -> None:
    codec = Codec()
    events = [(f"{i:032x}", stamp({"type": "result", "value": i, "attempt": 2})) for i in range(3)]
    events[1][1]["value"] = object()
    body, props, sent = batch_message(codec, events)
    decoded = decode_events(codec, body, props.content_type, props.headers)
    assert decoded == sent
    assert [event["value"] for _, event in (decoded[0], decoded[2])] == [0, 2]
    error = decoded[1][1]
    assert error["type"] == "error"
    assert error["n"] == events[1][1]["n"]
    assert error["attempt"] == 2
    assert "not JSON" in error["error"]


def test_a_batch_whose_ids_do_not_match_its_events_is_refused() -> None:
    codec = Codec(secret="s3cret")
    events = [(f"{i:032x}", stamp({"type": "result", "value": i})) for i in range(2)]
    body, props, _ = batch_message(codec, events)
    headers = {**props.headers, JOBS: events[0][0]}
    with pytest.raises(BadMessage, match="does not match"):
        decode_events(codec, body, props.content_type, headers)
    with pytest.raises(BadMessage, match="signature"):
        decode_events(codec, body + b" ", props.content_type, props.headers)
