"""Read-only public attributes that show a private one: ``size: ReadOnly[int] = ReadOnly("_size")``.

One descriptor instead of a property per attribute where a class only exposes what it
keeps (a pool's options, a shared buffer's name and size). Its docstring is the string
on the line below, as for any attribute.
"""

from __future__ import annotations

import operator
from typing import Any, Generic, TypeVar, cast, overload

__all__ = ["ReadOnly"]

T = TypeVar("T")


class ReadOnly(Generic[T]):
    """An attribute that reads ``source`` (dotted names reach further: ``"_config.kind"``)
    and cannot be set."""

    def __init__(self, source: str) -> None:
        self._read = operator.attrgetter(source)
        self._name = source

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = f"{owner.__name__}.{name}"

    @overload
    def __get__(self, obj: None, owner: type) -> ReadOnly[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object, owner: type | None = None) -> ReadOnly[T] | T:
        if obj is None:
            return self
        return cast(T, self._read(obj))

    def __set__(self, obj: object, value: Any) -> None:
        raise AttributeError(f"{self._name} is read-only")
