"""What travels through the broker: job messages and result events, encoded and signed.

A job message::

    body     {"fn": "mail.send", "args": [...], "kwargs": {...},
              "timeout": 30.0, "retries": 3}           JSON (default) or pickle (opt-in)
    headers  x-offload-attempt    1, 2, ... (a retry republishes with attempt + 1)
             x-offload-signature  hex HMAC-SHA256 of content type + body (with a secret)
             x-delivery-count     set by a quorum queue on a redelivery (crash, requeue)
             x-offload-redeliveries  the same count for a classic queue: a worker that
                                  gets a redelivered message republishes it with the
                                  count + 1 (confirmed) before running it
    props    message_id = job id, content_type, persistent, priority

A job event (published to the queue's events stream with header x-offload-job, or in
a batch: a list of events with header x-offload-jobs, their job ids; see ``_results``)::

    {"type": "progress" | "result" | "error" | "cancelled", "value": ..., "n": event id,
     "attempt": N, ...}

Pickle is never loaded from a message whose signature does not check out: a worker
without a secret refuses pickled messages altogether, so anyone who can publish to the
queue can at most call a registered function with JSON arguments.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
from dataclasses import dataclass, field
from typing import Any, Literal

from offload._errors import SerializationError

__all__ = [
    "JSON",
    "PICKLE",
    "BadMessage",
    "Codec",
    "JobMessage",
]

JSON = "application/json"
PICKLE = "application/x-offload-pickle"

ATTEMPT = "x-offload-attempt"
SIGNATURE = "x-offload-signature"
DELIVERY_COUNT = "x-delivery-count"
REDELIVERIES = "x-offload-redeliveries"

Serializer = Literal["json", "pickle"]


class BadMessage(Exception):
    """A message this side refuses to decode (the reason is the text)."""


@dataclass(frozen=True)
class JobMessage:
    """One job as the worker sees it after decoding."""

    id: str
    fn: str
    args: list[Any]
    kwargs: dict[str, Any]
    timeout: float | None = None
    retries: int = 0
    attempt: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class Codec:
    """Encodes and decodes bodies; signs and verifies them when a secret is shared."""

    def __init__(self, serializer: Serializer = "json", secret: bytes | str | None = None) -> None:
        if serializer not in ("json", "pickle"):
            raise ValueError(f"serializer must be 'json' or 'pickle', got {serializer!r}")
        if isinstance(secret, str):
            secret = secret.encode()
        if serializer == "pickle" and not secret:
            raise ValueError(
                "serializer='pickle' needs secret=: a worker must never unpickle a message "
                "it cannot verify; share a secret between producers and workers"
            )
        self.serializer = serializer
        self.content_type = PICKLE if serializer == "pickle" else JSON
        self._secret = secret or None

    @property
    def signs(self) -> bool:
        return self._secret is not None

    def sign(self, content_type: str, body: bytes) -> str | None:
        if self._secret is None:
            return None
        mac = hmac.new(self._secret, content_type.encode() + b"\0" + body, hashlib.sha256)
        return mac.hexdigest()

    def encode(self, obj: object, what: str) -> tuple[bytes, str]:
        """``(body, content_type)`` of ``obj``."""
        if self.serializer == "json":
            try:
                return json.dumps(obj, separators=(",", ":")).encode(), JSON
            except (TypeError, ValueError) as exc:
                raise SerializationError(
                    f"the {what} is not JSON: {exc}; pass JSON values (str, int, float, bool, "
                    "None, list, dict), or use serializer='pickle' with a shared secret"
                ) from exc
        from offload._serialize import dumps

        return dumps(obj, what=what), PICKLE

    def decode(self, body: bytes, content_type: str | None, signature: object) -> Any:
        """The object in ``body``; raises BadMessage for a bad or missing signature."""
        content_type = content_type or JSON
        if content_type not in (JSON, PICKLE):
            raise BadMessage(f"unknown content type {content_type!r}")
        if self._secret is not None:
            expected = self.sign(content_type, body)
            if not isinstance(signature, str | bytes) or not expected:
                raise BadMessage("the message is not signed, and this side requires signatures")
            given = signature.decode() if isinstance(signature, bytes) else signature
            if not hmac.compare_digest(given, expected):
                raise BadMessage("the message's signature does not match (forged or wrong secret)")
        elif content_type == PICKLE:
            raise BadMessage("a pickled message, and this side has no secret to verify it with")
        try:
            if content_type == JSON:
                return json.loads(body)
            return pickle.loads(body)
        except Exception as exc:
            raise BadMessage(f"the body could not be decoded: {exc}") from exc


def job_body(
    fn: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float | None,
    retries: int,
) -> dict[str, Any]:
    body: dict[str, Any] = {"fn": fn, "args": list(args)}
    if kwargs:
        body["kwargs"] = kwargs
    if timeout is not None:
        body["timeout"] = timeout
    if retries:
        body["retries"] = retries
    return body


def parse_job(job_id: str, decoded: object, attempt: int) -> JobMessage:
    """Check the shape of a decoded job body; BadMessage names what is wrong."""
    if not isinstance(decoded, dict):
        raise BadMessage("the job body is not an object")
    fn = decoded.get("fn")
    args = decoded.get("args", [])
    kwargs = decoded.get("kwargs", {})
    timeout = decoded.get("timeout")
    retries = decoded.get("retries", 0)
    if not isinstance(fn, str) or not fn:
        raise BadMessage("the job body names no function ('fn')")
    if not isinstance(args, list | tuple) or not isinstance(kwargs, dict):
        raise BadMessage("the job's 'args' must be a list and 'kwargs' an object")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout < 0):
        raise BadMessage("the job's 'timeout' must be a number of seconds")
    if not isinstance(retries, int) or retries < 0:
        raise BadMessage("the job's 'retries' must be a non-negative integer")
    return JobMessage(job_id, fn, list(args), dict(kwargs), timeout, retries, attempt)


def header_int(headers: dict[str, Any] | None, name: str, default: int) -> int:
    value = (headers or {}).get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
