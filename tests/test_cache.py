"""offload.cached: coalescing plus a bounded LRU cache with TTL, stale-while-revalidate."""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import sys
import threading
import weakref

import pytest
import uvloop

import offload
from offload._clock import ManualClock


class Backend:
    """Counts calls; each call can be held until the test releases it."""

    def __init__(self, clock: ManualClock | None = None, duration: float = 0.0) -> None:
        self.calls: list[object] = []
        self.release = asyncio.Event()
        self.release.set()
        self.started = asyncio.Event()
        self.cancelled = 0
        self.fail: BaseException | None = None
        self.clock = clock
        self.duration = duration

    async def __call__(self, x: object) -> tuple[object, int]:
        self.calls.append(x)
        number = len(self.calls)
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.clock is not None:
            self.clock.advance(self.duration)
        if self.fail is not None:
            raise self.fail
        return (x, number)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_hit_does_not_call_the_function_again() -> None:
    backend = Backend()
    get = offload.cached(ttl=60)(backend)
    assert await get(1) == (1, 1)
    assert await get(1) == (1, 1)
    assert await get(2) == (2, 2)
    assert backend.calls == [1, 2]
    info = get.info()
    assert (info.hits, info.misses, info.size) == (1, 2, 2)


async def test_ttl_counts_from_completion() -> None:
    clock = ManualClock()
    backend = Backend(clock, duration=30)  # each call "takes" 30 s
    get = offload.cached(ttl=10, clock=clock)(backend)
    assert await get(1) == (1, 1)
    clock.advance(9.9)
    assert await get(1) == (1, 1)
    clock.advance(0.2)
    assert await get(1) == (1, 2)


async def test_jitter_adds_at_most_its_seconds_to_the_ttl() -> None:
    clock = ManualClock()
    backend = Backend()
    get = offload.cached(ttl=10, jitter=5, clock=clock, maxsize=None)(backend)
    await asyncio.gather(*(get(i) for i in range(200)))
    clock.advance(9.99)
    assert {await get(i) for i in range(200)} == {(i, i + 1) for i in range(200)}
    assert len(backend.calls) == 200
    clock.advance(2.5)  # now 12.49 s: some entries expired, not all
    await asyncio.gather(*(get(i) for i in range(200)))
    assert 200 < len(backend.calls) < 400
    clock.advance(2.52)  # past ttl + jitter: every original entry is gone
    before = len(backend.calls)
    await asyncio.gather(*(get(i) for i in range(200)))
    assert len(backend.calls) > before


async def test_lru_eviction_respects_maxsize() -> None:
    backend = Backend()
    get = offload.cached(maxsize=2)(backend)
    await get(1)
    await get(2)
    await get(1)  # 1 is now the most recently used
    await get(3)  # evicts 2
    assert get.info().evictions == 1
    assert get.info().size == 2
    await get(1)
    assert backend.calls == [1, 2, 3]
    await get(2)
    assert backend.calls == [1, 2, 3, 2]


async def test_the_default_is_bounded_and_none_must_be_explicit() -> None:
    bounded = offload.cached()(Backend())
    await asyncio.gather(*(bounded(i) for i in range(1100)))
    assert bounded.info().size == 1024
    unbounded = offload.cached(maxsize=None)(Backend())
    await asyncio.gather(*(unbounded(i) for i in range(1100)))
    assert unbounded.info().size == 1100


async def test_maxsize_zero_only_coalesces() -> None:
    backend = Backend()
    backend.release.clear()
    get = offload.cached(maxsize=0)(backend)
    tasks = [asyncio.create_task(get(1)) for _ in range(3)]
    await settle()
    backend.release.set()
    assert await asyncio.gather(*tasks) == [(1, 1)] * 3
    await get(1)
    assert backend.calls == [1, 1]
    assert get.info().size == 0


