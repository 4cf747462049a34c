"""Writes ``_hitpath_templates.py``: key functions and cached functions' hit paths, by shape.

Run ``python -m offload._recipes._hitpath_generator`` after changing this file; a test
checks that the module in the repository is what this generator writes.

A shape is what a hit returns (``ready``: the entry's completed future, for Python
3.11; ``async``: an ``async def`` returning the value, for 3.12+), how a hit is checked
and recorded (``coarse``: the entry's expiry is compared with a coarse clock's reading,
held in a cell, one instruction, and the entry, which carries its key, is appended to
the store's read buffer, which the store replays in order, LRU moves and hit count,
before anything looks at either, see :meth:`~offload._recipes._store.Store.drain`;
``exact``: the clock is called and the hit applies at once, its key moving in the LRU
order and the hit counter counting it), and how many parameters the function has (1 to
:data:`MAX_PARAMS`, or :data:`ANY`: any arguments, ``*args`` and ``**kwargs``, whose key
a key function computes). Parameters are named ``p0``, ``p1``, ... here; the hit path
module renames them to the cached function's own names (and sets its defaults and
kinds), so a call binds exactly like a call of the function itself. The key of one
parameter is the argument itself; of several, the tuple of them, in signature order
(what :func:`~offload._recipes._keys.signature_of` computes).

Each axis buys its variant, measured (docs/benchmarks.md): a coroutine where a plain
function returning the future would do costs 3.11 a third of a hit, and a future where
a coroutine would do costs 3.12+ twice that; the key function where the parameters
build the key costs about a bare ``await`` more; one body serving both clocks (a
failed test of the cell before the clock's call) costs the exact path about a tenth.
The rest is one template; a ``nonlocal`` counter in a hit path would cost a tenth of a
hit on 3.13, hence the list below.

Methods have their own factories, ``method_<shape>``: the hit path of ``obj.method``,
one function per instance (bound to it as a method: its first parameter is the
instance). The key is ``(owner, key of the other arguments)``, where ``owner`` (the
instance's :class:`~offload._recipes._methods.Owner`) is a free variable, ``_o_owner``,
given its own cell in each instance's function; the slow and error paths get the
instance after the key (``slow(key, self, *params)``), and with :data:`ANY` the key
function gets the instance first (``keyfn(self, *args, **kwargs)``).

The module also holds the key functions ``key_N`` for N parameters (0 to
:data:`MAX_KEY_PARAMS`), renamed the same way by :func:`~offload._recipes._keys.compile_key`:
``key_1`` returns its argument, the others the tuple of theirs.

Each factory takes the store's ``data``, the read buffer's ``append``, the key function
(used only by :data:`ANY`) and a list of what serves everything but a coarse clock's
hit (one free variable, so a hit's coroutine copies fewer; a list, whose
items the interpreter reads and writes in one specialized instruction each, where an
object's attributes called as methods are looked up the slow way on 3.11):
``[clock, move, slow, fail, hits]``: the clock, the store's ``move_to_end``, the slow
path (``slow(key, *params)``: exact time check, then a miss), the error path for an
unhashable argument (``fail(exc, *params)``) and the count of hits applied at once;
with :data:`ANY`, ``slow`` and ``fail`` take ``(args, kwargs)`` instead of the
parameters. It returns the hit path. Every name in a hit path starts with ``_o_``,
which no cached function's parameter may (they would collide once renamed).
"""

from __future__ import annotations

import sys
from pathlib import Path

MAX_PARAMS = 5
MAX_KEY_PARAMS = 8
ANY = 0  # the shape of a hit path taking any arguments
LINE_LENGTH = 100  # the formatter's (pyproject.toml)
TARGET = Path(__file__).with_name("_hitpath_templates.py")

HEADER = '''"""Hit paths of cached functions, one per shape. GENERATED: do not edit.

Written by ``_hitpath_generator.py`` (see there for what a shape is); run
``python -m offload._recipes._hitpath_generator`` to rewrite it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Factory = Callable[..., Any]

MAX_PARAMS = {max_params}
MAX_KEY_PARAMS = {max_key_params}
ANY = 0  # the shape of a hit path taking any arguments
'''

TEMPLATE = """

def {name}(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:{now}
    {kind}def _o_wrapper({params}) -> Any:{keyline}
        try:
            _o_entry = _o_data[{key}]{hit}
                return _o_entry[{result}]
        except KeyError:
            pass
        except TypeError as _o_exc:
            {error}
        return {await_}_o_paths[2]({key}, {args})

    return _o_wrapper
"""


METHOD_TEMPLATE = """

def {name}(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Any:{now}
    {kind}def _o_wrapper({params}) -> Any:
        _o_key = {key}
        try:
            _o_entry = _o_data[_o_key]{hit}
                return _o_entry[{result}]
        except KeyError:
            pass
        except TypeError as _o_exc:
            {error}
        return {await_}_o_paths[2](_o_key, {args})

    return _o_wrapper
"""


def key_function(arity: int) -> str:
    """The source of ``key_<arity>``."""
    # No other names inside, so the parameters need no reserved prefix.
    params = [f"a{i}" for i in range(arity)]
    result = params[0] if arity == 1 else f"({', '.join(params)})"
    signature = ", ".join(f"{p}: Any" for p in params)
    return f"\n\ndef key_{arity}({signature}) -> Any:\n    return {result}\n"


