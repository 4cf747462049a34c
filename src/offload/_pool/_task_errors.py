"""How a task's exception crosses from a worker process to the caller.

The worker pickles the exception together with its formatted traceback
(:func:`dump_error`); the parent rebuilds the exception and attaches that text as a
:class:`offload.RemoteTraceback` ``__cause__`` (:func:`load_error`), so the caller sees
where in the worker it was raised. An exception that cannot make the trip is replaced by a
:class:`offload.SerializationError` that says why, with the same traceback.
"""

from __future__ import annotations

import traceback

from offload._errors import RemoteTraceback, SerializationError, WorkerError
from offload._serialize import dumps, loads

__all__ = ["dump_error", "load_error"]


def dump_error(exc: BaseException) -> bytes:
    """``exc`` and its traceback text, pickled; checked to unpickle again."""
    text = "".join(traceback.format_exception(exc))
    try:
        body = dumps((exc, text), what="exception")
        # An exception whose __init__ takes other arguments than its args pickles but
        # cannot be unpickled: find out here, while its message can still be sent.
        loads(body)
    except Exception as problem:
        fallback = SerializationError(
            f"the task raised {type(exc).__qualname__}: {exc}, which could not be sent "
            f"back ({problem}); give the exception a __reduce__, or an __init__ that "
            "accepts its args"
        )
        body = dumps((fallback, text))
    return body


def load_error(body: bytes) -> tuple[BaseException, str]:
    """The exception a worker sent with :func:`dump_error`, and its traceback text."""
    try:
        exc, text = loads(body)
    except Exception as err:
        return err, ""
    if isinstance(exc, BaseException):
        if text:
            exc.__cause__ = RemoteTraceback(text)
        return exc, text
    return WorkerError(f"the worker sent an error it could not describe: {exc!r}"), text