async def test_exceptions_are_not_cached_by_default() -> None:
    backend = Backend()
    backend.fail = KeyError("missing")
    get = offload.cached(ttl=60)(backend)
    with pytest.raises(KeyError):
        await get(1)
    backend.fail = None
    assert await get(1) == (1, 2)


async def test_negative_caching_uses_its_own_ttl_and_types() -> None:
    clock = ManualClock()
    backend = Backend()
    get = offload.cached(ttl=60, negative_ttl=5, negative_types=(KeyError,), clock=clock)(backend)
    backend.fail = KeyError("missing")
    for _ in range(3):
        with pytest.raises(KeyError, match="missing"):
            await get(1)
    assert backend.calls == [1]
    clock.advance(5.1)
    backend.fail = None
    assert await get(1) == (1, 2)
    backend.fail = ValueError("not a cached type")
    with pytest.raises(ValueError):
        await get(2)
    with pytest.raises(ValueError):
        await get(2)
    assert backend.calls == [1, 1, 2, 2]


async def test_a_negative_entry_raised_many_times_does_not_grow_its_traceback() -> None:
    backend = Backend()
    backend.fail = KeyError("missing")
    get = offload.cached(negative_ttl=60)(backend)
    depths = []
    for _ in range(5):
        with pytest.raises(KeyError) as info:
            await get(1)
        tb, depth = info.value.__traceback__, 0
        while tb is not None:
            tb, depth = tb.tb_next, depth + 1
        depths.append(depth)
    assert len(set(depths[1:])) == 1


async def test_stale_while_revalidate_serves_old_value_and_refreshes_once() -> None:
    clock = ManualClock()
    backend = Backend()
    get = offload.cached(ttl=10, stale=5, clock=clock)(backend)
    assert await get(1) == (1, 1)
    clock.advance(11)  # expired, within the stale window
    backend.release.clear()
    results = await asyncio.gather(*(get(1) for _ in range(10)))
    assert results == [(1, 1)] * 10  # served at once, old value
    await settle()
    assert backend.calls == [1, 1]  # exactly one refresh running
    assert get.info().refreshes == 1
    backend.release.set()
    await settle()
    assert await get(1) == (1, 2)  # the refreshed value, fresh TTL
    assert backend.calls == [1, 1]


async def test_a_failed_refresh_keeps_the_old_value_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    backend = Backend()
    get = offload.cached(ttl=10, stale=5, clock=clock)(backend)
    await get(1)
    clock.advance(11)
    backend.fail = RuntimeError("backend down")
    with caplog.at_level(logging.WARNING, logger="offload"):
        assert await get(1) == (1, 1)
        await settle()
    assert "refreshing a stale entry" in caplog.text
    assert await get(1) == (1, 1)  # still served while stale
    clock.advance(5)  # past the stale window: a normal miss, which fails
    with pytest.raises(RuntimeError, match="backend down"):
        await get(1)


async def test_past_the_stale_window_the_caller_waits_for_a_new_value() -> None:
    clock = ManualClock()
    backend = Backend()
    get = offload.cached(ttl=10, stale=5, clock=clock)(backend)
    await get(1)
    clock.advance(16)
    assert await get(1) == (1, 2)


async def test_invalidate_and_clear() -> None:
    backend = Backend()
    get = offload.cached(ttl=60)(backend)
    await get(1)
    await get(2)
    assert get.invalidate(1) is True
    assert get.invalidate(1) is False
    await get(1)
    await get(2)
    assert backend.calls == [1, 2, 1]
    get.clear()
    assert get.info().size == 0
    await get(2)
    assert backend.calls == [1, 2, 1, 2]


async def test_invalidating_during_a_call_keeps_its_result_out_of_the_cache() -> None:
    backend = Backend()
    backend.release.clear()
    get = offload.cached(ttl=60)(backend)
    first = asyncio.create_task(get(1))
    await backend.started.wait()
    get.invalidate(1)
    second = asyncio.create_task(get(1))  # starts a new call, does not join the old one
    await settle()
    backend.release.set()
    assert await first == (1, 1)
    assert await second == (1, 2)
    assert await get(1) == (1, 2)


