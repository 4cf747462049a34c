"""Run the benchmarks: `python bench/run.py [NAME ...]` (all `bench_*.py` by default).

Each benchmark script runs offload side by side with the tools a user would pick instead,
in one process run, and prints Markdown tables with ratios. This runner runs them one
after the other (never in parallel: they would measure each other) and prints everything,
headed by the machine it ran on.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from _common import machine

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        wanted = {n.removeprefix("bench_").removesuffix(".py") for n in names}
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in wanted]
        missing = wanted - {s.stem.removeprefix("bench_") for s in scripts}
        if missing:
            known = ", ".join(s.stem.removeprefix("bench_") for s in HERE.glob("bench_*.py"))
            print(f"no such benchmark: {', '.join(sorted(missing))} (known: {known})")
            return 2
    print(f"# offload benchmarks\n\nmachine: {machine()}\n")
    status = 0
    for script in scripts:
        started = time.perf_counter()
        print(f"## {script.stem}\n", flush=True)
        done = subprocess.run([sys.executable, str(script)], cwd=HERE, check=False)
        print(f"({script.name}: {time.perf_counter() - started:.1f} s)\n", flush=True)
        status = status or done.returncode
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
