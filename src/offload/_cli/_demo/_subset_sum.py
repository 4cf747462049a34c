"""The subset-sum search of the demo: every subset of ``data`` whose items add up to ``total``.

It is deliberately exhaustive (2**n subsets, like the example it comes from), so a
request is CPU work proportional to 2**len(data): the kind of work that freezes a server
when it runs on the event loop. One generator serves every strategy:

* :func:`search_steps` yields each match as a tuple and ``None`` every :data:`TICK`
  steps, so a caller can pause there (``offload.interleave``) or check for cancellation;
* :func:`matches` is the same search without the ticks;
* :func:`report_matches` is the pool task: it streams matches to the parent with
  ``offload.report`` and stops when the task's token is cancelled.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import offload

__all__ = ["TICK", "Match", "matches", "report_matches", "search_steps"]

Match = tuple[int, ...]

#: Steps of the search between two ticks: small enough that a tick comes every few
#: hundred microseconds, large enough that ticking costs nothing measurable.
TICK = 512


def search_steps(data: Sequence[int], total: int) -> Iterator[Match | None]:
    """Yield every non-empty subset of ``data`` summing to ``total``, and ``None`` as ticks.

    Subsets come in the order of the recursive search (first item first, then extended
    to the right); items keep their order in ``data``. Iterative, so no recursion limit.

    Example::

        >>> [m for m in search_steps([1, 2, 3], 3) if m is not None]
        [(1, 2), (3,)]
    """
    items = list(data)
    n = len(items)
    chosen: list[int] = []  # indices of the current subset
    sums = [0]  # sums[k]: sum of the first k chosen items
    nxt = 0  # next index to try adding
    steps = 0
    while True:
        if nxt < n:
            chosen.append(nxt)
            running = sums[-1] + items[nxt]
            sums.append(running)
            if running == total:
                yield tuple(items[i] for i in chosen)
            nxt += 1
        elif chosen:
            nxt = chosen.pop() + 1
            sums.pop()
        else:
            return
        steps += 1
        if steps >= TICK:
            steps = 0
            yield None


def matches(data: Sequence[int], total: int) -> Iterator[Match]:
    """Every non-empty subset of ``data`` summing to ``total``, as tuples.

    Example::

        >>> list(matches([1, 2, 3], 3))
        [(1, 2), (3,)]
    """
    for step in search_steps(data, total):
        if step is not None:
            yield step


def report_matches(data: Sequence[int], total: int, max_reported: int) -> int:
    """Pool task: report the first ``max_reported`` matches, return how many there are.

    Each reported match is a list (``offload.report(list)``); the count includes the
    matches not reported. Raises ``offload.Cancelled`` soon after the task's token is
    cancelled, so a cancelled request frees its worker without killing it.

    Example::

        handle = pool.submit(report_matches, [1, 2, 3], 3, 100)
        async for match in handle.progress():
            print(match)
        count = await handle
    """
    token = offload.current_token()
    count = 0
    for step in search_steps(data, total):
        if step is None:
            token.raise_if_cancelled()
            continue
        if count < max_reported:
            offload.report(list(step))
        count += 1
    return count
