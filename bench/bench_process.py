"""Running programs: offload.run / offload.spawn against subprocess and asyncio subprocesses.

1. Sequential ``/bin/true``: offload.run against blocking ``subprocess.run`` (with and
   without capturing output; offload.run always captures) and
   ``asyncio.create_subprocess_exec`` + ``communicate()``. Batches of each alternate,
   and the ratio is the median of the per-batch ratios, so a busy machine hurts all
   sides alike.
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


async def sequential(batches: int, size: int) -> str:
    await _async_batch(20, _offload_true)  # warm up (and start the parent-death guard)
    await _async_batch(20, _asyncio_true)
    _sync_batch(20, False)
    times: dict[str, list[float]] = {k: [] for k in ("plain", "capture", "asyncio", "offload")}
    for _ in range(batches):
        times["plain"].append(_sync_batch(size, False))
        times["capture"].append(_sync_batch(size, True))
        times["asyncio"].append(await _async_batch(size, _asyncio_true))
        times["offload"].append(await _async_batch(size, _offload_true))

    def ratio(other: str) -> float:
        return median([o / t for o, t in zip(times["offload"], times[other], strict=True)])

    rows = [
        [
            "subprocess.run (blocking, no capture)",
            fmt_time(median(times["plain"])),
            "1.00x",
            f"{ratio('plain'):.2f}x",
        ],
        [
            "subprocess.run (blocking, capture_output)",
            fmt_time(median(times["capture"])),
            f"{median(times['capture']) / median(times['plain']):.2f}x",
            f"{ratio('capture'):.2f}x",
        ],
        [
            "asyncio create_subprocess_exec + communicate",
            fmt_time(median(times["asyncio"])),
            f"{median(times['asyncio']) / median(times['plain']):.2f}x",
            f"{ratio('asyncio'):.2f}x",
        ],
        [
            "offload.run",
            fmt_time(median(times["offload"])),
            f"{median(times['offload']) / median(times['plain']):.2f}x",
            "1.00x",
        ],
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
