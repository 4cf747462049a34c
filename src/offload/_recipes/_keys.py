"""Turning call arguments into a cache key, and saying clearly when that is impossible.

For a function with a fixed signature (no ``*args`` / ``**kwargs``), the key is made
of its parameters in signature order, after Python itself bound the call: ``f(1)``,
``f(x=1)`` and ``f(1, y=<default>)`` share one entry, and a single parameter is its own
key (nothing to build). :func:`signature_of` describes such a signature so callers can
generate a wrapper with exactly that signature.

For a variadic function the key of ``f(*args, **kwargs)`` is ``args`` when there are no
keyword arguments, else ``args`` plus the keyword arguments sorted by name behind a
marker. Equal arguments give equal keys (``f(1)`` and ``f(1.0)`` share an entry, as in
a dict).
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "KeyFunc",
    "Signature",
    "check_hashable",
    "compile_key",
    "make_key",
    "name_of",
    "signature_of",
    "unhashable_error",
]

KeyFunc = Callable[..., Hashable]


class _KwargsMark:
    """Separates positional from keyword arguments inside a key."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<kwargs>"


_KWARGS = _KwargsMark()


def make_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
    """The default key of a call; not checked for hashability (the dict lookup does that)."""
    if not kwargs:
        return args
    return (args, _KWARGS, *sorted(kwargs.items()))


def name_of(fn: object) -> str:
    """A readable name for error messages: ``module.qualname``."""
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if qualname is None:  # a callable object: name its class
        return f"{type(fn).__module__}.{type(fn).__qualname__}"
    module = getattr(fn, "__module__", None)
    return f"{module}.{qualname}" if module else str(qualname)


def unhashable_error(
    where: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    cause: BaseException,
    names: tuple[str, ...] = (),
) -> TypeError:
    """A TypeError naming the first argument that cannot be hashed.

    ``where`` names the call (for example ``"get_user()"``); ``names`` are the
    parameter names of the positional arguments, when known.
    """
    culprit: str | None = None
    for index, value in enumerate(args):
        if not _hashes(value):
            label = (
                f"argument {names[index]}" if index < len(names) else f"positional argument {index}"
            )
            culprit = f"{label} ({type(value).__name__} {_short(value)})"
            break
    else:
        for name, value in kwargs.items():
            if not _hashes(value):
                culprit = f"argument {name} ({type(value).__name__} {_short(value)})"
                break
    what = culprit or "an argument"
    return TypeError(
        f"{where}: {what} is unhashable, so it cannot be part of a cache key; pass a "
        f"hashable value (a tuple instead of a list, a frozenset instead of a set) or give "
        f"key= a function that builds a hashable key ({cause})"
    )


def check_hashable(where: str, key: object) -> None:
    """Raise a TypeError naming ``where`` if ``key`` cannot be hashed."""
    try:
        hash(key)
    except TypeError as exc:
        raise TypeError(
            f"{where}: the key {_short(key)} ({type(key).__name__}) is unhashable; use a "
            f"hashable value (a tuple instead of a list, a frozenset instead of a set)"
        ) from exc


def _hashes(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_RESERVED = "_o_"


@dataclass(frozen=True, slots=True)
class Signature:
    """A fixed signature as Python source pieces, for generated wrappers.

    ``params``: the parameter list (``x, y=_o_d1, *, z``); ``defaults``: the names used
    for default values in it; ``key``: the key expression; ``args`` / ``kwargs``: how to
    pass the parameters on (``(x, y)`` and ``{'z': z}``); ``names``: the names of the
    positional parameters, in order.
    """

    names: tuple[str, ...]
    params: str
    defaults: dict[str, object]
    key: str
    args: str
    kwargs: str


def signature_of(fn: Callable[..., Any], *, skip_first: bool = False) -> Signature | None:
    """The fixed signature of ``fn`` (without its first parameter if ``skip_first``).

    None when a generated wrapper cannot reproduce it (``*args``, ``**kwargs``,
    unusual names or no introspectable signature).
    """
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    if skip_first:
        if not params or params[0].kind not in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            return None
        params = params[1:]
    pieces: list[str] = []
    defaults: dict[str, object] = {}
    positional: list[str] = []
    by_name: list[str] = []
    star_done = False
    slash_pending = False
    for index, p in enumerate(params):
        name = p.name
        if (
            p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
            or not name.isidentifier()
            or keyword.iskeyword(name)
            or name.startswith(_RESERVED)
        ):
            return None
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            slash_pending = True
        elif slash_pending:
            pieces.append("/")
            slash_pending = False
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not star_done:
            pieces.append("*")
            star_done = True
        piece = name
        if p.default is not inspect.Parameter.empty:
            default_name = f"{_RESERVED}d{index}"
            defaults[default_name] = p.default
            piece = f"{name}={default_name}"
        pieces.append(piece)
        if p.kind is inspect.Parameter.KEYWORD_ONLY:
            by_name.append(name)
        else:
            positional.append(name)
    if slash_pending:
        pieces.append("/")
    names = positional + by_name
    # One parameter is its own key: no tuple to build on every call.
    key = names[0] if len(names) == 1 else "(" + "".join(f"{n}, " for n in names) + ")"
    return Signature(
        names=tuple(positional),
        params=", ".join(pieces),
        defaults=defaults,
        key=key,
        args="(" + "".join(f"{n}, " for n in positional) + ")",
        kwargs="{" + ", ".join(f"{n!r}: {n}" for n in by_name) + "}",
    )


def compile_key(fn: Callable[..., Any], *, skip_first: bool = False) -> KeyFunc:
    """A function computing the key of a call of ``fn`` from that call's arguments.

    Binds the arguments like ``fn`` would (so a wrong call raises ``fn``'s TypeError).
    """
    sig = signature_of(fn, skip_first=skip_first)
    if sig is None:

        def variadic_key(*args: Any, **kwargs: Any) -> Hashable:
            return make_key(args, kwargs)

        return variadic_key
    namespace: dict[str, Any] = dict(sig.defaults)
    exec(f"def {_RESERVED}key({sig.params}):\n    return {sig.key}\n", namespace)
    keyfunc: KeyFunc = namespace[f"{_RESERVED}key"]
    return keyfunc
