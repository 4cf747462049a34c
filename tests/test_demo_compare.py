"""`offload demo --compare`: one server per strategy under the same load, one table."""

from __future__ import annotations

import math

from rich.console import Console

from offload._cli._demo._compare import Outcome, compare, job_for_compare
from offload._cli._demo._subset_sum import matches


def test_percentiles_and_throughput_of_an_outcome() -> None:
    outcome = Outcome("process", [float(v) for v in range(1, 101)], jobs=6, seconds=3.0)
    assert outcome.percentile(0.5) == 51.0  # nearest rank of 100 values
    assert outcome.percentile(0.99) == 99.0
    assert outcome.percentile(1.0) == 100.0
    assert outcome.jobs_per_second == 2.0
    assert math.isnan(Outcome("blocking", [], jobs=0, seconds=1.0).percentile(0.5))


def test_the_compare_job_is_fixed_and_has_a_match() -> None:
    data, total = job_for_compare()
    assert (data, total) == job_for_compare()
    assert len(data) == 20
    assert next(matches(data[:11] + data[-1:], total), None) is not None


async def test_compare_prints_a_row_per_strategy_and_stops_every_server(no_leaks: None) -> None:
    console = Console(record=True, width=140)
    status = await compare(
        workers=1, jobs=1, duration=0.5, strategies=("blocking", "process"), console=console
    )
    assert status == 0
    text = console.export_text()
    assert "ping p99 ms" in text
    assert "jobs/s" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "ms" not in line]
    assert [row.split("|")[1].strip() for row in rows] == ["blocking", "process"]
    assert "1.0x" in text  # the process row is the reference of the ratio column