MODES = ("ready", "async")
CLOCKS = ("coarse", "exact")
NOW = "\n    _o_now: float = 0.0  # replaced by the coarse clock's cell\n"
OWNER = "\n    _o_owner: Any = None  # replaced by the instance's owner (one function each)\n"
HITS = {
    # Against the coarse clock's reading; the entry goes to the read buffer.
    "coarse": """
            if _o_entry[{field}] > _o_now:
                _o_read(_o_entry)""",
    # Against the clock; the key moves and the hit counts at once.
    "exact": """
            if _o_entry[{field}] > _o_paths[0]():
                _o_paths[1]({key})
                _o_paths[4] += 1""",
}
ARITIES = (*range(1, MAX_PARAMS + 1), ANY)


def name_of(mode: str, clock: str, arity: int) -> str:
    return f"{mode}_{clock}_{'any' if arity == ANY else arity}"


def factory(mode: str, clock: str, arity: int) -> str:
    """The source of one factory."""
    # Every name starts with ``_o_``, which no renamed parameter may (see signature_of).
    params = [f"_o_p{i}" for i in range(arity)]
    key = params[0] if arity == 1 else "_o_key"
    if arity == ANY:  # the key function binds the arguments (and raises for a wrong call)
        signature = "*_o_args: Any, **_o_kwargs: Any"
        keyline = "\n        _o_key = _o_keyfn(*_o_args, **_o_kwargs)"
        args = "_o_args, _o_kwargs"
    else:
        signature = ", ".join(f"{p}: Any" for p in params)
        keyline = "" if arity == 1 else f"\n        _o_key = ({', '.join(params)})"
        args = ", ".join(params)
    return TEMPLATE.format(
        name=name_of(mode, clock, arity),
        now=NOW if clock == "coarse" else "",
        hit=_hit(mode, clock, key),
        params=signature,
        keyline=keyline,
        key=key,
        **_by_mode(mode, args),
    )


def method_factory(mode: str, clock: str, arity: int) -> str:
    """The source of one method factory (``arity``: parameters after the instance)."""
    params = [f"_o_p{i}" for i in range(arity)]
    if arity == ANY:  # the key function binds the arguments (and raises for a wrong call)
        signature = "_o_self: Any, /, *_o_args: Any, **_o_kwargs: Any"
        key = "(_o_owner, _o_keyfn(_o_self, *_o_args, **_o_kwargs))"
        args = "_o_self, _o_args, _o_kwargs"
    else:
        signature = ", ".join(f"{p}: Any" for p in ["_o_self", *params])
        rest = params[0] if arity == 1 else f"({', '.join(params)})"
        key = f"(_o_owner, {rest})"
        args = ", ".join(["_o_self", *params])
    fields = _by_mode(mode, args)
    if len(f"    {fields['kind']}def _o_wrapper({signature}) -> Any:") > LINE_LENGTH:
        signature = f"\n        {signature}\n    "  # as the formatter wraps it
    return METHOD_TEMPLATE.format(
        name="method_" + name_of(mode, clock, arity),
        now=(NOW.rstrip("\n") if clock == "coarse" else "") + OWNER,
        hit=_hit(mode, clock, "_o_key"),
        params=signature,
        key=key,
        **fields,
    )


def _hit(mode: str, clock: str, key: str) -> str:
    """The hit check. The entry field compared: ready: hot_until (-inf until the
    entry's future exists); async: expires_at."""
    return HITS[clock].format(field=4 if mode == "ready" else 1, key=key)


def _by_mode(mode: str, args: str) -> dict[str, str | int]:
    """The template fields that differ between the two modes: what a hit returns (the
    entry's future, or its value from an ``async def``) and how errors leave."""
    ready = mode == "ready"
    return {
        "kind": "" if ready else "async ",
        "result": 3 if ready else 0,
        "error": (
            f"return _o_paths[3](_o_exc, {args})"
            if ready
            else f"raise _o_paths[3](_o_exc, {args}) from _o_exc"
        ),
        "await_": "" if ready else "await ",
        "args": args,
    }


def generate() -> str:
    """The whole module's source."""
    shapes = [(mode, clock, arity) for mode in MODES for clock in CLOCKS for arity in ARITIES]
    parts = [HEADER.format(max_params=MAX_PARAMS, max_key_params=MAX_KEY_PARAMS)]
    parts.extend(key_function(arity) for arity in range(MAX_KEY_PARAMS + 1))
    parts.extend(factory(*shape) for shape in shapes)
    parts.extend(method_factory(*shape) for shape in shapes)
    for table_name, prefix, what in (
        ("FACTORIES", "", "factory"),
        ("METHOD_FACTORIES", "method_", "method factory"),
    ):
        table = "".join(
            f'\n    ("{mode}", "{clock}", {arity}): {prefix}{name_of(mode, clock, arity)},'
            for mode, clock, arity in shapes
        )
        parts.append(
            f"\n\n# (mode, clock, parameters or ANY) -> {what}\n"
            f"{table_name}: dict[tuple[str, str, int], Factory] = {{{table}\n}}\n"
        )
    keys = "".join(f"\n    {arity}: key_{arity}," for arity in range(MAX_KEY_PARAMS + 1))
    parts.append(
        "\n# parameters -> key function\n"
        f"KEY_FUNCTIONS: dict[int, Callable[..., Any]] = {{{keys}\n}}\n"
    )
    return "".join(parts)


def main() -> int:
    TARGET.write_text(generate())
    print(f"wrote {TARGET.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
