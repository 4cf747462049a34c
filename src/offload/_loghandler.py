"""The one logging handler offload installs: it hands each record to a send function.

A pool worker sends its records to the parent over its socket; a cluster supervisor
writes its own lines to stderr through a ``Sink``. Both are a :class:`SendHandler`, each
with its own ``send`` and ``encode``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["SendHandler"]

T = TypeVar("T")


class SendHandler(logging.Handler, Generic[T]):
    """Passes each record to ``send`` as ``encode(record)`` makes it. A failure goes to
    ``handleError``, as in any logging handler, so logging never raises into the code
    that logged. :meth:`lines` makes one that sends formatted lines of text."""

    def __init__(
        self, send: Callable[[T], object], encode: Callable[[logging.LogRecord], T]
    ) -> None:
        super().__init__()
        self.send = send
        self.encode = encode

    @staticmethod
    def lines(write: Callable[[str], object]) -> SendHandler[str]:
        """A handler that calls ``write`` with each record's formatted text and a newline."""
        handler: SendHandler[str] = SendHandler(write, lambda record: handler.format(record) + "\n")
        return handler

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.send(self.encode(record))
        except Exception:
            self.handleError(record)