async def test_bypass_neither_reads_nor_writes_the_cache() -> None:
    backend = Backend()
    get = offload.cached(ttl=60)(backend)
    await get(1)
    assert await get.options(bypass=True)(1) == (1, 2)
    assert await get(1) == (1, 1)
    assert await get.options(bypass=True)(5) == (5, 3)
    assert get.info().size == 1


async def test_options_without_bypass_use_the_cache() -> None:
    backend = Backend()
    get = offload.cached(ttl=60)(backend)
    await get(1)
    assert await get.options(token=offload.CancelToken())(1) == (1, 1)
    assert backend.calls == [1]


async def test_cancelling_the_first_caller_does_not_cancel_the_call() -> None:
    backend = Backend()
    backend.release.clear()
    get = offload.cached(ttl=60)(backend)
    first = asyncio.create_task(get(1))
    await backend.started.wait()
    joiner = asyncio.create_task(get(1))
    await settle()
    first.cancel()
    await settle()
    backend.release.set()
    assert await joiner == (1, 1)
    assert first.cancelled()
    assert backend.cancelled == 0
    assert await get(1) == (1, 1)  # stored for later callers
    assert get.info().coalesced == 1


async def test_cancelling_a_joiner_does_not_cancel_the_call() -> None:
    backend = Backend()
    backend.release.clear()
    get = offload.cached(ttl=60)(backend)
    first = asyncio.create_task(get(1))
    await backend.started.wait()
    joiner = asyncio.create_task(get(1))
    await settle()
    joiner.cancel()
    await settle()
    backend.release.set()
    assert await first == (1, 1)
    assert backend.cancelled == 0


async def test_cancelling_every_caller_cancels_the_call_and_stores_nothing() -> None:
    backend = Backend()
    backend.release.clear()
    get = offload.cached(ttl=60)(backend)
    tasks = [asyncio.create_task(get(1)) for _ in range(3)]
    await backend.started.wait()
    for task in tasks:
        task.cancel()
    await settle()
    assert backend.cancelled == 1
    assert get.info().size == 0
    backend.release.set()
    assert await get(1) == (1, 2)


async def test_a_cancelled_token_makes_only_that_caller_leave() -> None:
    backend = Backend()
    backend.release.clear()
    get = offload.cached(ttl=60)(backend)
    token = offload.CancelToken()
    leaving = asyncio.create_task(get.options(token=token)(1))
    staying = asyncio.create_task(get(1))
    await backend.started.wait()
    token.cancel("bye")
    with pytest.raises(offload.Cancelled):
        await leaving
    backend.release.set()
    assert await staying == (1, 1)
    assert backend.cancelled == 0


async def test_a_cancelled_token_on_a_bypassing_call_cancels_that_call() -> None:
    backend = Backend()
    backend.release.clear()
    get = offload.cached(ttl=60)(backend)
    token = offload.CancelToken()
    task = asyncio.create_task(get.options(token=token, bypass=True)(1))
    await backend.started.wait()
    token.cancel()
    with pytest.raises(offload.Cancelled):
        await task
    await settle()
    assert backend.cancelled == 1


async def test_ten_thousand_concurrent_callers_on_a_cold_key_make_one_call() -> None:
    backend = Backend()
    backend.release.clear()
    get = offload.cached(ttl=60)(backend)
    tasks = [asyncio.create_task(get("cold")) for _ in range(10_000)]
    await backend.started.wait()
    backend.release.set()
    results = await asyncio.gather(*tasks)
    assert backend.calls == ["cold"]
    assert results == [("cold", 1)] * 10_000
    info = get.info()
    assert (info.misses, info.coalesced) == (1, 9_999)


