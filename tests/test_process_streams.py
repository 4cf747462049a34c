"""OutputStream.lines and chunks: the same lines however the bytes arrive."""

from __future__ import annotations

import asyncio
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offload._process._streams import OutputStream


async def _lines_of(pieces: list[bytes], text: bool) -> list[bytes | str]:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    stream = OutputStream(read_end, text=text, encoding="utf-8", high_water=64)

    async def feed() -> None:
        try:
            for piece in pieces:
                os.write(write_end, piece)
                await asyncio.sleep(0)
        finally:
            os.close(write_end)

    feeder = asyncio.create_task(feed())
    try:
        return [line async for line in stream.lines()]
    finally:
        await feeder
        stream.close()


def _expected(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=200).filter(lambda b: b), max_size=12))
def test_lines_match_a_plain_split_for_any_chunking(pieces: list[bytes]) -> None:
    got = asyncio.run(_lines_of(pieces, text=False))
    assert got == _expected(b"".join(pieces))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=8), st.integers(1, 7))
def test_text_lines_survive_characters_split_between_reads(lines: list[str], cut: int) -> None:
    data = "".join(line.replace("\n", " ").replace("\r", " ") + "\n" for line in lines)
    raw = data.encode()
    pieces = [raw[i : i + cut] for i in range(0, len(raw), cut)]
    got = asyncio.run(_lines_of(pieces, text=True))
    assert got == [line.replace("\n", " ").replace("\r", " ") for line in lines]
