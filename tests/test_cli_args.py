"""The argument types every subcommand shares: counts, seconds and sizes."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offload._cli import main
from offload._cli._args import non_negative_int, positive_int, seconds, seconds_or_zero, size

# -- sizes (--max-memory) ----------------------------------------------------------------

_UNIT = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}


@given(st.integers(1, 10**6), st.sampled_from(sorted(_UNIT)), st.booleans())
def test_size_with_a_unit_is_that_many_bytes(number: int, unit: str, lower: bool) -> None:
    text = f"{number}{unit.lower() if lower else unit}"
    assert size(text) == number * _UNIT[unit]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("300M", 300 * 2**20), ("1.5G", 3 * 2**29), ("512k", 512 * 1024), ("1e3", 1000)],
)
def test_size_examples(text: str, expected: int) -> None:
    assert size(text) == expected


@pytest.mark.parametrize(
    "text", ["", "M", "300MB", "300T", "abc", "-5", "0", "0.1", "nan", "inf", "1e999", "1e999G"]
)
def test_bad_sizes_are_a_clear_argument_error(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"size|positive|300M"):
        size(text)


@given(st.text(max_size=12))
def test_any_text_is_a_size_or_an_argument_error(text: str) -> None:
    try:
        value = size(text)
    except argparse.ArgumentTypeError:
        return
    assert value >= 1


@pytest.mark.parametrize("text", ["0", "-1", "nan", "-inf"])
def test_seconds_must_be_positive(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="positive"):
        seconds(text)


@pytest.mark.parametrize(("text", "expected"), [("0", 0.0), ("0.2", 0.2), ("30", 30.0)])
def test_seconds_or_zero_takes_zero_and_more(text: str, expected: float) -> None:
    assert seconds_or_zero(text) == expected


@pytest.mark.parametrize("text", ["-0.1", "-1", "nan", "-inf"])
def test_seconds_or_zero_refuses_negative_and_nan(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="0 or more seconds"):
        seconds_or_zero(text)


@given(st.integers(-5, 5))
def test_counts_are_refused_below_their_floor(value: int) -> None:
    for check, floor in ((positive_int, 1), (non_negative_int, 0)):
        if value >= floor:
            assert check(str(value)) == value
        else:
            with pytest.raises(argparse.ArgumentTypeError, match=f"at least {floor}"):
                check(str(value))


# -- the subcommands use them: a bad value is a usage error, before anything starts ------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--compare", "--duration", "-1"], "positive number of seconds"),
        (["demo", "--compare", "--duration", "nan"], "positive number of seconds"),
        (["cluster", "app:app", "--timeout", "0"], "positive number of seconds"),
        (["cluster", "app:app", "--max-memory", "300MB"], "300M or 2G"),
        (["worker", "amqp://x/", "--queue", "q", "--app", "m", "--stop-grace", "-1"], "0 or more"),
        (["worker", "amqp://x/", "--queue", "q", "--app", "m", "--buffer", "-1"], "at least 0"),
        (["worker", "amqp://x/", "--queue", "q", "--app", "m", "--concurrency", "0"], "at least 1"),
    ],
)
def test_a_bad_value_is_a_usage_error_naming_it(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
