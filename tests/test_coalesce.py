"""offload.coalesce and Coalescer: concurrent equal calls share one in-flight call."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

import offload


class Backend:
    """A slow async backend that counts calls and can be released by the test."""

    def __init__(self) -> None:
        self.calls: list[object] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled = 0

    async def __call__(self, x: object) -> object:
        self.calls.append(x)
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if isinstance(x, BaseException):
            raise x
        return ("value", x)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_concurrent_equal_calls_share_one_call() -> None:
    backend = Backend()
    fetch = offload.coalesce(backend)
    tasks = [asyncio.create_task(fetch(1)) for _ in range(50)]
    other = asyncio.create_task(fetch(2))
    await settle()
    backend.release.set()
    assert await asyncio.gather(*tasks) == [("value", 1)] * 50
    assert await other == ("value", 2)
    assert sorted(backend.calls, key=str) == [1, 2]


async def test_nothing_is_kept_after_completion() -> None:
    calls = 0

    @offload.coalesce
    async def f(x: int) -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return x

    assert await f(1) == 1
    assert await f(1) == 1
    assert calls == 2
    assert f.in_flight() == 0


async def test_positional_and_keyword_arguments_share_a_key() -> None:
    calls = 0

    @offload.coalesce
    async def f(x: int, y: int = 2) -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return x + y

    assert await asyncio.gather(f(1), f(x=1), f(1, 2), f(1, y=2)) == [3, 3, 3, 3]
    assert calls == 1


async def test_an_exception_reaches_every_waiter_and_is_not_remembered() -> None:
    attempts = 0

    @offload.coalesce
    async def flaky(x: int) -> int:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.01)
        if attempts == 1:
            raise ValueError("first attempt fails")
        return x

    results = await asyncio.gather(flaky(1), flaky(1), flaky(1), return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results)
    assert await flaky(1) == 1
    assert attempts == 2


async def test_cancelling_the_first_caller_leaves_the_call_running_for_the_others() -> None:
    backend = Backend()
    fetch = offload.coalesce(backend)
    first = asyncio.create_task(fetch(1))
    await backend.started.wait()
    joiner = asyncio.create_task(fetch(1))
    await settle()
    first.cancel()
    await settle()
    assert first.cancelled()
    backend.release.set()
    assert await joiner == ("value", 1)
    assert backend.calls == [1]
    assert backend.cancelled == 0


async def test_cancelling_a_joiner_leaves_the_others_undisturbed() -> None:
    backend = Backend()
    fetch = offload.coalesce(backend)
    first = asyncio.create_task(fetch(1))
    await backend.started.wait()
    joiner = asyncio.create_task(fetch(1))
    await settle()
    joiner.cancel()
    await settle()
    backend.release.set()
    assert await first == ("value", 1)
    assert joiner.cancelled()
    assert backend.cancelled == 0


async def test_cancelling_every_caller_cancels_the_shared_call() -> None:
    backend = Backend()
    fetch = offload.coalesce(backend)
    tasks = [asyncio.create_task(fetch(1)) for _ in range(3)]
    await backend.started.wait()
    for task in tasks:
        task.cancel()
    await settle()
    assert backend.cancelled == 1
    assert fetch.in_flight() == 0
    # The next caller starts afresh instead of joining the cancelled call.
    backend.release.set()
    assert await fetch(1) == ("value", 1)
    assert backend.calls == [1, 1]


async def test_a_caller_arriving_after_all_left_starts_a_new_call() -> None:
    backend = Backend()
    fetch = offload.coalesce(backend)
    task = asyncio.create_task(fetch(1))
    await backend.started.wait()
    task.cancel()
    late = asyncio.create_task(fetch(1))  # same tick as the cancellation
    await settle()
    backend.release.set()
    assert await late == ("value", 1)
    assert len(backend.calls) == 2


async def test_a_cancelled_token_makes_only_that_caller_leave() -> None:
    backend = Backend()
    fetch = offload.coalesce(backend)
    token = offload.CancelToken()
    leaving = asyncio.create_task(fetch.options(token=token)(1))
    staying = asyncio.create_task(fetch(1))
    await backend.started.wait()
    token.cancel("client went away")
    with pytest.raises(offload.Cancelled) as info:
        await leaving
    assert info.value.reason == "client went away"
    backend.release.set()
    assert await staying == ("value", 1)
    assert backend.cancelled == 0


async def test_a_token_cancelled_from_another_thread_is_honoured() -> None:
    backend = Backend()
    fetch = offload.coalesce(backend)
    token = offload.CancelToken()
    task = asyncio.create_task(fetch.options(token=token)(1))
    await backend.started.wait()
    thread = threading.Thread(target=token.cancel, args=("thread",))
    thread.start()
    thread.join()
    with pytest.raises(offload.Cancelled):
        await task
    assert backend.cancelled == 1  # it was the last waiter


async def test_an_already_cancelled_token_starts_nothing() -> None:
    backend = Backend()
    fetch = offload.coalesce(backend)
    token = offload.CancelToken()
    token.cancel()
    with pytest.raises(offload.Cancelled):
        await fetch.options(token=token)(1)
    assert backend.calls == []


async def test_a_task_cancelled_directly_while_holding_a_token_sees_cancelled_error() -> None:
    backend = Backend()
    fetch = offload.coalesce(backend)
    task = asyncio.create_task(fetch.options(token=offload.CancelToken())(1))
    await backend.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class Service:
    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0

    @offload.coalesce
    async def get(self, x: int) -> tuple[str, int]:
        self.calls += 1
        await asyncio.sleep(0.01)
        return (self.name, x)

    @staticmethod
    @offload.coalesce
    async def static(x: int) -> int:
        await asyncio.sleep(0.01)
        return x

    @offload.coalesce
    @staticmethod
    async def static_inner(x: int) -> int:
        await asyncio.sleep(0.01)
        return -x

    @classmethod
    @offload.coalesce
    async def klass(cls, x: int) -> tuple[str, int]:
        await asyncio.sleep(0.01)
        return (cls.__name__, x)


async def test_methods_are_coalesced_per_instance() -> None:
    a, b = Service("a"), Service("b")
    results = await asyncio.gather(a.get(1), a.get(1), b.get(1))
    assert results == [("a", 1), ("a", 1), ("b", 1)]
    assert (a.calls, b.calls) == (1, 1)


@dataclass
class Unhashable:
    """Instances of an eq=True dataclass are unhashable; they still work as owners."""

    n: int

    @offload.coalesce
    async def get(self, x: int) -> int:
        await asyncio.sleep(0)
        return self.n + x


async def test_methods_of_unhashable_instances_work() -> None:
    assert await Unhashable(1).get(2) == 3


async def test_a_coalesced_method_does_not_keep_its_instance_alive() -> None:
    s = Service("a")
    await s.get(1)
    ref = weakref.ref(s)
    del s
    gc.collect()
    assert ref() is None


async def test_static_and_class_methods_work() -> None:
    assert await asyncio.gather(Service.static(1), Service("x").static(1)) == [1, 1]
    assert await Service.static_inner(2) == -2
    assert await Service.klass(3) == ("Service", 3)


def test_non_async_functions_are_refused_with_their_name() -> None:
    def blocking(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="blocking"):
        offload.coalesce(blocking)  # type: ignore[arg-type]


async def test_unhashable_arguments_are_named() -> None:
    @offload.coalesce
    async def f(x: object, y: object) -> None:
        return None

    with pytest.raises(TypeError, match=r"argument y \(list"):
        await f(1, [2])


async def test_custom_key() -> None:
    calls = 0

    @offload.coalesce(key=lambda url, **_: url.lower())
    async def fetch(url: str, *, attempt: int = 0) -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return url

    results = await asyncio.gather(fetch("A"), fetch("a", attempt=2))
    assert results == ["A", "A"]
    assert calls == 1


def test_works_across_event_loops() -> None:
    @offload.coalesce
    async def f(x: int) -> int:
        await asyncio.sleep(0)
        return x

    assert asyncio.run(f(1)) == 1
    assert asyncio.run(f(1)) == 1


def test_a_call_in_flight_on_another_loop_is_not_joined() -> None:
    started: list[int] = []
    release = threading.Event()

    @offload.coalesce
    async def f(x: int) -> int:
        started.append(x)
        while not release.is_set():
            await asyncio.sleep(0.001)
        return x

    first_loop = asyncio.new_event_loop()
    try:
        task = first_loop.create_task(f(1))
        first_loop.run_until_complete(asyncio.sleep(0.01))
        assert started == [1]
        release.set()
        assert asyncio.run(f(1)) == 1  # another loop: its own call
        assert started == [1, 1]
        assert first_loop.run_until_complete(task) == 1
    finally:
        first_loop.close()


async def test_coalescer_shares_calls_by_explicit_key() -> None:
    backend = Backend()
    coalescer: offload.Coalescer[object] = offload.Coalescer()
    a = asyncio.create_task(coalescer.run("k", backend, 1))
    b = asyncio.create_task(coalescer.run("k", backend, 2))  # same key: joins, 2 unused
    await backend.started.wait()
    assert coalescer.in_flight("k")
    assert len(coalescer) == 1
    backend.release.set()
    assert await asyncio.gather(a, b) == [("value", 1)] * 2
    assert backend.calls == [1]
    assert not coalescer.in_flight("k")


async def test_coalescer_forget_lets_the_next_call_start_afresh() -> None:
    backend = Backend()
    coalescer: offload.Coalescer[object] = offload.Coalescer()
    a = asyncio.create_task(coalescer.run("k", backend, 1))
    await backend.started.wait()
    coalescer.forget("k")
    b = asyncio.create_task(coalescer.run("k", backend, 2))
    await settle()
    backend.release.set()
    assert await asyncio.gather(a, b) == [("value", 1), ("value", 2)]


async def test_coalescer_unhashable_key_is_a_type_error() -> None:
    coalescer: offload.Coalescer[None] = offload.Coalescer()

    async def noop() -> None:
        return None

    with pytest.raises(TypeError, match="unhashable"):
        await coalescer.run(["k"], noop)  # type: ignore[arg-type]


async def test_ten_thousand_concurrent_callers_make_one_call() -> None:
    backend = Backend()
    fetch = offload.coalesce(backend)
    tasks = [asyncio.create_task(fetch("cold")) for _ in range(10_000)]
    await backend.started.wait()
    backend.release.set()
    results = await asyncio.gather(*tasks)
    assert len(backend.calls) == 1
    assert results.count(("value", "cold")) == 10_000


async def test_a_coalesced_method_accepts_a_token_per_call() -> None:
    class Client:
        def __init__(self) -> None:
            self.release = asyncio.Event()
            self.calls = 0

        @offload.coalesce
        async def get(self, x: int) -> int:
            self.calls += 1
            await self.release.wait()
            return x

    client = Client()
    token = offload.CancelToken()
    leaving = asyncio.create_task(client.get.options(token=token)(1))
    staying = asyncio.create_task(client.get(1))
    await settle()
    token.cancel()
    with pytest.raises(offload.Cancelled):
        await leaving
    client.release.set()
    assert await staying == 1
    assert client.calls == 1


async def test_classmethod_inside_the_decorator() -> None:
    class Config:
        @offload.coalesce
        @classmethod
        async def load(cls, name: str) -> tuple[str, str]:
            await asyncio.sleep(0.01)
            return (cls.__name__, name)

    assert await asyncio.gather(Config.load("a"), Config.load("a")) == [("Config", "a")] * 2


def test_a_coalesced_or_cached_function_is_still_a_coroutine_function() -> None:
    import inspect

    async def fetch(url: str) -> str:
        return url

    assert inspect.iscoroutinefunction(offload.coalesce(fetch))
    assert inspect.iscoroutinefunction(offload.cached(ttl=1)(fetch))
    assert offload.coalesce(fetch).__name__ == "fetch"


def test_async_generator_functions_are_refused_with_a_reason() -> None:
    async def numbers() -> AsyncIterator[int]:
        yield 1

    with pytest.raises(TypeError, match="numbers is an async generator function"):
        offload.coalesce(numbers)  # type: ignore[arg-type]


def test_a_caller_left_pending_on_a_closed_loop_is_closed_quietly() -> None:
    @offload.coalesce
    async def f(x: int) -> int:
        await asyncio.sleep(3600)
        return x

    loop = asyncio.new_event_loop()
    task = loop.create_task(f(1))
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()
    loop.set_exception_handler(lambda loop, context: None)
    del task
    gc.collect()
