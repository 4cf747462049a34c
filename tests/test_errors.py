"""Every offload error crosses a process boundary whole: type, message and attributes."""

from __future__ import annotations

import pickle

import pytest

from offload import _errors
from offload._errors import (
    BrokerUnavailable,
    Cancelled,
    InterpreterIncompatible,
    JobFailed,
    JobRejected,
    ProcessFailed,
    ProgramNotFound,
    RemoteTraceback,
    TaskExited,
    WorkerCrashed,
)
from offload._serialize import dumps, loads

# One instance of each error class, with every keyword attribute set to a value that is
# not its default, so that a round trip which rebuilt from the message alone would show.
SAMPLES: list[BaseException] = [
    Cancelled(),
    Cancelled("why"),
    Cancelled(("a", 1)),
    WorkerCrashed("boom", pid=12, exitcode=-9, signal=9, function="f"),
    TaskExited("exited", exc_type=KeyboardInterrupt, code=3, function="g"),
    TaskExited.from_exception(SystemExit(2), "h"),
    ProcessFailed(
        "failed",
        argv=("prog", "--flag"),
        pid=34,
        returncode=-15,
        signal=15,
        stdout=b"out",
        stderr="err",
        duration=1.5,
        timed_out=True,
        cancelled=True,
        output_truncated=True,
        limit="memory 1 MiB",
    ),
    JobFailed(
        "job failed",
        job_id="j1",
        error_type="ValueError",
        error="bad",
        remote_traceback="Traceback ...",
        attempts=3,
    ),
    JobRejected("rejected", job_id="j2", error_type="KeyError", error="x", attempts=1),
    InterpreterIncompatible("numpy cannot load"),
    ProgramNotFound("no such program"),
    BrokerUnavailable("broker down"),
    RemoteTraceback("Traceback (most recent call last):\n  ...\n"),
]
SAMPLES += [
    getattr(_errors, name)(f"{name} message")
    for name in _errors.__all__
    if not any(type(sample).__name__ == name for sample in SAMPLES)
]


def test_every_error_class_has_a_sample() -> None:
    assert {type(sample).__name__ for sample in SAMPLES} >= set(_errors.__all__)


def _same(back: BaseException, error: BaseException) -> None:
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert back.args == error.args
    assert vars(back) == vars(error)


@pytest.mark.parametrize("error", SAMPLES, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_errors_pickle_with_all_their_attributes(error: BaseException, protocol: int) -> None:
    _same(pickle.loads(pickle.dumps(error, protocol=protocol)), error)


@pytest.mark.parametrize("error", SAMPLES, ids=lambda e: type(e).__name__)
def test_errors_cross_the_pool_serializer_with_all_their_attributes(error: BaseException) -> None:
    _same(loads(dumps(error)), error)


def test_notes_added_to_an_error_survive_pickling() -> None:
    error = WorkerCrashed("boom", pid=1)
    error.add_note("while running task 7")
    back = pickle.loads(pickle.dumps(error))
    assert back.__notes__ == ["while running task 7"]
    assert back.pid == 1


def test_a_rebuilt_cancelled_keeps_its_reason_and_message() -> None:
    back = pickle.loads(pickle.dumps(Cancelled("shutdown")))
    assert (back.reason, str(back)) == ("shutdown", "cancelled: shutdown")
