"""The channel wire format: frames survive any split of the byte stream."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from offload._process._messages import MESSAGE
from offload._serialize import dumps, loads
from offload._wire import Frames, frame

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.lists(values, max_size=8), st.lists(st.integers(1, 64), min_size=1, max_size=16))
def test_frames_reassemble_in_order_whatever_the_split(
    messages: list[object], cuts: list[int]
) -> None:
    stream = b"".join(frame(MESSAGE, dumps(m)) for m in messages)
    frames = Frames()
    received = []
    position = 0
    index = 0
    while position < len(stream):
        size = cuts[index % len(cuts)]
        index += 1
        frames.feed(stream[position : position + size])
        position += size
        while (item := frames.next()) is not None:
            kind, payload = item
            assert kind == MESSAGE
            received.append(loads(payload))
    assert received == messages
    assert frames.next() is None