def test_non_async_functions_are_refused_with_their_name() -> None:
    def load_user(user_id: int) -> int:
        return user_id

    with pytest.raises(TypeError, match="load_user"):
        offload.cached(ttl=1)(load_user)  # type: ignore[arg-type]


async def test_unhashable_arguments_are_named() -> None:
    @offload.cached(ttl=1)
    async def f(a: object, *, tags: object = ()) -> None:
        return None

    with pytest.raises(TypeError, match=r"argument a \(list"):
        await f([1])
    with pytest.raises(TypeError, match=r"argument tags \(set"):
        await f(1, tags={"x"})

    @offload.cached(ttl=1)
    async def variadic(*args: object, **kwargs: object) -> None:
        return None

    with pytest.raises(TypeError, match=r"argument b \(dict"):
        await variadic(1, b={})


def test_bad_settings_are_value_errors() -> None:
    with pytest.raises(ValueError, match="ttl"):
        offload.cached(ttl=0)
    with pytest.raises(ValueError, match="maxsize"):
        offload.cached(maxsize=-1)
    with pytest.raises(ValueError, match="stale"):
        offload.cached(stale=5)


async def test_keyword_and_positional_calls_share_an_entry() -> None:
    calls = 0

    @offload.cached(ttl=60)
    async def f(x: int, y: int = 10, *, z: int = 100) -> int:
        nonlocal calls
        calls += 1
        return x + y + z

    assert await f(1) == await f(x=1) == await f(1, 10) == await f(1, z=100) == 111
    assert calls == 1
    assert f.invalidate(x=1) is True
    assert await f(1) == 111
    assert calls == 2


async def test_custom_key_and_variadic_functions() -> None:
    calls = 0

    @offload.cached(ttl=60, key=lambda name, **_: name.lower())
    async def greet(name: str, **flags: object) -> str:
        nonlocal calls
        calls += 1
        return f"hello {name}"

    assert await greet("Ann") == await greet("ANN", loud=True) == "hello Ann"
    assert calls == 1
    assert greet.invalidate("ann") is True


class Repo:
    instances = 0

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0

    @offload.cached(ttl=60)
    async def get(self, x: int) -> tuple[str, int]:
        self.calls += 1
        return (self.name, x)

    @staticmethod
    @offload.cached(ttl=60)
    async def static(x: int) -> int:
        return x * 2

    @offload.cached(ttl=60)
    @staticmethod
    async def static_inner(x: int) -> int:
        return x * 3

    @classmethod
    @offload.cached(ttl=60)
    async def klass(cls, x: int) -> tuple[str, int]:
        return (cls.__name__, x)


async def test_methods_are_cached_per_instance() -> None:
    a, b = Repo("a"), Repo("b")
    assert await a.get(1) == ("a", 1)
    assert await a.get(1) == ("a", 1)
    assert await b.get(1) == ("b", 1)
    assert (a.calls, b.calls) == (1, 1)
    assert a.get.invalidate(1) is True
    await a.get(1)
    assert a.calls == 2
    assert Repo.get.invalidate(a, 1) is True  # from the class, instance first
    assert Repo.get.invalidate(a, 1) is False
    await a.get(1)
    assert a.calls == 3
    assert Repo.get.info().hits >= 1


async def test_a_cached_method_does_not_keep_its_instance_alive() -> None:
    repo = Repo("gone")
    await repo.get(1)
    size_before = Repo.get.info().size
    ref = weakref.ref(repo)
    del repo
    gc.collect()
    assert ref() is None
    # Entries of the dead instance are reclaimed at the next miss.
    other = Repo("other")
    await other.get(99)
    assert Repo.get.info().size == size_before  # one dropped, one added


async def test_static_and_class_methods() -> None:
    assert await Repo.static(2) == 4
    assert await Repo("x").static(2) == 4
    assert await Repo.static_inner(2) == 6
    assert await Repo.klass(1) == ("Repo", 1)


