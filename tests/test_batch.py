"""offload.Batcher: loads of one tick become one load_many call, cancel-safe, cached."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

import offload
from offload._clock import ManualClock


class Source:
    """A load_many that records its batches and can be held, failed or broken."""

    def __init__(self) -> None:
        self.batches: list[list[object]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.started = asyncio.Event()
        self.cancelled = 0
        self.raise_error: BaseException | None = None
        self.wrong_count = False
        self.per_key_errors: set[object] = set()

    async def __call__(self, keys: list[object]) -> Sequence[object]:
        self.batches.append(list(keys))
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.raise_error is not None:
            raise self.raise_error
        results: list[object] = [KeyError(k) if k in self.per_key_errors else f"v{k}" for k in keys]
        return results[:-1] if self.wrong_count else results


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_loads_of_one_tick_become_one_call() -> None:
    source = Source()
    batcher = offload.Batcher(source)
    results = await asyncio.gather(*(batcher.load(i) for i in range(5)))
    assert results == ["v0", "v1", "v2", "v3", "v4"]
    assert source.batches == [[0, 1, 2, 3, 4]]


async def test_duplicate_keys_are_loaded_once() -> None:
    source = Source()
    batcher = offload.Batcher(source)
    results = await asyncio.gather(batcher.load(1), batcher.load(2), batcher.load(1))
    assert results == ["v1", "v2", "v1"]
    assert source.batches == [[1, 2]]


async def test_max_batch_splits_batches() -> None:
    source = Source()
    batcher = offload.Batcher(source, max_batch=2)
    results = await batcher.load_all(range(5))
    assert results == ["v0", "v1", "v2", "v3", "v4"]
    assert source.batches == [[0, 1], [2, 3], [4]]


async def test_delay_collects_loads_across_ticks() -> None:
    source = Source()
    batcher = offload.Batcher(source, delay=0.3)
    first = asyncio.create_task(batcher.load(1))
    await settle()  # a few ticks later, well within the delay
    second = asyncio.create_task(batcher.load(2))
    assert await asyncio.gather(first, second) == ["v1", "v2"]
    assert source.batches == [[1, 2]]


async def test_values_are_cached_and_errors_are_not() -> None:
    source = Source()
    source.per_key_errors = {2}
    batcher = offload.Batcher(source)
    results = await batcher.load_all([1, 2], return_exceptions=True)
    assert results[0] == "v1"
    assert isinstance(results[1], KeyError)
    source.per_key_errors = set()
    assert await batcher.load_all([1, 2]) == ["v1", "v2"]
    assert source.batches == [[1, 2], [2]]


async def test_a_per_key_error_fails_only_that_key() -> None:
    source = Source()
    source.per_key_errors = {2}
    batcher = offload.Batcher(source)
    one, two, three = await asyncio.gather(
        batcher.load(1), batcher.load(2), batcher.load(3), return_exceptions=True
    )
    assert (one, three) == ("v1", "v3")
    assert isinstance(two, KeyError)


async def test_load_all_raises_the_first_error_unless_asked_to_return_them() -> None:
    source = Source()
    source.per_key_errors = {2}
    batcher = offload.Batcher(source, cache=False)
    with pytest.raises(KeyError):
        await batcher.load_all([1, 2, 3])


async def test_a_wrong_result_count_fails_every_waiter_with_batch_error() -> None:
    source = Source()
    source.wrong_count = True
    batcher = offload.Batcher(source)
    results = await asyncio.gather(
        batcher.load(1), batcher.load(2), batcher.load(3), return_exceptions=True
    )
    assert all(isinstance(r, offload.BatchError) for r in results)
    assert "returned 2 results for 3 keys" in str(results[0])
    source.wrong_count = False
    assert await batcher.load(1) == "v1"  # nothing wrong was cached
    assert source.batches[-1] == [1]


async def test_a_result_that_is_not_a_sequence_is_a_batch_error() -> None:
    async def broken(keys: list[int]) -> Sequence[str]:
        return None  # type: ignore[return-value]

    batcher = offload.Batcher(broken)
    with pytest.raises(offload.BatchError, match="NoneType"):
        await batcher.load(1)


async def test_load_many_raising_reaches_every_waiter_and_nothing_is_cached() -> None:
    source = Source()
    source.raise_error = ConnectionError("database down")
    batcher = offload.Batcher(source)
    results = await asyncio.gather(batcher.load(1), batcher.load(2), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    source.raise_error = None
    assert await batcher.load_all([1, 2]) == ["v1", "v2"]
    assert len(source.batches) == 2


async def test_a_cancelled_caller_does_not_cancel_the_batch_for_others() -> None:
    source = Source()
    source.release.clear()
    batcher = offload.Batcher(source)
    leaving = asyncio.create_task(batcher.load(1))
    staying = asyncio.create_task(batcher.load(2))
    await source.started.wait()
    leaving.cancel()
    await settle()
    source.release.set()
    assert await staying == "v2"
    assert source.cancelled == 0
    # The key of the caller that left was still loaded and cached: it is not poisoned.
    assert await batcher.load(1) == "v1"
    assert source.batches == [[1, 2]]


async def test_a_cancelled_joiner_of_the_same_key_does_not_disturb_the_first() -> None:
    source = Source()
    source.release.clear()
    batcher = offload.Batcher(source)
    first = asyncio.create_task(batcher.load(1))
    joiner = asyncio.create_task(batcher.load(1))
    await source.started.wait()
    joiner.cancel()
    await settle()
    source.release.set()
    assert await first == "v1"
    assert joiner.cancelled()


async def test_when_every_caller_leaves_the_batch_is_cancelled_and_nothing_cached() -> None:
    source = Source()
    source.release.clear()
    batcher = offload.Batcher(source)
    tasks = [asyncio.create_task(batcher.load(k)) for k in (1, 2)]
    await source.started.wait()
    for task in tasks:
        task.cancel()
    await settle()
    assert source.cancelled == 1
    source.release.set()
    assert await batcher.load(1) == "v1"
    assert source.batches == [[1, 2], [1]]


async def test_callers_leaving_before_dispatch_send_nothing() -> None:
    source = Source()
    batcher = offload.Batcher(source, delay=30)
    task = asyncio.create_task(batcher.load(1))
    await settle()
    task.cancel()
    await settle()
    assert batcher._batch is None  # the open batch and its timer are gone
    assert not batcher._pending
    assert source.batches == []


async def test_a_cancelled_token_makes_only_that_caller_leave() -> None:
    source = Source()
    source.release.clear()
    batcher = offload.Batcher(source)
    token = offload.CancelToken()
    leaving = asyncio.create_task(batcher.load(1, token=token))
    staying = asyncio.create_task(batcher.load(1))
    await source.started.wait()
    token.cancel("timeout")
    with pytest.raises(offload.Cancelled):
        await leaving
    source.release.set()
    assert await staying == "v1"
    assert source.cancelled == 0


async def test_load_all_with_a_cancelled_token_leaves_with_cancelled() -> None:
    source = Source()
    source.release.clear()
    batcher = offload.Batcher(source)
    token = offload.CancelToken()
    task = asyncio.create_task(batcher.load_all([1, 2], token=token))
    await source.started.wait()
    token.cancel()
    with pytest.raises(offload.Cancelled):
        await task
    await settle()
    assert source.cancelled == 1  # its callers were the only ones


async def test_prime_and_clear() -> None:
    source = Source()
    batcher = offload.Batcher(source)
    batcher.prime(1, "primed")
    batcher.prime(1, "ignored: already cached")
    assert await batcher.load(1) == "primed"
    batcher.clear(1)
    assert await batcher.load(1) == "v1"
    batcher.clear_all()
    assert await batcher.load(1) == "v1"
    assert source.batches == [[1], [1]]


async def test_clearing_during_a_load_keeps_its_result_out_of_the_cache() -> None:
    source = Source()
    source.release.clear()
    batcher = offload.Batcher(source)
    task = asyncio.create_task(batcher.load(1))
    await source.started.wait()
    batcher.clear(1)
    source.release.set()
    assert await task == "v1"
    await batcher.load(1)
    assert source.batches == [[1], [1]]


async def test_cache_false_and_a_size_bound() -> None:
    source = Source()
    uncached = offload.Batcher(source, cache=False)
    await uncached.load(1)
    await uncached.load(1)
    assert source.batches == [[1], [1]]
    uncached.prime(1, "no-op")
    assert await uncached.load(1) == "v1"

    source = Source()
    small = offload.Batcher(source, cache=2)
    await small.load_all([1, 2, 3])
    await small.load(1)  # evicted (least recently used)
    await small.load(3)  # still cached
    assert source.batches == [[1, 2, 3], [1]]


async def test_ttl_expires_cached_values() -> None:
    clock = ManualClock()
    source = Source()
    batcher = offload.Batcher(source, ttl=10, clock=clock)
    await batcher.load(1)
    clock.advance(5)
    await batcher.load(1)
    clock.advance(6)
    await batcher.load(1)
    assert source.batches == [[1], [1]]


async def test_unhashable_keys_are_type_errors() -> None:
    batcher = offload.Batcher(Source())
    with pytest.raises(TypeError, match=r"Batcher.load\(\): the key \[1\] \(list\) is unhashable"):
        await batcher.load([1])


def test_bad_settings_are_value_errors() -> None:
    source = Source.__new__(Source)
    with pytest.raises(ValueError, match="max_batch"):
        offload.Batcher(source, max_batch=0)
    with pytest.raises(ValueError, match="delay"):
        offload.Batcher(source, delay=-1)
    with pytest.raises(ValueError, match="cache"):
        offload.Batcher(source, cache=-3)


def test_not_bound_to_one_event_loop() -> None:
    batches: list[list[int]] = []

    async def load_many(keys: list[int]) -> list[int]:
        batches.append(keys)
        await asyncio.sleep(0)
        return [k * 10 for k in keys]

    batcher = offload.Batcher(load_many)
    assert asyncio.run(batcher.load_all([1, 2])) == [10, 20]
    assert asyncio.run(batcher.load_all([2, 3])) == [20, 30]
    assert batches == [[1, 2], [3]]


async def test_ten_thousand_concurrent_loads_of_one_key_make_one_call() -> None:
    source = Source()
    source.release.clear()
    batcher = offload.Batcher(source)
    tasks = [asyncio.create_task(batcher.load("cold")) for _ in range(10_000)]
    await source.started.wait()
    source.release.set()
    assert set(await asyncio.gather(*tasks)) == {"vcold"}
    assert source.batches == [["cold"]]


async def test_a_token_cancelled_from_another_thread_makes_the_caller_leave() -> None:
    import threading

    source = Source()
    source.release.clear()
    batcher = offload.Batcher(source)
    token = offload.CancelToken()
    leaving = asyncio.create_task(batcher.load(1, token=token))
    staying = asyncio.create_task(batcher.load(2))
    await source.started.wait()
    thread = threading.Thread(target=token.cancel, args=("from a thread",))
    thread.start()
    thread.join()
    with pytest.raises(offload.Cancelled, match="from a thread"):
        await leaving
    source.release.set()
    assert await staying == "v2"
    assert source.cancelled == 0


def test_works_under_uvloop() -> None:
    import uvloop

    calls: list[list[int]] = []

    async def load_many(keys: list[int]) -> list[int]:
        calls.append(keys)
        await asyncio.sleep(0)
        return [k + 1 for k in keys]

    batcher = offload.Batcher(load_many)

    async def main() -> list[int]:
        return await batcher.load_all(range(10))

    assert uvloop.run(main()) == list(range(1, 11))
    assert calls == [list(range(10))]


async def test_clearing_a_key_waiting_in_an_unsent_batch_then_loading_it_again() -> None:
    source = Source()
    batcher = offload.Batcher(source)
    first = asyncio.create_task(batcher.load(1))

    async def clear_and_reload() -> object:
        batcher.clear(1)  # runs in the same tick: the batch is not sent yet
        return await batcher.load(1)

    second = asyncio.create_task(clear_and_reload())
    assert await asyncio.wait_for(asyncio.gather(first, second), 5) == ["v1", "v1"]
    assert source.batches == [[1]]


def test_callers_left_pending_on_a_closed_loop_are_neither_reused_nor_noisy() -> None:
    import gc

    batches: list[list[int]] = []

    async def load_many(keys: list[int]) -> list[int]:
        batches.append(keys)
        await asyncio.sleep(3600 if len(batches) == 1 else 0)
        return keys

    batcher = offload.Batcher(load_many)
    loop = asyncio.new_event_loop()
    task = loop.create_task(batcher.load(1))
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()
    assert asyncio.run(batcher.load(1)) == 1
    loop.set_exception_handler(lambda loop, context: None)
    del task
    gc.collect()
    assert batches == [[1], [1]]


def test_a_blocking_load_many_is_refused_at_once() -> None:
    def load_many(keys: list[int]) -> list[int]:  # forgot `async`
        return keys

    with pytest.raises(TypeError, match=r"offload.Batcher needs an async load_many\(keys\)"):
        offload.Batcher(load_many)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not an async function"):
        offload.Batcher(len)  # type: ignore[arg-type]
