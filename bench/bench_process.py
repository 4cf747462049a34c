"""Running programs: offload.run / offload.spawn against subprocess and asyncio subprocesses.

1. Sequential ``/bin/true``: offload.run against blocking ``subprocess.run`` (with and
   without capturing output; offload.run captures by default) and
   ``asyncio.create_subprocess_exec`` + ``communicate()``, plus offload.run with both
   streams sent to /dev/null and a bare event-loop floor (posix_spawn and one loop
   reader per pipe, nothing else) to show what waiting through a loop costs by itself.
   Batches of each alternate, and the ratio is the median of the per-batch ratios, so
   a busy machine hurts all sides alike.
2. 8 concurrent ``/bin/true``: throughput of offload.run against asyncio subprocesses.
3. Streaming a large output (``head -c N /dev/zero``) through ``offload.spawn`` chunks,
   against a blocking ``os.read`` loop on a ``subprocess.Popen`` pipe and asyncio's
   ``proc.stdout.read``.

Options: ``--stream-mb 256`` (the issue's figure is 1024), ``--uvloop`` to run the
asyncio sides under uvloop.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
from collections.abc import Awaitable, Callable

import offload
from _common import fmt_time, median, table

TRUE = "/bin/true"
# Converted once: converting os.environ item by item per call would slow the floor.
_ENV = {os.fsencode(k): os.fsencode(v) for k, v in os.environ.items()}


def _sync_batch(count: int, capture: bool) -> float:
    started = time.perf_counter()
    for _ in range(count):
        subprocess.run([TRUE], capture_output=capture, check=True)
    return (time.perf_counter() - started) / count


async def _async_batch(count: int, one: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    for _ in range(count):
        await one()
    return (time.perf_counter() - started) / count


async def _offload_true() -> object:
    return await offload.run([TRUE])


async def _asyncio_true() -> object:
    proc = await asyncio.create_subprocess_exec(
        TRUE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    return await proc.communicate()


async def _offload_true_uncaptured() -> object:
    return await offload.run([TRUE], stdout="devnull", stderr="devnull")


async def _loop_floor_true() -> object:
    """The least an event loop does to capture both streams: no timeout, kill or guard.

    posix_spawn, two non-blocking pipes, one loop reader each, reap at end of file.
    It shows the cost of capturing through the event loop rather than any library's.
    """
    loop = asyncio.get_running_loop()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    os.set_blocking(out_r, False)
    os.set_blocking(err_r, False)
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, out_w, 1),
        (os.POSIX_SPAWN_DUP2, err_w, 2),
    ]
    pid = os.posix_spawn(TRUE, [TRUE], _ENV, file_actions=actions, setpgroup=0)
    os.close(out_w)
    os.close(err_w)
    done = loop.create_future()
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}

    def readable(fd: int) -> None:
        data = os.read(fd, 65536)
        if data:
            chunks[fd].append(data)
            return
        loop.remove_reader(fd)
        os.close(fd)
        del chunks[fd]
        if not chunks:
            os.waitpid(pid, 0)
            done.set_result(None)

    loop.add_reader(out_r, readable, out_r)
    loop.add_reader(err_r, readable, err_r)
    return await done


async def sequential(batches: int, size: int) -> str:
    sides: dict[str, Callable[[], Awaitable[object]]] = {
        "asyncio": _asyncio_true,
        "floor": _loop_floor_true,
        "uncaptured": _offload_true_uncaptured,
        "offload": _offload_true,
    }
    for one in sides.values():
        await _async_batch(20, one)  # warm up (and start the parent-death guard)
    _sync_batch(20, False)
    times: dict[str, list[float]] = {k: [] for k in ("plain", "capture", *sides)}
    for _ in range(batches):
        times["plain"].append(_sync_batch(size, False))
        times["capture"].append(_sync_batch(size, True))
        for name, one in sides.items():
            times[name].append(await _async_batch(size, one))

    def ratio(side: str, other: str) -> str:
        per_batch = zip(times[side], times[other], strict=True)
        return f"{median([s / o for s, o in per_batch]):.2f}x"

    labels = {
        "plain": "subprocess.run (blocking, no capture)",
        "capture": "subprocess.run (blocking, capture_output)",
        "asyncio": "asyncio create_subprocess_exec + communicate",
        "floor": "event-loop floor: posix_spawn + 2 pipe readers (no timeout/kill/guard)",
        "uncaptured": 'offload.run(stdout="devnull", stderr="devnull")',
        "offload": "offload.run (captures both streams)",
    }
    rows = [
        [label, fmt_time(median(times[name])), ratio(name, "plain"), ratio("offload", name)]
        for name, label in labels.items()
    ]
    return table(
        f"Sequential {TRUE}: time per run ({batches} batches of {size})",
        ["", "median per run", "vs subprocess.run", "offload.run time / this"],
        rows,
    )


async def concurrent(total: int, width: int, rounds: int = 5) -> str:
    async def drive(one: Callable[[], Awaitable[object]]) -> float:
        remaining = total

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await one()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(width)))
        return total / (time.perf_counter() - started)

    await drive(_offload_true)
    rates: dict[str, list[float]] = {"asyncio": [], "offload": []}
    for _ in range(rounds):
        rates["asyncio"].append(await drive(_asyncio_true))
        rates["offload"].append(await drive(_offload_true))
    best = {k: median(v) for k, v in rates.items()}
    ratio = median([o / a for o, a in zip(rates["offload"], rates["asyncio"], strict=True)])
    rows = [
        ["asyncio create_subprocess_exec + communicate", f"{best['asyncio']:.0f}", "1.00x"],
        ["offload.run", f"{best['offload']:.0f}", f"{ratio:.2f}x"],
    ]
    return table(
        f"{width} concurrent {TRUE}: runs per second ({total} runs, {rounds} alternating rounds)",
        ["", "runs/s (median)", "offload / asyncio (median of per-round ratios)"],
        rows,
    )


def _stream_blocking(size: int) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(["head", "-c", str(size), "/dev/zero"], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    got = 0
    while data := os.read(fd, 1 << 20):
        got += len(data)
    proc.wait()
    proc.stdout.close()
    assert got == size
    return time.perf_counter() - started


async def _stream_asyncio(size: int) -> float:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        "head", "-c", str(size), "/dev/zero", stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    got = 0
    while data := await proc.stdout.read(1 << 20):
        got += len(data)
    await proc.wait()
    assert got == size
    return time.perf_counter() - started


async def _stream_offload(size: int) -> float:
    started = time.perf_counter()
    got = 0
    async with offload.spawn(["head", "-c", str(size), "/dev/zero"]) as proc:
        assert proc.stdout is not None
        while (data := await proc.stdout.read_chunk()) is not None:
            got += len(data)
        await proc.wait()
    assert got == size
    return time.perf_counter() - started


async def streaming(megabytes: int, repeat: int) -> str:
    size = megabytes * 1024 * 1024
    times: dict[str, list[float]] = {"blocking": [], "asyncio": [], "offload": []}
    for _ in range(repeat):
        times["blocking"].append(_stream_blocking(size))
        times["asyncio"].append(await _stream_asyncio(size))
        times["offload"].append(await _stream_offload(size))
    rate = {k: size / median(v) / 1e6 for k, v in times.items()}
    rows = [
        ["blocking os.read loop (1 MiB reads)", f"{rate['blocking']:.0f}", "1.00x"],
        [
            "asyncio proc.stdout.read(1 MiB)",
            f"{rate['asyncio']:.0f}",
            f"{rate['asyncio'] / rate['blocking']:.2f}x",
        ],
        [
            "offload.spawn stdout chunks",
            f"{rate['offload']:.0f}",
            f"{rate['offload'] / rate['blocking']:.2f}x",
        ],
    ]
    return table(
        f"Streaming {megabytes} MiB from head -c: throughput (median of {repeat})",
        ["", "MB/s", "vs blocking read"],
        rows,
    )


async def main(args: argparse.Namespace) -> None:
    print(await sequential(args.batches, args.batch_size))
    print(await concurrent(args.concurrent_runs, 8))
    print(await streaming(args.stream_mb, args.stream_repeat))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=40)
    parser.add_argument("--concurrent-runs", type=int, default=400)
    parser.add_argument("--stream-mb", type=int, default=256)
    parser.add_argument("--stream-repeat", type=int, default=5)
    parser.add_argument("--uvloop", action="store_true", help="run under uvloop")
    arguments = parser.parse_args()
    print(f"event loop: {'uvloop' if arguments.uvloop else 'asyncio'}\n")
    if arguments.uvloop:
        import uvloop

        uvloop.run(main(arguments))
    else:
        asyncio.run(main(arguments))