def test_not_bound_to_one_event_loop() -> None:
    calls: list[int] = []

    @offload.cached(ttl=60)
    async def f(x: int) -> int:
        calls.append(x)
        await asyncio.sleep(0)
        return x

    assert asyncio.run(f(1)) == 1
    assert asyncio.run(f(1)) == 1  # served from the cache on a new loop
    assert asyncio.run(f(2)) == 2
    assert calls == [1, 2]


def test_a_call_in_flight_on_another_loop_is_not_reused() -> None:
    calls: list[int] = []
    gate: list[asyncio.Event] = []

    @offload.cached(ttl=60)
    async def f(x: int) -> int:
        calls.append(x)
        n = len(calls)
        if n == 1:
            event = asyncio.Event()
            gate.append(event)
            await event.wait()
        return n

    first_loop = asyncio.new_event_loop()
    try:
        task = first_loop.create_task(f(1))
        first_loop.run_until_complete(asyncio.sleep(0.01))
        assert asyncio.run(f(1)) == 2  # its own call, not the other loop's
        gate[0].set()
        assert first_loop.run_until_complete(task) == 1
    finally:
        first_loop.close()
    assert asyncio.run(f(1)) == 2  # the abandoned loop's result was not stored over it


async def test_the_sweep_reclaims_expired_entries() -> None:
    clock = ManualClock()
    get = offload.cached(ttl=10, sweep=0.01, clock=clock, maxsize=None)(Backend())
    await asyncio.gather(*(get(i) for i in range(100)))
    assert get.info().size == 100
    clock.advance(11)
    for _ in range(200):
        await asyncio.sleep(0.005)
        if get.info().size == 0:
            break
    assert get.info().size == 0


async def test_the_sweep_keeps_neither_the_cache_nor_its_function_alive() -> None:
    get = offload.cached(ttl=10, sweep=0.01)(Backend())
    await get(1)
    ref = weakref.ref(get)
    del get
    gc.collect()
    assert ref() is None
    await asyncio.sleep(0.03)  # the armed sweep fires harmlessly


def test_works_under_uvloop() -> None:
    backend_calls: list[int] = []

    @offload.cached(ttl=60)
    async def f(x: int) -> int:
        backend_calls.append(x)
        await asyncio.sleep(0.01)
        return x

    async def main() -> list[int]:
        return list(await asyncio.gather(*(f(1) for _ in range(100))))

    assert uvloop.run(main()) == [1] * 100
    assert backend_calls == [1]


def test_the_sweep_re_arms_on_a_new_event_loop() -> None:
    clock = ManualClock()

    @offload.cached(ttl=10, sweep=0.01, clock=clock, maxsize=None)
    async def f(x: int) -> int:
        return x

    async def fill(keys: range) -> None:
        await asyncio.gather(*(f(k) for k in keys))

    asyncio.run(fill(range(10)))  # arms the sweep on a loop that then closes
    clock.advance(11)

    async def second_run() -> int:
        await f(100)  # stores on the new loop: the sweep is armed here now
        for _ in range(200):
            await asyncio.sleep(0.005)
            if f.info().size == 1:
                break
        return f.info().size

    assert asyncio.run(second_run()) == 1


async def test_the_sweep_reclaims_entries_of_collected_instances() -> None:
    class Thing:
        @offload.cached(sweep=0.01)
        async def get(self, x: int) -> int:
            return x

    things = [Thing() for _ in range(5)]
    for thing in things:
        await thing.get(1)
    assert Thing.get.info().size == 5
    del things, thing
    gc.collect()
    for _ in range(200):
        await asyncio.sleep(0.005)
        if Thing.get.info().size == 0:
            break
    assert Thing.get.info().size == 0


def test_the_sweep_keeps_no_closed_loop_alive() -> None:
    @offload.cached(ttl=60)
    async def f(x: int) -> int:
        return x

    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def use() -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        await f(1)  # stores, so the sweep is armed on this loop

    asyncio.run(use())
    gc.collect()
    assert loops[0]() is None
    assert f.info().size == 1


