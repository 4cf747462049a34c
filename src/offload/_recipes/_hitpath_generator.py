"""Writes ``_hitpath_templates.py``: key functions and cached functions' hit paths, by shape.

Run ``python -m offload._recipes._hitpath_generator`` after changing this file; a test
checks that the module in the repository is what this generator writes.

A shape is: what a hit returns (``ready``: the entry's completed future, for Python
3.11; ``async``: an ``async def`` returning the value, for 3.12+), how freshness is
tested (``cell``: against a clock reading held in a cell, a single instruction;
``call``: by calling the clock), how a hit is recorded (``move``: its key moves in the
LRU order and the hit counter counts it, at once; ``keep``: only the counter;
``read``: its entry (which carries its key) is appended to the store's read buffer,
which the store replays in order, LRU moves and hit count, before anything looks at
either; see
:meth:`~offload._recipes._store.Store.drain`), and how many parameters the function has (1 to
:data:`MAX_PARAMS`, or :data:`ANY`: any arguments, ``*args`` and ``**kwargs``, whose key
a key function computes). Parameters are named ``p0``, ``p1``, ... here; the hit path module
renames them to the cached function's own names (and sets its defaults and kinds), so
a call binds exactly like a call of the function itself. The key of one parameter is
the argument itself; of several, the tuple of them, in signature order (what
:func:`~offload._recipes._keys.signature_of` computes).

The module also holds the key functions ``key_N`` for N parameters (0 to
:data:`MAX_KEY_PARAMS`), renamed the same way by :func:`~offload._recipes._keys.compile_key`:
``key_1`` returns its argument, the others the tuple of theirs.

Each factory takes the store's ``data`` and ``move_to_end`` (``read`` shapes: the read
buffer's ``append``), the clock, the slow path
(``slow(key, *params)``: exact time check, then a miss), the error path for an
unhashable argument (``fail(exc, *params)``) and the key function; with :data:`ANY`,
``slow`` and ``fail`` take ``(args, kwargs)`` instead of the parameters, and only then
is the key function used. It returns ``(wrapper, count)``: the function and a reader of
its hit counter. Every name in a hit path starts with ``_o_``, which no cached
function's parameter may (they would collide once renamed).
"""

from __future__ import annotations

import itertools
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

Factory = Callable[..., tuple[Callable[..., Any], Callable[[], int]]]

MAX_PARAMS = {max_params}
MAX_KEY_PARAMS = {max_key_params}
ANY = 0  # the shape of a hit path taking any arguments
'''

TEMPLATE = """

def {name}(
    _o_data: Any, _o_move: Any, _o_clock: Any, _o_slow: Any, _o_fail: Any, _o_keyfn: Any
) -> tuple[Any, Any]:
    _o_hits = 0{now}

    {kind}def _o_wrapper({params}) -> Any:{nonlocal_line}{keyline}
        try:
            _o_entry = _o_data[{key}]
            if {fresh}:{move}{count}
                return {result}
        except KeyError:
            pass
        except TypeError as _o_exc:
            {error}
        return {await_}_o_slow({key}, {args})

    def _o_count() -> int:
        return _o_hits

    return _o_wrapper, _o_count
"""


def key_function(arity: int) -> str:
    """The source of ``key_<arity>``."""
    # No other names inside, so the parameters need no reserved prefix.
    params = [f"a{i}" for i in range(arity)]
    result = params[0] if arity == 1 else f"({', '.join(params)})"
    signature = ", ".join(f"{p}: Any" for p in params)
    return f"\n\ndef key_{arity}({signature}) -> Any:\n    return {result}\n"


RECORDS = ("move", "keep", "read")


def name_of(mode: str, fresh: str, record: str, arity: int) -> str:
    return f"{mode}_{fresh}_{record}_{'any' if arity == ANY else arity}"


def factory(mode: str, fresh: str, record: str, arity: int) -> str:
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
    # ready: hot_until (-inf until the entry's future exists); async: expires_at.
    field = 4 if mode == "ready" else 1
    reading = "_o_now" if fresh == "cell" else "_o_clock()"
    return TEMPLATE.format(
        name=name_of(mode, fresh, record, arity),
        now="\n    _o_now: float = 0.0  # replaced by the clock's cell" if fresh == "cell" else "",
        kind="" if mode == "ready" else "async ",
        params=signature,
        keyline=keyline,
        key=key,
        fresh=f"_o_entry[{field}] > {reading}",
        nonlocal_line="" if record == "read" else "\n        nonlocal _o_hits",
        move={"keep": "", "move": f"\n                _o_move({key})"}.get(
            record, "\n                _o_move(_o_entry)"
        ),
        count="" if record == "read" else "\n                _o_hits += 1",
        result="_o_entry[3]" if mode == "ready" else "_o_entry[0]",
        error=(
            f"return _o_fail(_o_exc, {args})"
            if mode == "ready"
            else f"raise _o_fail(_o_exc, {args}) from _o_exc"
        ),
        await_="" if mode == "ready" else "await ",
        args=args,
    )


def generate() -> str:
    """The whole module's source."""
    shapes = list(
        itertools.product(
            ("ready", "async"), ("cell", "call"), RECORDS, (*range(1, MAX_PARAMS + 1), ANY)
        )
    )
    parts = [HEADER.format(max_params=MAX_PARAMS, max_key_params=MAX_KEY_PARAMS)]
    parts.extend(key_function(arity) for arity in range(MAX_KEY_PARAMS + 1))
    parts.extend(factory(*shape) for shape in shapes)
    table = "".join(
        f'\n    ("{mode}", "{fresh}", "{record}", {arity}): {name_of(mode, fresh, record, arity)},'
        for mode, fresh, record, arity in shapes
    )
    parts.append(
        "\n\n# (mode, fresh, record, parameters or ANY) -> factory\n"
        f"FACTORIES: dict[tuple[str, str, str, int], Factory] = {{{table}\n}}\n"
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
