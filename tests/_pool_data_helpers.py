"""Callables with state, for the tests of what a process task sees of its callable.

Importable by reference from a worker; the state lives in the instances, partials and
closures, which the tests mutate between calls.
"""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Callable
from typing import Any, ClassVar


class Scaler:
    """A bound method over mutable state (an attribute and a list)."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.extra: list[int] = []

    def apply(self, x: int) -> int:
        return x * self.k + sum(self.extra)


class Affine:
    """A callable object."""

    def __init__(self, a: int, b: int) -> None:
        self.a = a
        self.b = b

    def __call__(self, x: int) -> int:
        return self.a * x + self.b


class Counter:
    """A callable object that changes itself when called."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> int:
        self.count += 1
        return self.count


def affine(state: dict[str, int], x: int) -> int:
    """Used through functools.partial(affine, state) with a dict the test mutates."""
    return state["a"] * x + state["b"]


def add(a: int, x: int) -> int:
    return a + x


def make_closure(start: int) -> tuple[Callable[[int], int], Callable[[int], None]]:
    """A closure and the setter of the variable it reads."""
    k = start

    def scaled(x: int) -> int:
        return x * k

    def set_k(value: int) -> None:
        nonlocal k
        k = value

    return scaled, set_k


def exit_now(code: Any) -> None:
    sys.exit(code)


def interrupt() -> None:
    raise KeyboardInterrupt


class Stop(BaseException):
    """A BaseException that is not an Exception, defined by the application."""


def raise_stop() -> None:
    raise Stop("stop")


def first_item(values: Any) -> float:
    return float(values[0])


async def async_double(x: int) -> int:
    return 2 * x


async def async_numbers(n: int) -> Any:
    for i in range(n):
        yield i


class AsyncCallable:
    async def __call__(self, x: int) -> int:
        return x


class AsyncMethods:
    async def double(self, x: int) -> int:
        return 2 * x


FACTOR = 2
OFFSETS = [0]


def make_global_readers() -> tuple[Callable[[int], int], Callable[[int], int]]:
    """Lambdas (pickled by value) that read a rebound global and a mutated global list."""
    return (lambda x: x * FACTOR), (lambda x: x + sum(OFFSETS))


def make_counting_closure() -> Callable[[], int]:
    """A closure over an int that it changes when called."""
    n = 0

    def count() -> int:
        nonlocal n
        n += 1
        return n

    return count


class TwoArgError(Exception):
    """An exception that pickles but cannot be unpickled (its __init__ needs two args)."""

    def __init__(self, what: str, code: int) -> None:
        super().__init__(f"{what} failed with {code}")
        self.code = code


def raise_two_arg_error() -> None:
    raise TwoArgError("upload", 7)


class Tracked:
    """Counted while alive (in the process that holds it)."""

    alive: ClassVar[weakref.WeakSet[Tracked]] = weakref.WeakSet()

    def __init__(self) -> None:
        Tracked.alive.add(self)

    def __reduce__(self) -> tuple[type[Tracked], tuple[()]]:
        return (Tracked, ())  # unpickling counts the copy too


def make_tracked(arg: object = None) -> Tracked:
    return Tracked()


def tracked_alive(arg: object = None) -> int:
    gc.collect()
    return len(Tracked.alive)
