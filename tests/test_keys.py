"""Argument keys: bound like the signature binds them, and clear errors when unhashable."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offload._recipes._keys import compile_key, make_key, signature_of, unhashable_error


def f(a: int, b: int = 2, /, c: int = 3, *, d: int, e: int = 5) -> None: ...


def test_a_fixed_signature_binds_defaults_and_keywords_into_one_key() -> None:
    key = compile_key(f)
    assert key(1, d=4) == key(1, 2, c=3, d=4, e=5) == key(1, 2, 3, e=5, d=4)
    assert key(1, d=4) != key(1, d=5)


def test_a_single_parameter_is_its_own_key() -> None:
    async def one(x: object) -> None: ...

    assert compile_key(one)("abc") == "abc"
    assert compile_key(one)(x=("t",)) == ("t",)


def test_a_wrong_call_raises_the_functions_own_type_error() -> None:
    with pytest.raises(TypeError):
        compile_key(f)(1)  # d is missing


def test_methods_skip_the_instance() -> None:
    def method(self: object, x: int, *, y: int = 1) -> None: ...

    key = compile_key(method, skip_first=True)
    assert key(5) == key(5, y=1) == (5, 1)


def test_variadic_and_odd_signatures_fall_back_to_the_generic_key() -> None:
    def variadic(*args: Any, **kwargs: Any) -> None: ...

    def reserved(_o_key: int) -> None: ...

    assert signature_of(variadic) is None
    assert signature_of(reserved) is None
    assert compile_key(variadic)(1, b=2) == compile_key(variadic)(1, b=2)
    assert compile_key(variadic)(1, b=2) != compile_key(variadic)(1, 2)


@given(
    args=st.lists(st.integers() | st.text(), max_size=4).map(tuple),
    kwargs=st.dictionaries(st.sampled_from("abcd"), st.integers(), max_size=3),
)
def test_generic_keys_ignore_keyword_order_and_separate_positional_from_keyword(
    args: tuple[object, ...], kwargs: dict[str, int]
) -> None:
    reordered = dict(reversed(list(kwargs.items())))
    assert make_key(args, kwargs) == make_key(args, reordered)
    assert hash(make_key(args, kwargs)) == hash(make_key(args, reordered))
    if kwargs:
        assert make_key(args, kwargs) != make_key((*args, *kwargs.values()), {})


def test_unhashable_error_names_the_argument_and_says_what_to_do() -> None:
    error = unhashable_error("get()", (1, [2]), {}, TypeError("unhashable type: 'list'"))
    assert "get(): positional argument 1 (list [2])" in str(error)
    assert "key=" in str(error)
    error = unhashable_error("get()", (1,), {"tags": {1}}, TypeError("x"))
    assert "argument tags (set {1})" in str(error)


def test_unhashable_error_uses_parameter_names_when_known() -> None:
    error = unhashable_error("get()", (1, [2]), {}, TypeError("x"), names=("user", "fields"))
    assert "get(): argument fields (list [2])" in str(error)


def test_many_parameters_bind_into_one_key_too() -> None:
    def many(
        a: int, b: int, c: int, d: int, e: int, f: int, g: int, h: int, i: int = 8
    ) -> None: ...

    key = compile_key(many)
    assert key(*range(8)) == key(*range(5), f=5, g=6, h=7, i=8) == tuple(range(9))
    with pytest.raises(TypeError):
        key(1)
