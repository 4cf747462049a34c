"""What offload.monitor costs: an asyncio echo server's throughput with and without it.

The server (asyncio streams) runs in this process; a load client in another process keeps
several connections busy with 64-byte request/response round trips for a few seconds and
reports how many it completed. Runs with and without ``offload.monitor.watch()``
alternate, and the medians are compared (target: at most 3% throughput cost). A second
table shows the monitor's own CPU use on an idle loop, which load elsewhere barely moves.

    python bench/bench_monitor.py [--quick]
"""

from __future__ import annotations

import asyncio
import sys
import time

import offload
from _common import fmt_time, median, table

CONNECTIONS = 8
MESSAGE = b"x" * 64


async def client(port: int, seconds: float) -> None:
    done = 0
    end = time.perf_counter() + seconds

    async def one() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < end:
            writer.write(MESSAGE)
            await reader.readexactly(len(MESSAGE))
            done += 1
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(one() for _ in range(CONNECTIONS)))
    print(done)


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def load(port: int, seconds: float) -> int:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--client",
        str(port),
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    return int(out)


async def run(rounds: int, seconds: float) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    plain: list[float] = []
    watched: list[float] = []
    plain_cpu: list[float] = []
    watched_cpu: list[float] = []
    lag_p99: list[float] = []

    async def measure(rates: list[float], cpu: list[float]) -> None:
        cpu_start = time.process_time()  # this process, all threads: the watchdog too
        done = await load(port, seconds)
        cpu.append((time.process_time() - cpu_start) / done)
        rates.append(done / seconds)

    async with server:
        for i in range(rounds):
            for watch in (False, True) if i % 2 else (True, False):  # ABBA: no order bias
                if not watch:
                    await measure(plain, plain_cpu)
                    continue
                async with offload.monitor.watch(threshold=0.05, log=False) as m:
                    await measure(watched, watched_cpu)
                lag_p99.append(m.stats().lag_p99)
    base, base_cpu = median(plain), median(plain_cpu)
    # Ratios within each round, then the median: drifting load cancels out better.
    rate_ratio = median([w / p for w, p in zip(watched, plain, strict=True)])
    cpu_ratio = median([w / p for w, p in zip(watched_cpu, plain_cpu, strict=True)])
    rows = [
        ["no monitor", f"{base:,.0f}", "1.000x", fmt_time(base_cpu), "1.000x", ""],
        [
            "offload.monitor.watch()",
            f"{median(watched):,.0f}",
            f"{rate_ratio:.3f}x",
            fmt_time(median(watched_cpu)),
            f"{cpu_ratio:.3f}x",
            f"{median(lag_p99) * 1e3:.2f} ms",
        ],
    ]
    print(
        table(
            f"echo server, {CONNECTIONS} connections, 64-byte round trips "
            f"(medians of {rounds} rounds of {seconds:g} s runs, ratios taken within each "
            "round; target: throughput "
            ">= 0.97x; server CPU per round trip is the steadier measure on a busy machine)",
            [
                "server",
                "round trips/s",
                "vs no monitor",
                "server CPU per round trip",
                "vs no monitor",
                "lag p99 seen",
            ],
            rows,
        )
    )


async def idle_cost(seconds: float) -> None:
    """The monitor's own CPU use on an idle loop: ticks plus the watchdog thread."""
    rows = []
    for label, watching in (("idle loop", False), ("idle loop + monitor.watch()", True)):
        cpu_start = time.process_time()
        if watching:
            async with offload.monitor.watch(threshold=0.05, log=False):
                await asyncio.sleep(seconds)
        else:
            await asyncio.sleep(seconds)
        per_second = (time.process_time() - cpu_start) / seconds
        rows.append([label, f"{per_second * 1e6:,.0f} µs", f"{per_second * 100:.3f} %"])
    print(
        table(
            f"CPU time used per second of wall time, {seconds:g} s each",
            ["loop", "CPU per second", "of one core"],
            rows,
        )
    )


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        asyncio.run(client(int(sys.argv[2]), float(sys.argv[3])))
        return
    quick = "--quick" in sys.argv
    asyncio.run(run(rounds=4 if quick else 8, seconds=1.0 if quick else 1.5))
    asyncio.run(idle_cost(1.0 if quick else 3.0))


if __name__ == "__main__":
    main()
