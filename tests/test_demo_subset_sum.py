"""The demo's subset-sum search: exactly the subsets that add up, in a stable order."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from offload._cli._demo._subset_sum import TICK, matches, search_steps


def brute_force(data: list[int], total: int) -> list[tuple[int, ...]]:
    found = []
    for size in range(1, len(data) + 1):
        for combo in itertools.combinations(range(len(data)), size):
            if sum(data[i] for i in combo) == total:
                found.append(tuple(data[i] for i in combo))
    return found


@given(st.lists(st.integers(-6, 6), max_size=9), st.integers(-10, 10))
def test_matches_are_exactly_the_subsets_with_that_sum(data: list[int], total: int) -> None:
    assert sorted(matches(data, total)) == sorted(brute_force(data, total))


def test_matches_come_in_the_order_of_the_recursive_search() -> None:
    assert list(matches([1, 2, 3], 3)) == [(1, 2), (3,)]
    assert list(matches([2, -2, 0], 0)) == [(2, -2), (2, -2, 0), (0,)]


def test_the_empty_subset_is_never_a_match() -> None:
    assert list(matches([], 0)) == []
    assert list(matches([5], 0)) == []


def test_search_ticks_regularly_even_without_matches() -> None:
    data = [2] * 14  # every sum is even: an odd total never matches
    steps = list(search_steps(data, 1))
    assert all(step is None for step in steps)
    # 2**14 subsets are entered and left again: about two steps per subset.
    assert len(steps) >= (2 * 2**14 - 2) // TICK
