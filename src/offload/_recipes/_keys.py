"""Turning call arguments into a cache key, and saying clearly when that is impossible.

For a function with a fixed signature (no ``*args`` / ``**kwargs``), the key is made
of its parameters in signature order, after Python itself bound the call: ``f(1)``,
``f(x=1)`` and ``f(1, y=<default>)`` share one entry, and a single parameter is its own
key (nothing to build). The key function is a generated ``key_N`` of
:mod:`._hitpath_templates` given the function's own parameters by
:func:`with_signature`, so Python's own argument binding does the work (and raises the
function's own TypeError for a wrong call).

For a variadic function the key of ``f(*args, **kwargs)`` is ``args`` when there are no
keyword arguments, else ``args`` plus the keyword arguments sorted by name behind a
marker. Equal arguments give equal keys (``f(1)`` and ``f(1.0)`` share an entry, as in
a dict).
"""

from __future__ import annotations

import inspect
import keyword
import types
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from ._hitpath_templates import KEY_FUNCTIONS, MAX_KEY_PARAMS

__all__ = [
    "CallKeys",
    "KeyFunc",
    "Signature",
    "call_keys",
    "check_hashable",
    "compile_key",
    "make_key",
    "name_of",
    "signature_of",
    "unhashable_error",
    "with_signature",
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

_KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY
_POSITIONAL_ONLY = inspect.Parameter.POSITIONAL_ONLY
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True, slots=True)
class Signature:
    """A fixed signature that generated functions can take (see :func:`with_signature`).

    ``parameters``: in order; ``names``: the names of the positional ones, in order.
    """

    parameters: tuple[inspect.Parameter, ...]
    names: tuple[str, ...]

    @property
    def single(self) -> bool:
        """One positional parameter: a call with one positional argument is its key."""
        return len(self.parameters) == 1 and self.parameters[0].kind in _POSITIONAL


def signature_of(fn: Callable[..., Any], *, skip_first: bool = False) -> Signature | None:
    """The fixed signature of ``fn`` (without its first parameter if ``skip_first``).

    None when generated functions cannot take it (``*args``, ``**kwargs``, names
    starting with ``_o_``, which generated code reserves, or no introspectable
    signature).
    """
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    if skip_first:
        if not params or params[0].kind not in _POSITIONAL:
            return None
        params = params[1:]
    for p in params:
        if (
            p.kind in _VARIADIC
            or not p.name.isidentifier()
            or keyword.iskeyword(p.name)
            or p.name.startswith(_RESERVED)
        ):
            return None
    return Signature(
        parameters=tuple(params),
        names=tuple(p.name for p in params if p.kind is not _KEYWORD_ONLY),
    )


def with_signature(
    fn: Callable[..., Any],
    parameters: tuple[inspect.Parameter, ...],
    closure: tuple[types.CellType, ...] | None = None,
) -> Callable[..., Any]:
    """``fn`` (a generated function of ``len(parameters)`` positional parameters) taking
    ``parameters`` instead: their names, kinds and defaults.

    Only the code's metadata changes (names and counts of each kind), so a call binds
    exactly like a call of the function those parameters came from. ``closure``
    replaces ``fn``'s closure when given.
    """
    code = fn.__code__
    count = len(parameters)
    kw_only = sum(p.kind is _KEYWORD_ONLY for p in parameters)
    code = code.replace(
        co_varnames=(*(p.name for p in parameters), *code.co_varnames[count:]),
        co_argcount=count - kw_only,
        co_posonlyargcount=sum(p.kind is _POSITIONAL_ONLY for p in parameters),
        co_kwonlyargcount=kw_only,
    )
    defaults = tuple(
        p.default for p in parameters if p.kind is not _KEYWORD_ONLY and p.default is not _EMPTY
    )
    shaped = types.FunctionType(
        code,
        cast(Any, fn).__globals__,
        fn.__name__,
        defaults or None,
        cast(Any, fn).__closure__ if closure is None else closure,
    )
    shaped.__kwdefaults__ = {
        p.name: p.default for p in parameters if p.kind is _KEYWORD_ONLY and p.default is not _EMPTY
    } or None
    return shaped


def compile_key(fn: Callable[..., Any], *, skip_first: bool = False) -> KeyFunc:
    """A function computing the key of a call of ``fn`` from that call's arguments.

    Binds the arguments like ``fn`` would (so a wrong call raises a TypeError).
    """
    sig = signature_of(fn, skip_first=skip_first)
    if sig is None:

        def variadic_key(*args: Any, **kwargs: Any) -> Hashable:
            return make_key(args, kwargs)

        return variadic_key
    if len(sig.parameters) <= MAX_KEY_PARAMS:
        shaped = with_signature(KEY_FUNCTIONS[len(sig.parameters)], sig.parameters)
        if not skip_first:  # a wrong call's complaint names the function, as its own would
            shaped.__qualname__ = str(getattr(fn, "__qualname__", shaped.__qualname__))
        return shaped
    # Many parameters (rare): bind through inspect, slower but the same key.
    signature = inspect.Signature(list(sig.parameters))

    def bound_key(*args: Any, **kwargs: Any) -> Hashable:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return tuple(bound.arguments.values())

    return bound_key


class CallKeys(NamedTuple):
    """How the calls of one function are keyed."""

    keyfn: KeyFunc  # over all the arguments
    rest_keyfn: KeyFunc  # over all but the first: a method's instance is keyed apart
    names: tuple[str, ...]  # the positional parameters, to name one in an error


def call_keys(fn: Callable[..., Any], key: KeyFunc | None, method: bool) -> CallKeys:
    """The key functions of ``fn``'s calls: ``key`` if given, else compiled from its
    signature. Without ``key=``, a method's key leaves the instance out of the
    arguments (it is represented by an Owner: identity, weak)."""
    sig = signature_of(fn)
    keyfn = key if key is not None else compile_key(fn)
    rest = compile_key(fn, skip_first=True) if key is None and method else keyfn
    return CallKeys(keyfn, rest, sig.names if sig is not None else ())
