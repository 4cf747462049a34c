"""The public namespace is exactly `offload.__all__`, and it says `offload`."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest

import offload


def test_all_names_exist_and_are_sorted() -> None:
    assert sorted(offload.__all__) == offload.__all__
    for name in offload.__all__:
        assert hasattr(offload, name), name


def test_public_names_are_exported_and_nothing_else() -> None:
    public = {
        name
        for name in dir(offload)
        if not name.startswith("_") and not isinstance(getattr(offload, name), type(offload))
    }
    assert public == set(offload.__all__)


def test_exported_classes_and_functions_say_offload() -> None:
    for name in offload.__all__:
        obj = getattr(offload, name)
        if isinstance(obj, type) or callable(obj):
            assert obj.__module__ == "offload", name


def test_every_error_derives_from_offload_error() -> None:
    errors = [getattr(offload, n) for n in offload.__all__]
    errors = [e for e in errors if isinstance(e, type) and issubclass(e, BaseException)]
    assert errors
    for error in errors:
        assert issubclass(error, offload.OffloadError), error


def test_errors_pickle_round_trip() -> None:
    crashed = offload.WorkerCrashed("boom", pid=1, exitcode=None, signal=9, function="f")
    back = pickle.loads(pickle.dumps(crashed))
    assert type(back) is offload.WorkerCrashed
    assert (back.pid, back.signal, back.function, str(back)) == (1, 9, "f", "boom")
    cancelled = pickle.loads(pickle.dumps(offload.Cancelled("why")))
    assert cancelled.reason == "why"


def test_timeouts_are_builtin_timeouts_and_missing_programs_are_file_not_found() -> None:
    assert issubclass(offload.TaskTimeout, TimeoutError)
    assert issubclass(offload.ProgramNotFound, FileNotFoundError)


def _is_record(obj: object) -> bool:
    return dataclasses.is_dataclass(obj) or (inspect.isclass(obj) and hasattr(obj, "_fields"))


@pytest.mark.parametrize("name", offload.__all__)
def test_every_public_name_documents_an_example_and_its_errors(name: str) -> None:
    """The API reference is built from these docstrings: each public name says what it
    does, shows an example and says what it raises (errors and plain records excepted)."""
    obj = getattr(offload, name)
    doc = inspect.getdoc(obj) or ""
    assert doc, f"offload.{name} has no docstring"
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return
    assert "Example" in doc or ">>>" in doc, f"offload.{name}: no example in its docstring"
    if not _is_record(obj):
        assert "raise" in doc.lower(), f"offload.{name}: its docstring does not say what it raises"