async def test_classmethod_inside_the_decorator() -> None:
    calls: list[str] = []

    class Config:
        @offload.cached(ttl=60)
        @classmethod
        async def load(cls, name: str) -> tuple[str, str]:
            calls.append(name)
            return (cls.__name__, name)

    assert await Config.load("a") == await Config.load("a") == ("Config", "a")
    assert calls == ["a"]


def test_a_call_left_pending_on_a_closed_loop_is_neither_reused_nor_noisy() -> None:
    calls: list[int] = []

    @offload.cached(ttl=60)
    async def f(x: int) -> int:
        calls.append(x)
        await asyncio.sleep(3600 if len(calls) == 1 else 0)
        return len(calls)

    loop = asyncio.new_event_loop()
    task = loop.create_task(f(1))
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()  # closed with the call and its caller still pending
    assert asyncio.run(f(1)) == 2
    loop.set_exception_handler(lambda loop, context: None)  # "destroyed but pending"
    del task
    gc.collect()  # closing the abandoned caller must not raise
    assert asyncio.run(f(1)) == 2


class RemovedMidHit:
    """A key that another thread removes from the cache in the middle of a hit.

    A hit hashes its key twice: to look the entry up, then to move it in the LRU order.
    The second hash invalidates the key, as a thread running its own loop may do
    between those two steps.
    """

    def __init__(self) -> None:
        self.hashes = 0
        self.remove: object = None

    def __hash__(self) -> int:
        self.hashes += 1
        if callable(self.remove) and self.hashes == 2:
            remove, self.remove = self.remove, None
            remove(self)
        return 1


async def test_an_entry_removed_by_another_thread_during_a_hit_is_a_miss() -> None:
    calls: list[object] = []

    # An exact clock: a hit moves its key at once (no read buffer).
    @offload.cached(ttl=60, resolution=0)
    async def f(key: object) -> int:
        calls.append(key)
        return len(calls)

    key = RemovedMidHit()
    assert await f(key) == 1
    assert await f(key) == 1  # a hit
    assert await f("other") == 2  # now the key is not the most recently used
    key.hashes = 0
    key.remove = f.invalidate
    assert await f(key) == 3  # removed mid-hit: called again, no KeyError
    assert key.hashes > 2
    assert await f(key) == 3


async def test_an_entry_removed_before_its_recorded_read_is_replayed_is_skipped() -> None:
    calls: list[object] = []

    @offload.cached(ttl=60)  # coarse clock: hits are recorded, replayed later
    async def f(key: object) -> int:
        calls.append(key)
        return len(calls)

    key = RemovedMidHit()
    assert await f(key) == 1
    assert await f(key) == 1  # a hit
    assert await f("other") == 2  # now the key is not the most recently used
    key.hashes = 0
    key.remove = f.invalidate
    assert await f(key) == 1  # found: a hit, recorded (hashed once)
    # Replaying the read hashes the key again, which removes it: skipped, no KeyError.
    info = f.info()
    assert key.hashes >= 2
    assert info.size == 1
    assert await f(key) == 3  # gone: called again


def test_several_threads_event_loops_share_one_cached_function() -> None:
    @offload.cached(ttl=60, maxsize=4, sweep=0.001)
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    errors: list[BaseException] = []

    def caller(seed: int) -> None:
        async def main() -> None:
            rng = random.Random(seed)
            for _ in range(3000):
                key = rng.randrange(12)
                assert await double(key) == 2 * key
                if rng.random() < 0.05:
                    double.invalidate(key)

        try:
            asyncio.run(main())
        except BaseException as exc:
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads between almost any two steps
    try:
        threads = [threading.Thread(target=caller, args=(seed,)) for seed in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert double.info().size <= 4
