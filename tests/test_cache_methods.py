"""offload.cached on methods: ``obj.method`` binds like the method, keys by instance
identity (weakly), and carries the cache controls for its instance."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import inspect
import threading
import weakref
from collections.abc import Callable
from typing import Any

import pytest

import offload
from offload._recipes import _hitpath


@pytest.fixture(params=[True, False], ids=["ready-hits", "async-hits"])
def ready_hits(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Which hit path the instances bound in the test get."""
    monkeypatch.setattr(_hitpath, "HITS_RETURN_READY", request.param)
    return bool(request.param)


class Shapes:
    """Methods of every shape the hit path distinguishes, each recording its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    @offload.cached(ttl=60)
    async def one(self, a: int) -> Any:
        self.calls.append((a,))
        return (a,)

    @offload.cached(ttl=60)
    async def two(self, a: int, b: int = 2) -> Any:
        self.calls.append((a, b))
        return (a, b)

    @offload.cached()
    async def kinds(self, a: int, /, b: int, *, c: int = 3) -> Any:
        self.calls.append((a, b, c))
        return (a, b, c)

    @offload.cached(ttl=60, resolution=0)
    async def exact(self, a: int, b: int, c: int, d: int = 4, e: int = 5) -> Any:
        self.calls.append((a, b, c, d, e))
        return (a, b, c, d, e)

    @offload.cached(ttl=60)
    async def many(self, a: int, b: int, c: int, d: int, e: int, f: int = 6) -> Any:
        self.calls.append((a, b, c, d, e, f))
        return (a, b, c, d, e, f)

    @offload.cached(ttl=60)
    async def variadic(self, *args: int, **kwargs: int) -> Any:
        self.calls.append((args, kwargs))
        return (args, sorted(kwargs.items()))

    @offload.cached(ttl=60)
    async def nothing(self) -> Any:
        self.calls.append(())
        return ()

    @offload.cached(ttl=60, key=lambda self, a, b=0: a)
    async def keyed(self, a: int, b: int = 0) -> Any:
        self.calls.append((a, b))
        return (a, b)


CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("one", (1,), {}),
    ("one", (), {"a": 1}),
    ("one", (1, 2), {}),
    ("one", (), {}),
    ("two", (1,), {}),
    ("two", (), {"a": 1, "b": 5}),
    ("two", (1,), {"c": 1}),
    ("kinds", (1, 2), {}),
    ("kinds", (1,), {"b": 2, "c": 9}),
    ("kinds", (), {"a": 1, "b": 2}),
    ("kinds", (1, 2, 3), {}),
    ("exact", (1, 2, 3), {"e": 0}),
    ("exact", (1,), {}),
    ("many", (1, 2, 3, 4, 5), {}),
    ("many", (1, 2, 3, 4), {"e": 5, "f": 0}),
    ("variadic", (1, 2), {"x": 3}),
    ("variadic", (), {}),
    ("nothing", (), {}),
    ("nothing", (1,), {}),
    ("keyed", (1,), {"b": 2}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), CALLS)
async def test_a_cached_method_binds_arguments_like_the_method(
    ready_hits: bool, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    shapes = Shapes()
    method: Any = getattr(shapes, name)
    original = getattr(Shapes, name).__wrapped__
    complaint: str | None = None
    try:
        expected = await original(Shapes(), *args, **kwargs)
    except TypeError as exc:
        complaint = str(exc)
    if complaint is not None:
        # The same complaint, naming the same parameter.
        with pytest.raises(TypeError) as caught:
            await method(*args, **kwargs)
        assert str(caught.value) == complaint
        return
    before = getattr(Shapes, name).info()
    assert await method(*args, **kwargs) == expected  # miss
    assert await method(*args, **kwargs) == expected  # hit
    assert await getattr(shapes, name)(*args, **kwargs) == expected  # hit, bound again
    after = getattr(Shapes, name).info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 2)
    assert len(shapes.calls) == 1
    assert inspect.signature(method) == inspect.signature(original.__get__(shapes))


async def test_instances_do_not_share_entries_even_when_equal(ready_hits: bool) -> None:
    @dataclasses.dataclass
    class Point:  # equal instances, unhashable (eq without frozen)
        x: int

        @offload.cached(ttl=60)
        async def scaled(self, k: int) -> int:
            return self.x * k

    a, b = Point(1), Point(1)
    assert await a.scaled(2) == 2
    b.x = 5
    assert await b.scaled(2) == 10
    assert await a.scaled(2) == 2
    assert Point.scaled.info().misses == 2


async def test_a_new_instance_at_a_dead_instances_address_gets_none_of_its_entries(
    ready_hits: bool,
) -> None:
    class Box:
        def __init__(self, value: int) -> None:
            self.value = value

        @offload.cached(ttl=60)
        async def get(self, k: int) -> int:
            return self.value

    first = Box(1)
    address = id(first)
    assert await first.get(0) == 1
    del first
    # CPython reuses the freed memory for the next object of the same size.
    boxes = [Box(value) for value in range(2, 100)]
    reused = [box for box in boxes if id(box) == address]
    if not reused:
        pytest.skip("no object was allocated at the freed address")
    box = reused[0]
    assert await box.get(0) == box.value  # its own call, not the dead instance's entry


async def test_a_temporary_instance_and_a_kept_bound_method_both_work(ready_hits: bool) -> None:
    class Service:
        def __init__(self, name: str) -> None:
            self.name = name

        @offload.cached(ttl=60)
        async def greet(self, who: str) -> str:
            return f"{self.name}: hi {who}"

    # The instance lives only as long as the expression: the bound method holds it.
    assert await Service("a").greet("x") == "a: hi x"
    greet = Service("b").greet
    gc.collect()
    assert await greet("y") == "b: hi y"
    assert greet.__self__.name == "b"


async def test_the_cache_holds_no_instance_and_forgets_it_when_it_goes(ready_hits: bool) -> None:
    class Thing:
        @offload.cached(ttl=60)
        async def get(self, k: int) -> int:
            return k

    thing = Thing()
    await thing.get(1)
    await thing.get(1)
    thing.get.invalidate(2)
    thing.get.options(bypass=True)
    ref = weakref.ref(thing)
    del thing
    gc.collect()
    assert ref() is None
    await Thing().get(3)  # a miss purges the dead instance's entry
    assert Thing.get.info().size == 1


async def test_bound_controls_act_on_their_instance_only(ready_hits: bool) -> None:
    class Repo:
        def __init__(self) -> None:
            self.calls = 0

        @offload.cached(ttl=60)
        async def get(self, k: int) -> int:
            self.calls += 1
            return self.calls

    a, b = Repo(), Repo()
    assert (await a.get(1), await b.get(1)) == (1, 1)
    assert a.get.invalidate(1) is True
    assert a.get.invalidate(1) is False
    assert (await a.get(1), await b.get(1)) == (2, 1)
    assert Repo.get.invalidate(b, 1) is True  # from the class, the same entry
    assert (await a.get(1), await b.get(1)) == (2, 2)
    assert await a.get.options(bypass=True)(1) == 3  # neither read nor stored
    assert await a.get(1) == 2
    token = offload.CancelToken()
    assert await b.get.options(token=token)(1) == 2  # a hit
    assert a.get.info() == Repo.get.info() == b.get.info()
    a.get.clear()
    assert Repo.get.info().size == 0
    assert a.get == a.get
    assert a.get != b.get


async def test_instances_that_refuse_weak_references_work(ready_hits: bool) -> None:
    class Slotted:
        __slots__ = ("value",)

        def __init__(self, value: int) -> None:
            self.value = value

        @offload.cached(ttl=60)
        async def get(self, k: int) -> int:
            return self.value + k

    a, b = Slotted(1), Slotted(10)
    assert (await a.get(1), await b.get(1), await a.get(1)) == (2, 11, 2)
    assert Slotted.get.info().misses == 2


async def test_an_unhashable_argument_names_the_parameter(ready_hits: bool) -> None:
    shapes = Shapes()
    with pytest.raises(TypeError, match="argument a"):
        await shapes.one([1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="argument b"):
        await shapes.two(1, [2])  # type: ignore[arg-type]


def test_one_instance_used_from_two_threads_each_with_its_loop() -> None:
    class Counter:
        def __init__(self) -> None:
            self.calls = 0

        @offload.cached(ttl=60)
        async def get(self, k: int) -> int:
            self.calls += 1
            await asyncio.sleep(0)
            return k * 2

    counter = Counter()
    start = threading.Barrier(4)
    results: list[list[int]] = []

    def run() -> None:
        async def many() -> list[int]:
            return [await counter.get(k % 10) for k in range(2000)]

        start.wait()
        results.append(asyncio.run(many()))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [[(k % 10) * 2 for k in range(2000)]] * 4
    # Each loop calls a missing key once at most; the others are hits.
    assert counter.calls <= 4 * 10


def test_bound_methods_pass_framework_checks(ready_hits: bool) -> None:
    shapes = Shapes()
    check: Callable[[object], bool] = inspect.iscoroutinefunction
    assert check(shapes.one)
    assert check(shapes.variadic)
    assert check(Shapes.one.__call__)
