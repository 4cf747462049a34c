"""Writes ``_hitpath_templates.py``: key functions and cached functions' hit paths, by shape.

Run ``python -m offload._recipes._hitpath_generator`` after changing this file; a test
checks that the module in the repository is what this generator writes.

A shape is what a hit returns (``ready``: the entry's completed future, for Python
3.11; ``async``: an ``async def`` returning the value, for 3.12+) and how many
parameters the function has (1 to :data:`MAX_PARAMS`, or :data:`ANY`: any arguments,
``*args`` and ``**kwargs``, whose key a key function computes). Parameters are named
``p0``, ``p1``, ... here; the hit path module renames them to the cached function's own
names (and sets its defaults and kinds), so a call binds exactly like a call of the
function itself. The key of one parameter is the argument itself; of several, the tuple
of them, in signature order (what :func:`~offload._recipes._keys.signature_of`
computes). Each shape is one function: the parameters decide the bytecode that builds
the key and passes the arguments on, and a call through a shared body would cost more
than the rest of a hit (see docs/benchmarks.md).

How a hit is checked and recorded is a value, not a shape. With a coarse clock, the
entry's expiry is compared with the clock's reading, held in a cell (one instruction),
and the entry (which carries its key) is appended to the store's read buffer
(``read``), which the store replays in order, LRU moves and hit count, before anything
looks at either (:meth:`~offload._recipes._store.Store.drain`); the clock given then
reads +inf, so an entry that the reading finds expired goes to the slow path. Without
one, the cell holds +inf, so the first test always fails, the clock is called, and a
hit applies at once: its key moves in the LRU order (``move``) and the hit counter
counts it. A hit through a coarse clock runs no instruction of the other way.
(A ``nonlocal`` counter in the hit path would cost a tenth of a hit on 3.13.)

The module also holds the key functions ``key_N`` for N parameters (0 to
:data:`MAX_KEY_PARAMS`), renamed the same way by :func:`~offload._recipes._keys.compile_key`:
``key_1`` returns its argument, the others the tuple of theirs.

Each factory takes the store's ``data``, the read buffer's ``append``, the key function
(used only by :data:`ANY`) and an object whose attributes serve everything but a hit
through a coarse clock (one free variable, so a hit's coroutine copies fewer): ``clock``,
``move`` (the store's ``move_to_end``), ``hits`` (the count of hits applied at once),
``slow`` (``slow(key, *params)``: exact time check, then a miss) and ``fail`` (for an
unhashable argument, ``fail(exc, *params)``); with :data:`ANY`, ``slow`` and ``fail``
take ``(args, kwargs)`` instead of the parameters. It returns the hit path. Every name
in a hit path starts with ``_o_``, which no cached function's parameter may (they would
collide once renamed).
"""

from __future__ import annotations

import sys
from pathlib import Path

MAX_PARAMS = 5
MAX_KEY_PARAMS = 8
ANY = 0  # the shape of a hit path taking any arguments
TARGET = Path(__file__).with_name("_hitpath_templates.py")

HEADER = '''"""Hit paths of cached functions, one per shape. GENERATED: do not edit.

Written by ``_hitpath_generator.py`` (see there for what a shape is); run
``python -m offload._recipes._hitpath_generator`` to rewrite it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Factory = Callable[..., Callable[..., Any]]

MAX_PARAMS = {max_params}
MAX_KEY_PARAMS = {max_key_params}
ANY = 0  # the shape of a hit path taking any arguments
'''

TEMPLATE = """

def {name}(_o_data: Any, _o_read: Any, _o_keyfn: Any, _o_paths: Any) -> Callable[..., Any]:
    _o_now: float = 0.0  # replaced by the coarse clock's cell, or +inf without one

    {kind}def _o_wrapper({params}) -> Any:{keyline}
        try:
            _o_entry = _o_data[{key}]
            if _o_entry[{field}] > _o_now:
                _o_read(_o_entry)
                return _o_entry[{result}]
            if _o_entry[{field}] > _o_paths.clock():
                _o_paths.move({key})
                _o_paths.hits += 1
                return _o_entry[{result}]
        except KeyError:
            pass
        except TypeError as _o_exc:
            {error}
        return {await_}_o_paths.slow({key}, {args})

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
ARITIES = (*range(1, MAX_PARAMS + 1), ANY)


def name_of(mode: str, arity: int) -> str:
    return f"{mode}_{'any' if arity == ANY else arity}"


def factory(mode: str, arity: int) -> str:
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
    ready = mode == "ready"
    return TEMPLATE.format(
        name=name_of(mode, arity),
        kind="" if ready else "async ",
        params=signature,
        keyline=keyline,
        key=key,
        # ready: hot_until (-inf until the entry's future exists) and the future;
        # async: expires_at and the value.
        field=4 if ready else 1,
        result=3 if ready else 0,
        error=(
            f"return _o_paths.fail(_o_exc, {args})"
            if ready
            else f"raise _o_paths.fail(_o_exc, {args}) from _o_exc"
        ),
        await_="" if ready else "await ",
        args=args,
    )


def generate() -> str:
    """The whole module's source."""
    shapes = [(mode, arity) for mode in MODES for arity in ARITIES]
    parts = [HEADER.format(max_params=MAX_PARAMS, max_key_params=MAX_KEY_PARAMS)]
    parts.extend(key_function(arity) for arity in range(MAX_KEY_PARAMS + 1))
    parts.extend(factory(*shape) for shape in shapes)
    table = "".join(f'\n    ("{mode}", {arity}): {name_of(mode, arity)},' for mode, arity in shapes)
    parts.append(
        "\n\n# (mode, parameters or ANY) -> factory\n"
        f"FACTORIES: dict[tuple[str, int], Factory] = {{{table}\n}}\n"
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
