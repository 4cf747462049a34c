"""The generated hit paths: the checked-in module is the generator's output, and a
cached function binds its arguments exactly like the function it wraps."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import offload
from offload._recipes import _hitpath, _hitpath_generator


@pytest.fixture(params=[True, False], ids=["ready-hits", "async-hits"])
def ready_hits(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(_hitpath, "HITS_RETURN_READY", request.param)
    return bool(request.param)


def test_the_checked_in_hit_paths_are_what_the_generator_writes() -> None:
    checked_in = Path(_hitpath_generator.TARGET).read_text()
    assert checked_in == _hitpath_generator.generate(), (
        "run `python -m offload._recipes._hitpath_generator` and commit the result"
    )


async def f1(a: int, /) -> Any:
    return (a,)


async def f2(a: int, b: int = 2) -> Any:
    return (a, b)


async def f3(a: int, /, b: int, *, c: int = 3) -> Any:
    return (a, b, c)


async def k1(*, name: str = "x") -> Any:
    return (name,)


async def f5(a: int, b: int, c: int, d: int = 4, e: int = 5) -> Any:
    return (a, b, c, d, e)


async def f10(
    a: int, b: int, c: int, d: int, e: int, f: int, g: int, h: int, i: int, j: int = 0
) -> Any:
    return (a, b, c, d, e, f, g, h, i, j)


CALLS: list[tuple[Callable[..., Awaitable[Any]], tuple[Any, ...], dict[str, Any]]] = [
    (f1, (1,), {}),
    (f1, (), {"a": 1}),
    (f1, (1, 2), {}),
    (f2, (1,), {}),
    (f2, (), {"a": 1, "b": 5}),
    (f2, (1,), {"c": 1}),
    (f3, (1, 2), {}),
    (f3, (1,), {"b": 2, "c": 9}),
    (f3, (1, 2, 3), {}),
    (k1, (), {}),
    (k1, (), {"name": "y"}),
    (k1, ("y",), {}),
    (f5, (1, 2, 3), {"e": 0}),
    (f5, (1,), {}),
    (f10, tuple(range(9)), {}),
    (f10, tuple(range(5)), {"f": 5, "g": 6, "h": 7, "i": 8, "j": 0}),
]


@pytest.mark.parametrize(("fn", "args", "kwargs"), CALLS)
@pytest.mark.parametrize(
    "settings", [{"ttl": 60}, {}, {"maxsize": None}, {"ttl": 60, "resolution": 0}]
)
async def test_a_cached_function_binds_arguments_like_the_function(
    ready_hits: bool,
    fn: Callable[..., Awaitable[Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    settings: dict[str, Any],
) -> None:
    wrapped: Any = offload.cached(**settings)(fn)
    try:
        expected = await fn(*args, **kwargs)
    except TypeError as exc:
        complaint = str(exc).split("()", 1)[-1]
    else:
        complaint = None
    if complaint is not None:
        with pytest.raises(TypeError) as caught:
            await wrapped(*args, **kwargs)
        # The same complaint, naming the same parameter.
        assert str(caught.value).split("()", 1)[-1] == complaint
        return
    assert await wrapped(*args, **kwargs) == expected  # miss
    assert await wrapped(*args, **kwargs) == expected  # hit
    info = wrapped.info()
    assert (info.misses, info.hits) == (1, 1)
    assert inspect.signature(wrapped) == inspect.signature(fn)
